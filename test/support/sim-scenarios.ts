/**
 * Scripted fault schedules and simulated clouds more than one simulator test uses.
 */
import { SimCloud } from '../../src/sim/cloud.js';
import type { ScheduledFault } from '../../src/sim/faults.js';
import { zoneNames } from '../../src/sim/run.js';

const MIN = 60_000;

/**
 * The scenario of e934ad4 (heal/roster): a voter killed; its replacement, cold, gets a learner and
 * is killed before its etcd starts, while the reconciler cannot reach etcd (so the learner stays);
 * then EC2 loses the warm pool's instance, and the pool's refill may get the dead replacement's
 * address (whether it does depends on the seed: the tests that need it assert it).
 */
export const UNSTARTED_LEARNER_FAULTS: readonly ScheduledFault[] = [
  { at: 10 * MIN, kind: 'kill', pick: 0 },
  { at: 10 * MIN + 20_000, kind: 'etcd-unreachable', durationMs: 6 * MIN, pick: 0 },
  { at: 10 * MIN + 35_000, kind: 'kill', pick: 2 },
  { at: 11 * MIN, kind: 'warm-pool-loss', pick: 0 },
];

/** A simulated cloud of three zones and three masters with a warm pool of `size` instances in `state`. */
export const pooledCloud = (seed: number, size: number, state: 'Stopped' | 'Running' = 'Stopped'): SimCloud =>
  new SimCloud({ seed, zones: zoneNames(3), masters: 3, warmPool: { size, state } });
