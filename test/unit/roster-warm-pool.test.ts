/**
 * A warm pool instance is never taken for a master's etcd member. AWS can give a new instance the
 * private IP of a terminated one (roster.ts: "the live one wins"), and a new pool instance is the
 * usual new instance after a lost master (the group takes a prepared one, the pool refills). An added
 * learner is tied to its instance by the peer URL only, so a pool instance that got the IP of a master
 * that died before its learner started must not become that learner's instance: the learner would
 * then be neither a stray (its instance lives) nor promotable (it never starts), and etcd's limit of
 * one learner would block every later join for as long as the instance waits in the pool.
 */
import { describe, expect, it } from 'vitest';
import type { Action } from '../../src/heal/actions.js';
import { decide } from '../../src/heal/decide.js';
import { buildRoster } from '../../src/heal/roster.js';
import { healthy, inst, ipOf, T0, testConfig, unstartedLearner } from '../support/fake-ports.js';

const NOW = T0 + 3_600_000;
const cfg = testConfig();
const only = <K extends Action['kind']>(as: Action[], kind: K) =>
  as.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);

/** Three healthy masters; the learner added for i-4, which died before starting etcd; pool instance i-9 got i-4's IP. */
function reusedIp() {
  const s = healthy(3);
  s.etcd.members.push(unstartedLearner(4));
  s.group.instances.push(
    inst(4, { lifecycleState: 'Terminated', apiReady: false, launchTime: NOW - 600_000 }),
    inst(9, {
      lifecycleState: 'Warmed:Stopped',
      privateIp: ipOf(4),
      apiReady: false,
      launchTime: NOW - 60_000,
    }),
  );
  return s;
}

describe('roster: warm pool instances', () => {
  it('the premise: the terminated master reports no address, as EC2 does; only the pool instance has its IP', () => {
    const s = reusedIp();
    const byId = (id: string) => s.group.instances.find((i) => i.instanceId === id)!;
    expect(byId('i-4').privateIp).toBeUndefined();
    expect(byId('i-9').privateIp).toBe(ipOf(4));
  });

  it('does not tie an unnamed learner to a pool instance that has its peer IP', () => {
    const s = reusedIp();
    const roster = buildRoster(s.group.instances, s.etcd.members, cfg);
    const learner = s.etcd.members.find((m) => m.id === 'm4')!;
    expect(roster.instanceOf(learner)?.instanceId).not.toBe('i-9');
    expect(roster.memberOf(s.group.instances.find((i) => i.instanceId === 'i-9')!)).toBeUndefined();
  });

  it('removes the stray learner whose only live look-alike is a pool instance, so the next master can join', () => {
    const s = reusedIp();
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'remove-member').map((a) => a.memberId)).toEqual(['m4']);
  });

  it('the same learner with no instance at all is removed the same way (the reference case)', () => {
    const s = reusedIp();
    s.group.instances = s.group.instances.filter((i) => i.instanceId !== 'i-9');
    const d = decide(s, cfg, NOW);
    expect(only(d.actions, 'remove-member').map((a) => a.memberId)).toEqual(['m4']);
  });
});
