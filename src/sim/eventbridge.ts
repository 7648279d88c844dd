/**
 * EventBridge: best-effort delivery of Auto Scaling lifecycle events and the nodes' `tripod.node`
 * events to the reconciler. Usually well under a second late (DELIVERY_MS); under faults an event
 * can be lost, delivered twice, delivered very late, and so arrive out of order.
 */
import type { Kernel } from './kernel.js';

/**
 * How late an event reaches the reconciler when nothing is wrong: most within TYPICAL, a share in
 * the TAIL. Published figures: the Amazon Key team measured 80 ms at p90 from PutEvents to their
 * targets across 14 million deliveries (AWS Architecture Blog, "Mastering millisecond latency and
 * millions of events", 2026-02-04); PostNL Engineering reported EventBridge's latency cut sharply
 * on 2023-02-17 ("Improved EventBridge Latency Opens Up New Use Cases at PostNL", 2023-02-20).
 * Auto Scaling's own emission of a lifecycle event and Lambda's asynchronous invoke queue add a
 * delay nobody publishes, so the model is several times slower than those figures: 100 ms to 1 s,
 * and one event in ten 1 to 3 s (the old model's whole range). Faults (`degrade`) add loss,
 * duplicates and much later deliveries on top.
 */
export const DELIVERY_MS = {
  typical: [100, 1_000] as const,
  tail: [1_000, 3_000] as const,
  tailShare: 0.1,
};

export interface BusEvent {
  source: string;
  detailType: string;
  instanceId: string;
  detail?: string;
}

export interface DeliveryFaults {
  until: number;
  loss: number;
  duplicate: number;
  /** Share of events delayed by up to `lateMs`. */
  late: number;
  lateMs: number;
}

export class EventBus {
  private faults: DeliveryFaults = { until: 0, loss: 0, duplicate: 0, late: 0, lateMs: 0 };
  readonly stats = { emitted: 0, delivered: 0, lost: 0, duplicated: 0 };
  /** The rule's target: the reconciler. */
  onDeliver: (e: BusEvent) => void = () => {};

  constructor(private readonly k: Kernel) {}

  degrade(f: Partial<DeliveryFaults> & { until: number }): void {
    this.faults = { ...this.faults, ...f, until: Math.max(this.faults.until, f.until) };
  }

  emit(e: BusEvent): void {
    this.stats.emitted++;
    const rng = this.k.rng;
    const now = this.k.now();
    const f = now < this.faults.until ? this.faults : undefined;
    const label = `${e.detailType} ${e.instanceId}`;
    if (f && rng.chance(f.loss)) {
      this.stats.lost++;
      this.k.log('events', `lost: ${label}`);
      return;
    }
    const copies = f && rng.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) {
      this.stats.duplicated++;
      this.k.log('events', `duplicated: ${label}`);
    }
    for (let c = 0; c < copies; c++) {
      const [lo, hi] = rng.chance(DELIVERY_MS.tailShare) ? DELIVERY_MS.tail : DELIVERY_MS.typical;
      let delay = rng.int(lo, hi);
      if (f && rng.chance(f.late)) delay += rng.int(0, f.lateMs);
      this.k.after(delay, () => {
        this.stats.delivered++;
        this.onDeliver(e);
      });
    }
  }
}
