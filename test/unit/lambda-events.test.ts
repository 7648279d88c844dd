import { describe, expect, it } from 'vitest';
import { parseTrigger } from '../../src/heal/events.js';
import {
  lifecycleEvent,
  memberStartedEvent,
  nodeReadyEvent,
  scheduledEvent,
  stateChangeEvent,
} from '../support/lambda-events.js';

describe('parseTrigger', () => {
  it('recognises a launching lifecycle action', () => {
    const t = parseTrigger(lifecycleEvent('launching', 'g-masters', 'i-0123456789abcdef0'));
    expect(t.kind).toBe('lifecycle');
    if (t.kind !== 'lifecycle') return;
    expect(t.hook).toBe('launching');
    expect(t.event.detail.AutoScalingGroupName).toBe('g-masters');
  });

  it('recognises a terminating lifecycle action', () => {
    const t = parseTrigger(lifecycleEvent('terminating', 'g-workers', 'i-0123456789abcdef0'));
    expect(t).toMatchObject({ kind: 'lifecycle', hook: 'terminating' });
  });

  it('recognises state changes, node ready and the schedule', () => {
    expect(parseTrigger(stateChangeEvent('i-0123456789abcdef0', 'terminated')).kind).toBe('state-change');
    expect(parseTrigger(nodeReadyEvent('c1', 'i-0123456789abcdef0')).kind).toBe('node-ready');
    expect(parseTrigger(scheduledEvent()).kind).toBe('schedule');
  });

  it('recognises a master\'s "Member Started" nudge, with or without its member id', () => {
    const t = parseTrigger(memberStartedEvent('c1', 'i-0123456789abcdef0', '10276657743932975437'));
    expect(t.kind).toBe('member-started');
    if (t.kind === 'member-started') expect(t.event.detail.memberId).toBe('10276657743932975437');
    expect(parseTrigger(memberStartedEvent('c1', 'i-0123456789abcdef0')).kind).toBe('member-started');
  });

  it('names the bad field of a malformed "Member Started" event', () => {
    const e = memberStartedEvent('c1', 'i-0123456789abcdef0', 'not-hex') as {
      detail: Record<string, unknown>;
    };
    const t = parseTrigger(e);
    expect(t.kind).toBe('ignored');
    if (t.kind === 'ignored')
      expect(t.reason).toMatch(/"Member Started".*detail\.memberId: an etcd member id \(decimal\)/);
    const noCluster = memberStartedEvent('', 'i-0123456789abcdef0');
    expect(parseTrigger(noCluster)).toMatchObject({
      kind: 'ignored',
      reason: expect.stringMatching(/detail\.cluster/),
    });
    expect(parseTrigger({ ...memberStartedEvent('c1', 'i-0123456789abcdef0'), source: 'evil' }).kind).toBe(
      'ignored',
    );
  });

  it('ignores a lifecycle event whose transition contradicts its detail-type', () => {
    const e = lifecycleEvent('launching', 'g', 'i-0123456789abcdef0');
    e.detail.LifecycleTransition = 'autoscaling:EC2_INSTANCE_TERMINATING';
    const t = parseTrigger(e);
    expect(t.kind).toBe('ignored');
    if (t.kind === 'ignored') expect(t.reason).toMatch(/LifecycleTransition/);
  });

  it('names the bad field of a malformed event', () => {
    const e = lifecycleEvent('launching', 'g', 'i-0123456789abcdef0') as unknown as {
      detail: Record<string, unknown>;
    };
    e.detail.EC2InstanceId = 'not-an-instance';
    const t = parseTrigger(e);
    expect(t).toMatchObject({ kind: 'ignored' });
    if (t.kind === 'ignored') expect(t.reason).toMatch(/detail\.EC2InstanceId: an EC2 instance id/);
  });

  it('ignores foreign and non-EventBridge input', () => {
    const foreign = { ...scheduledEvent(), source: 'aws.s3', 'detail-type': 'Object Created' };
    expect(parseTrigger(foreign)).toMatchObject({
      kind: 'ignored',
      reason: expect.stringMatching(/aws\.s3/),
    });
    expect(parseTrigger({ hello: 'world' })).toMatchObject({ kind: 'ignored' });
    expect(parseTrigger(null)).toMatchObject({ kind: 'ignored' });
    // A node event pretending to come from another source is not ours.
    expect(parseTrigger({ ...nodeReadyEvent('c1', 'i-0123456789abcdef0'), source: 'evil' }).kind).toBe(
      'ignored',
    );
  });
});
