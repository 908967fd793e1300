/**
 * Transaction-record bookkeeping: which records wait for the flow's confirmation, which were
 * confirmed (to recognise the pile's resends), and a journal so both survive a restart.
 * A record is never acknowledged before the flow says it is stored (mode "after-store").
 *
 * A record is identified by the pile of the session that sent it, its trade number, and a digest
 * of its body bytes (docs/records.md "Which copies are the same record"): a pile's resend changes
 * only the sequence bytes (and so the CRC), so an exact resend has the same digest, while another
 * session under a reused or all-zero trade number, or another pile's record, does not.
 */
import { createHash } from 'crypto';
import { BoundedMap } from './bounded-map';
import { FileJournal, JournalEntry, journalLine, RecordJournal } from './journal';
import { isTransactionRecordType } from '../protocol';

export { FileJournal };
export type { JournalEntry, JournalLoad, RecordJournal } from './journal';

/** Frame types that carry a transaction record answered by 0x40: 0x3B, 0x3D (1.7), 0x3F (1.4), 0x39 (1.2–1.3). */
export function isRecordType(type: number): boolean {
  return isTransactionRecordType(type);
}

/**
 * The record's content identity: a digest of the body bytes of the frame (between the type byte
 * and the CRC). Sequence bytes, encryption flag and CRC are outside it, so resends share it.
 */
export function recordDigest(frame: Buffer): string {
  return createHash('sha1').update(frame.subarray(6, frame.length - 2)).digest('hex').slice(0, 16);
}

/** Matches any content: a confirmation given for a (pile, trade number) whose copy the gateway never saw. */
export const ANY_CONTENT = '*';

export interface RecordRef {
  /** The pile of the session the record came from (never the number written in the body). */
  pileNo: string;
  tradeNo: string;
  /** recordDigest() of the body, or ANY_CONTENT. */
  id: string;
}

export interface PendingRecord extends RecordRef {
  /** Sequence value of the latest copy received: the 0x40 answers that copy. */
  seq: number;
  type: number;
  receivedAt: number;
  resends: number;
  timer: NodeJS.Timeout | null;
}

export type Arrival = 'new' | 'resend-pending' | 'resend-confirmed' | 'resend-unconfirmed';

const keyOf = (r: RecordRef): string => `${r.pileNo}/${r.tradeNo}/${r.id}`;
function refOf(key: string): RecordRef {
  const [pileNo, tradeNo, id] = key.split('/');
  return { pileNo, tradeNo, id };
}

export class RecordBook {
  private readonly held = new Map<string, PendingRecord>();
  /** Held keys by trade number: confirmations that name no pile or no content find their record without a scan. */
  private readonly heldByTrade = new Map<string, Set<string>>();
  private readonly heldPerPile = new Map<string, number>();
  /**
   * Result sent (0 received, 1 illegal), by record key, with its journal line (kept, so a rewrite
   * joins strings instead of serialising the state again); the oldest forgotten beyond `memory`.
   */
  private readonly confirmed: BoundedMap<{ r: number; line: string }>;
  /**
   * Emitted before (a restart, or a hold that timed out) and never confirmed: key → its journal line.
   * Bounded like the confirmed set: a flow that never confirms must not grow the journal forever.
   * Forgetting the oldest only costs a very late resend its 'resend-unconfirmed' flag.
   */
  private readonly unconfirmed: BoundedMap<string>;
  /**
   * Trade numbers from a journal of the earlier format, which kept no pile or content: a copy
   * matching one is flagged `resend-unconfirmed` and handed to the flow (stored idempotently), never
   * absorbed, so an identity the old format cannot tell apart never costs a record.
   */
  private readonly legacy = new Map<string, string | null>();
  /** What went wrong reading the journal, for the server to report once someone listens. */
  readonly loadProblems: Array<{ message: string; details: Record<string, unknown> }> = [];

  constructor(
    private readonly memory: number,
    private readonly journal?: RecordJournal,
  ) {
    this.confirmed = new BoundedMap(memory);
    this.unconfirmed = new BoundedMap(memory);
    if (!journal) return;
    const loaded = this.guard(() => journal.load());
    if (!loaded) return;
    this.loadProblems.push(...loaded.problems);
    for (const e of loaded.entries) this.replay(e);
    // Start from a clean file holding exactly what was read: a truncated last line must not be
    // continued by the next append, and the old format is rewritten once.
    if (loaded.entries.length || loaded.problems.length) this.guard(() => journal.compact(this.snapshot()));
  }

  /**
   * How a 0x3B/0x3D copy relates to what we know. Does not change state. A confirmation for any
   * content (given for a record the gateway never saw) absorbs no copy: it cannot tell the pile's
   * resend from its next session under a reused or all-zero trade number, and a wrong guess would
   * acknowledge a record no flow ever saw. Such a copy reaches the flow (store idempotently).
   */
  classify(ref: RecordRef): Arrival {
    const key = keyOf(ref);
    if (this.confirmed.has(key)) return 'resend-confirmed';
    if (this.held.has(key)) return 'resend-pending';
    if (this.unconfirmed.has(key)) return 'resend-unconfirmed';
    const legacyPile = this.legacy.get(ref.tradeNo);
    if (legacyPile !== undefined && (legacyPile === null || legacyPile === ref.pileNo)) return 'resend-unconfirmed';
    return 'new';
  }

  /** The result this exact record was confirmed with. */
  confirmedResult(ref: RecordRef): number | undefined {
    return this.confirmed.get(keyOf(ref))?.r;
  }

  heldRecord(ref: RecordRef): PendingRecord | undefined {
    return this.held.get(keyOf(ref));
  }

  heldCount(pileNo?: string): number {
    return pileNo === undefined ? this.held.size : (this.heldPerPile.get(pileNo) ?? 0);
  }

  /**
   * Held records with this trade number, oldest first, narrowed to a pile and a content id when
   * given. Several piles can hold the same trade number: callers that name no pile must check.
   */
  findHeld(tradeNo: string, pileNo?: string, id?: string): PendingRecord[] {
    const keys = this.heldByTrade.get(tradeNo);
    if (!keys) return [];
    const out: PendingRecord[] = [];
    for (const k of keys) {
      const p = this.held.get(k)!;
      if ((pileNo === undefined || p.pileNo === pileNo) && (id === undefined || p.id === id)) out.push(p);
    }
    return out;
  }

  /** Records handed to the flow, no longer held and not confirmed, with this trade number (a scan: only for late confirmations). */
  findUnconfirmed(tradeNo: string, pileNo?: string, id?: string): RecordRef[] {
    if (pileNo !== undefined && id !== undefined) {
      // The whole identity (what ykc-confirm passes): a lookup, not a scan.
      const ref = { pileNo, tradeNo, id };
      const k = keyOf(ref);
      return this.unconfirmed.has(k) && !this.held.has(k) ? [ref] : [];
    }
    const out: RecordRef[] = [];
    for (const k of this.unconfirmed.keys()) {
      const r = refOf(k);
      if (r.tradeNo === tradeNo && (pileNo === undefined || r.pileNo === pileNo) && (id === undefined || r.id === id) && !this.held.has(k)) out.push(r);
    }
    return out;
  }

  /** Confirmed entries with this trade number (a scan: only when nothing is held for it). */
  findConfirmed(tradeNo: string, pileNo?: string, id?: string): Array<RecordRef & { result: number }> {
    if (pileNo !== undefined && id !== undefined) {
      const out: Array<RecordRef & { result: number }> = [];
      for (const ref of [{ pileNo, tradeNo, id }, { pileNo, tradeNo, id: ANY_CONTENT }]) {
        const c = this.confirmed.get(keyOf(ref));
        if (c) out.push({ ...ref, result: c.r });
      }
      return out;
    }
    const out: Array<RecordRef & { result: number }> = [];
    for (const [k, { r: result }] of this.confirmed.entries()) {
      const r = refOf(k);
      if (r.tradeNo === tradeNo && (pileNo === undefined || r.pileNo === pileNo) && (id === undefined || r.id === id || r.id === ANY_CONTENT)) out.push({ ...r, result });
    }
    return out;
  }

  hold(rec: PendingRecord): void {
    const key = keyOf(rec);
    this.held.set(key, rec);
    let byTrade = this.heldByTrade.get(rec.tradeNo);
    if (!byTrade) this.heldByTrade.set(rec.tradeNo, (byTrade = new Set()));
    byTrade.add(key);
    this.heldPerPile.set(rec.pileNo, (this.heldPerPile.get(rec.pileNo) ?? 0) + 1);
    const line = journalLine({ k: 'h', p: rec.pileNo, t: rec.tradeNo, i: rec.id, a: rec.receivedAt });
    this.unconfirmed.set(key, line);
    this.append(line, false);
  }

  /** The hold expired: forget the copy but remember it was handed to the flow. */
  expire(ref: RecordRef): PendingRecord | undefined {
    return this.release(keyOf(ref));
  }

  /**
   * Remembers a confirmation; with `durable` it is on disk (fsync) when this returns true.
   * Returns the held copy it released, if any.
   */
  markConfirmed(ref: RecordRef, result: number, durable = true): { record: PendingRecord | undefined; durable: boolean } {
    const key = keyOf(ref);
    const record = this.release(key);
    this.unconfirmed.delete(key);
    const line = journalLine({ k: 'c', p: ref.pileNo, t: ref.tradeNo, i: ref.id, r: result });
    this.confirmed.set(key, { r: result, line });
    if (ref.id === ANY_CONTENT || (this.legacy.get(ref.tradeNo) ?? ref.pileNo) === ref.pileNo) this.legacy.delete(ref.tradeNo);
    const ok = this.append(line, durable);
    return { record, durable: ok && !!this.journal };
  }

  stats(): { pending: number; confirmedMemory: number; unconfirmed: number } {
    return { pending: this.held.size, confirmedMemory: this.confirmed.size, unconfirmed: this.unconfirmed.size };
  }

  close(): void {
    for (const p of this.held.values()) if (p.timer) clearTimeout(p.timer);
    this.held.clear();
    this.heldByTrade.clear();
    this.heldPerPile.clear();
    this.guard(() => this.journal?.close());
  }

  /** Everything the journal must keep, in the order it happened, as its lines. */
  private snapshot(): string[] {
    const out: string[] = [];
    for (const [t, p] of this.legacy) out.push(journalLine({ k: 'l', t, p }));
    for (const [, line] of this.unconfirmed.entries()) out.push(line);
    for (const [, { line }] of this.confirmed.entries()) out.push(line);
    return out;
  }

  private replay(e: JournalEntry): void {
    if (e.k === 'l') {
      this.legacy.set(e.t, e.p);
      while (this.legacy.size > this.memory) this.legacy.delete(this.legacy.keys().next().value as string);
      return;
    }
    const key = keyOf({ pileNo: e.p, tradeNo: e.t, id: e.i });
    if (e.k === 'h') {
      if (this.confirmed.has(key)) return;
      this.unconfirmed.set(key, journalLine(e));
    } else {
      this.unconfirmed.delete(key);
      this.confirmed.set(key, { r: e.r, line: journalLine(e) });
    }
  }

  private release(key: string): PendingRecord | undefined {
    const p = this.held.get(key);
    if (!p) return undefined;
    if (p.timer) clearTimeout(p.timer);
    this.held.delete(key);
    const byTrade = this.heldByTrade.get(p.tradeNo);
    byTrade?.delete(key);
    if (byTrade && byTrade.size === 0) this.heldByTrade.delete(p.tradeNo);
    const n = (this.heldPerPile.get(p.pileNo) ?? 1) - 1;
    if (n > 0) this.heldPerPile.set(p.pileNo, n);
    else this.heldPerPile.delete(p.pileNo);
    return p;
  }

  /** Appends one entry (O(1)); now and then the log is rewritten from the live state. False when not written. */
  private append(line: string, durable: boolean): boolean {
    const j = this.journal;
    if (!j) return false;
    const ok = this.guard(() => {
      j.append(line, durable);
      return true;
    });
    if (!j.wantsCompaction(this.unconfirmed.size + this.confirmed.size + this.legacy.size)) return ok === true;
    // Also after a failed write: the whole state, this entry included, is written (and fsync'ed) afresh.
    return (
      this.guard(() => {
        j.compact(this.snapshot());
        return true;
      }) === true
    );
  }

  /** Journal trouble is reported, never thrown: it runs inside socket handlers and close(). */
  private guard<T>(work: () => T): T | undefined {
    try {
      return work();
    } catch (e) {
      this.journal?.onError?.(e instanceof Error ? e : new Error(String(e)));
      return undefined;
    }
  }
}
