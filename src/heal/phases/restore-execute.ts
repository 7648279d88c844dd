/**
 * Executes the restore phase's one action of its own: removing the restore record, only when it is
 * still the record the pass decided on (a restore requested meanwhile is never removed).
 */

import { restoreParameter } from '../../contract/protocol.js';
import type { Action, ActionResult } from '../actions.js';
import type { HealPorts } from '../ports.js';

export async function clearRestore(
  ports: Pick<HealPorts, 'parameters'>,
  cluster: string,
  a: Extract<Action, { kind: 'clear-restore' }>,
): Promise<ActionResult> {
  const name = restoreParameter(cluster);
  const text = await ports.parameters.get(name);
  if (text === undefined) return { action: a, outcome: 'ok', detail: 'already removed' };
  let requestedAt: unknown;
  try {
    requestedAt = (JSON.parse(text) as { requestedAt?: unknown }).requestedAt;
  } catch {
    /* unreadable: not the record the pass decided on */
  }
  if (requestedAt !== a.requestedAt) {
    return { action: a, outcome: 'skipped', reason: `the record changed (now ${String(requestedAt)})` };
  }
  await ports.parameters.delete(name);
  return { action: a, outcome: 'ok', detail: `removed ${name}` };
}
