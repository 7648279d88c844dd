/**
 * The executor's order: what keeps a lifecycle hook from its default result runs first, so an
 * invocation that dies between two calls (a crash, the timeout) has done those.
 */
import { describe, expect, it } from 'vitest';
import type { Action } from '../../src/heal/actions.js';
import { executionOrder } from '../../src/heal/execute.js';

describe('executionOrder', () => {
  it("completes a voter's launch (CONTINUE) before registering its target (simulate --seed 1099 --masters 7)", () => {
    const actions: Action[] = [
      { kind: 'register-target', instanceId: 'i-3', reason: 'its etcd member votes and its API is ready' },
      {
        kind: 'complete-lifecycle',
        instanceId: 'i-3',
        hook: 'launching',
        result: 'CONTINUE',
        reason: 'ready',
      },
      {
        kind: 'complete-lifecycle',
        instanceId: 'i-5',
        hook: 'launching',
        result: 'ABANDON',
        reason: 'failed',
      },
      { kind: 'heartbeat-lifecycle', instanceId: 'i-4', hook: 'launching', reason: 'waiting to join' },
    ];
    expect(executionOrder(actions).map((a) => `${a.kind} ${'instanceId' in a ? a.instanceId : ''}`)).toEqual([
      'complete-lifecycle i-3',
      'heartbeat-lifecycle i-4',
      'register-target i-3',
      'complete-lifecycle i-5',
    ]);
  });
});
