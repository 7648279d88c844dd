/**
 * EventBridge: best-effort delivery of Auto Scaling lifecycle events and the nodes' `tripod.node`
 * events to the reconciler. Usually a second or two late; under faults an event can be lost,
 * delivered twice, delivered very late, and so arrive out of order.
 */
import type { Kernel } from './kernel.js';

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
      let delay = rng.int(300, 3_000);
      if (f && rng.chance(f.late)) delay += rng.int(0, f.lateMs);
      this.k.after(delay, () => {
        this.stats.delivered++;
        this.onDeliver(e);
      });
    }
  }
}
