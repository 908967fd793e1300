/** A small seeded PRNG (mulberry32), so a simulated fleet behaves the same on every run with one seed. */
export class Random {
  private s: number;

  constructor(seed = 1) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** ms × (1 ± fraction), for retry and reconnect jitter. */
  jitter(ms: number, fraction = 0.2): number {
    return Math.max(0, Math.round(ms * (1 + (this.next() * 2 - 1) * fraction)));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}
