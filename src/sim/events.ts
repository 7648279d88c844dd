/**
 * The event queue: a binary min-heap of timed events. Ties on time are broken by insertion order,
 * so two events scheduled for the same instant always run in the order they were scheduled.
 */
export interface TimedEvent<T> {
  at: number;
  seq: number;
  value: T;
}

export class EventQueue<T> {
  private heap: TimedEvent<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, value: T): void {
    const e = { at, seq: this.seq++, value };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p] as TimedEvent<T>)) break;
      h[i] = h[p] as TimedEvent<T>;
      i = p;
    }
    h[i] = e;
  }

  peek(): TimedEvent<T> | undefined {
    return this.heap[0];
  }

  pop(): TimedEvent<T> | undefined {
    const h = this.heap;
    const top = h[0];
    if (!top) return undefined;
    const last = h.pop() as TimedEvent<T>;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let best = last;
        if (l < n && before(h[l] as TimedEvent<T>, best)) {
          m = l;
          best = h[l] as TimedEvent<T>;
        }
        if (r < n && before(h[r] as TimedEvent<T>, best)) {
          m = r;
        }
        if (m === i) break;
        h[i] = h[m] as TimedEvent<T>;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}

function before<T>(a: TimedEvent<T>, b: TimedEvent<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
