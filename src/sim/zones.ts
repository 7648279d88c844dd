/**
 * Availability zones and the network between them: a zone can fail (everything in it stops
 * answering) and recover, and a zone can be partitioned from the others (it still runs, but talks
 * only to itself). The reconciler runs in the healthy, connected part of the VPC.
 */
export class Zones {
  private readonly down = new Map<string, number>();
  private readonly partitioned = new Set<string>();

  constructor(readonly names: readonly string[]) {}

  isUp(zone: string): boolean {
    return !this.down.has(zone);
  }

  /** Epoch ms since the zone has been down, or undefined. */
  downSince(zone: string): number | undefined {
    return this.down.get(zone);
  }

  isPartitioned(zone: string): boolean {
    return this.partitioned.has(zone);
  }

  fail(zone: string, now: number): void {
    if (!this.down.has(zone)) this.down.set(zone, now);
  }

  recover(zone: string): void {
    this.down.delete(zone);
  }

  partition(zone: string): void {
    this.partitioned.add(zone);
  }

  heal(zone: string): void {
    this.partitioned.delete(zone);
  }

  /** Zones that accept launches. */
  available(): string[] {
    return this.names.filter((z) => this.isUp(z));
  }

  /** Can something in zone `a` reach something in zone `b`? */
  connected(a: string, b: string): boolean {
    if (!this.isUp(a) || !this.isUp(b)) return false;
    if (a === b) return true;
    return !this.partitioned.has(a) && !this.partitioned.has(b);
  }

  /** Can the reconciler (a VPC Lambda in the connected part of the network) reach zone `z`? */
  reachableFromReconciler(z: string): boolean {
    return this.isUp(z) && !this.partitioned.has(z);
  }

  faultsActive(): boolean {
    return this.down.size > 0 || this.partitioned.size > 0;
  }
}
