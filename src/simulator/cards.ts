/**
 * The pile's offline-card list (0x44 sync / 0x46 clear / 0x48 query, docs/protocol.md §8.7): cards it
 * may authorise by itself while the link is down. Keys are the physical card number as 16 hex
 * digits (the decoded form of the 8-byte field).
 */

export type CardSyncResult = { result: 0 | 1; failReason: 0 | 1 | 2 };

const ZERO = '0000000000000000';

/** Normalises a physical card number: hex, left-padded to 16 digits, upper case; null if malformed. */
export function normCard(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.replace(/\s+/g, '').toUpperCase();
  if (!/^[0-9A-F]{1,16}$/.test(s)) return null;
  return s.padStart(16, '0');
}

export class OfflineCardStore {
  private readonly cards = new Map<string, string>();

  constructor(readonly capacity = 1000) {}

  get size(): number {
    return this.cards.size;
  }

  /** Stores or overwrites a batch; all or nothing, as one 0x43 answers the whole batch. */
  sync(list: ReadonlyArray<{ logicalCardNo?: unknown; physicalCardNo?: unknown }>): CardSyncResult {
    const norm: [string, string][] = [];
    for (const c of list) {
      const p = normCard(c.physicalCardNo);
      const l = typeof c.logicalCardNo === 'string' && /^\d{1,16}$/.test(c.logicalCardNo) ? c.logicalCardNo.padStart(16, '0') : null;
      if (!p || p === ZERO || !l) return { result: 0, failReason: 1 };
      norm.push([p, l]);
    }
    const added = norm.filter(([p]) => !this.cards.has(p)).length;
    if (this.cards.size + added > this.capacity) return { result: 0, failReason: 2 };
    for (const [p, l] of norm) this.cards.set(p, l);
    return { result: 1, failReason: 0 };
  }

  /** Deletes one card; returns the 0x45 item (cleared flag, reason). Deleting an absent card succeeds. */
  clear(physical: unknown): { physicalCardNo: string; result: 0 | 1; failReason: 0 | 1 } {
    const p = normCard(physical);
    if (!p || p === ZERO) return { physicalCardNo: typeof physical === 'string' ? physical : ZERO, result: 0, failReason: 1 };
    this.cards.delete(p);
    return { physicalCardNo: p, result: 1, failReason: 0 };
  }

  has(physical: unknown): boolean {
    const p = normCard(physical);
    return !!p && this.cards.has(p);
  }

  logicalOf(physical: unknown): string | undefined {
    const p = normCard(physical);
    return p ? this.cards.get(p) : undefined;
  }

  list(): { logicalCardNo: string; physicalCardNo: string }[] {
    return [...this.cards].map(([physicalCardNo, logicalCardNo]) => ({ logicalCardNo, physicalCardNo }));
  }
}
