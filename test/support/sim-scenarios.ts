/**
 * Scripted fault schedules more than one simulator test runs.
 */
import type { ScheduledFault } from '../../src/sim/faults.js';

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
