/**
 * Slots per client address, up to a maximum (0: no maximum): open
 * connections, or requests still being read, from one address.
 */
export class AddressCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes a slot for the address, or returns false when it has none left. */
  acquire(address: string): boolean {
    const n = this.counts.get(address) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.counts.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.counts.get(address) ?? 1) - 1;
    if (n <= 0) this.counts.delete(address);
    else this.counts.set(address, n);
  }
}
