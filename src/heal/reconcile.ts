/**
 * One reconcile pass: observe -> decide -> execute -> publish status. The single entry point the
 * Lambda and the simulator both call, through the same ports.
 */

import { statusParameter } from '../contract/protocol.js';
import type { ActionResult } from './actions.js';
import type { ReconcilerConfig } from './config.js';
import { decide } from './decide.js';
import type { Decision } from './decision.js';
import { type ExecuteOptions, execute } from './execute.js';
import { observe } from './observe.js';
import type { ObservedState } from './observed.js';
import type { HealPorts } from './ports.js';
import { buildStatus, type StatusDocument, serializeStatus } from './status.js';

export interface PassResult {
  observed: ObservedState;
  decision: Decision;
  results: ActionResult[];
  status: StatusDocument;
  /** The status could not be published (the pass itself still ran). */
  statusError?: string;
  /** Node signals the pass did not count (a forged `boot-failed/<id>`), for the log. */
  ignoredSignals: string[];
}

export async function reconcilePass(
  ports: HealPorts,
  config: ReconcilerConfig,
  options: ExecuteOptions = {},
): Promise<PassResult> {
  const { observed, previous, ignoredSignals } = await observe(ports, config);
  const now = ports.clock.now();
  const decision = decide(observed, config, now);
  const results = await execute(decision.actions, ports, config, observed, options);
  const status = buildStatus(observed, decision, results, now, previous);
  try {
    await ports.parameters.put(statusParameter(config.cluster), serializeStatus(status));
    return { observed, decision, results, status, ignoredSignals };
  } catch (e) {
    const statusError = e instanceof Error ? e.message : String(e);
    return { observed, decision, results, status, statusError, ignoredSignals };
  }
}
