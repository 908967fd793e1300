/**
 * Transaction-record bookkeeping: which records wait for confirmation, which trade numbers were
 * already confirmed (to recognise the pile's resends), and a journal so both survive a restart.
 * A record is never acknowledged before the flow says it is stored (mode "after-store").
 */
import * as fs from 'fs';
import * as path from 'path';

export interface PendingRecord {
  tradeNo: string;
  pileNo: string;
  /** Sequence value of the latest copy received: the 0x40 answers that copy. */
  seq: number;
  type: number;
  receivedAt: number;
  resends: number;
  timer: NodeJS.Timeout | null;
}

export interface JournalState {
  /** Records handed to the flow but not confirmed: a resend after a restart is flagged `resend`. */
  unconfirmed: Array<{ tradeNo: string; pileNo: string; receivedAt: number }>;
  /** Recently confirmed trade numbers with the result sent (0 received, 1 illegal). */
  confirmed: Array<[string, number]>;
}

export interface RecordJournal {
  load(): JournalState | null;
  save(state: JournalState): void;
  /** Writes anything not yet on disk. */
  flush(): void;
  /**
   * Told when a write fails (disk full, directory not writable). The state stays in memory and is
   * written with the next change or at close; a journal never throws into the gateway's event loop.
   */
  onError?: (err: Error) => void;
}

/** A JSON file written atomically (temp file + rename), at most every `debounceMs`. */
export class FileJournal implements RecordJournal {
  onError?: (err: Error) => void;
  private timer: NodeJS.Timeout | null = null;
  private latest: JournalState | null = null;

  constructor(
    readonly file: string,
    private readonly debounceMs = 100,
  ) {}

  load(): JournalState | null {
    try {
      const j = JSON.parse(fs.readFileSync(this.file, 'utf8')) as JournalState;
      if (!Array.isArray(j.unconfirmed) || !Array.isArray(j.confirmed)) return null;
      return j;
    } catch {
      return null;
    }
  }

  save(state: JournalState): void {
    this.latest = state;
    if (this.debounceMs <= 0) {
      this.tryFlush();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => this.tryFlush(), this.debounceMs);
      this.timer.unref?.();
    }
  }

  /** flush() from a timer or an event handler: an exception there would end the whole process. */
  private tryFlush(): void {
    try {
      this.flush();
    } catch (e) {
      this.onError?.(e instanceof Error ? e : new Error(String(e)));
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.latest) return;
    const state = this.latest;
    this.latest = null;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.writeFileSync(tmp, JSON.stringify(state));
      fs.renameSync(tmp, this.file);
    } catch (e) {
      // Keep it for the next attempt unless something newer is already waiting.
      this.latest ??= state;
      try {
        fs.unlinkSync(tmp);
      } catch {
        /* no temp file was written */
      }
      throw e;
    }
  }
}

export type Arrival = 'new' | 'resend-pending' | 'resend-confirmed' | 'resend-unconfirmed';

export class RecordBook {
  readonly pending = new Map<string, PendingRecord>();
  private readonly confirmed = new Map<string, number>();
  /** Emitted before (a restart, or a hold that timed out) and never confirmed. */
  private readonly unconfirmed = new Map<string, { pileNo: string; receivedAt: number }>();

  constructor(
    private readonly memory: number,
    private readonly journal?: RecordJournal,
  ) {
    const state = journal?.load();
    if (state) {
      for (const u of state.unconfirmed.slice(-memory)) this.unconfirmed.set(u.tradeNo, { pileNo: u.pileNo, receivedAt: u.receivedAt });
      for (const [t, r] of state.confirmed.slice(-memory)) this.confirmed.set(t, r);
    }
  }

  /** How a 0x3B/0x3D copy relates to what we know. Does not change state. */
  classify(tradeNo: string): Arrival {
    if (this.confirmed.has(tradeNo)) return 'resend-confirmed';
    if (this.pending.has(tradeNo)) return 'resend-pending';
    if (this.unconfirmed.has(tradeNo)) return 'resend-unconfirmed';
    return 'new';
  }

  confirmedResult(tradeNo: string): number | undefined {
    return this.confirmed.get(tradeNo);
  }

  hold(rec: PendingRecord): void {
    this.pending.set(rec.tradeNo, rec);
    this.unconfirmed.delete(rec.tradeNo);
    this.unconfirmed.set(rec.tradeNo, { pileNo: rec.pileNo, receivedAt: rec.receivedAt });
    // Bounded like the confirmed set: a flow that never confirms must not grow the journal forever.
    // Forgetting the oldest only costs a very late resend its 'resend-unconfirmed' flag.
    while (this.unconfirmed.size > this.memory) this.unconfirmed.delete(this.unconfirmed.keys().next().value as string);
    this.persist();
  }

  /** The hold expired: forget the copy but remember it was handed to the flow. */
  expire(tradeNo: string): PendingRecord | undefined {
    const p = this.pending.get(tradeNo);
    if (!p) return undefined;
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(tradeNo);
    return p;
  }

  markConfirmed(tradeNo: string, result: number): PendingRecord | undefined {
    const p = this.pending.get(tradeNo);
    if (p?.timer) clearTimeout(p.timer);
    this.pending.delete(tradeNo);
    this.unconfirmed.delete(tradeNo);
    this.confirmed.delete(tradeNo);
    this.confirmed.set(tradeNo, result);
    while (this.confirmed.size > this.memory) this.confirmed.delete(this.confirmed.keys().next().value as string);
    this.persist();
    return p;
  }

  unconfirmedPile(tradeNo: string): string | undefined {
    return this.unconfirmed.get(tradeNo)?.pileNo;
  }

  stats(): { pending: number; confirmedMemory: number; unconfirmed: number } {
    return { pending: this.pending.size, confirmedMemory: this.confirmed.size, unconfirmed: this.unconfirmed.size };
  }

  close(): void {
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    this.pending.clear();
    this.guard(() => this.journal?.flush());
  }

  private persist(): void {
    if (!this.journal) return;
    const state: JournalState = {
      unconfirmed: [...this.unconfirmed].map(([tradeNo, u]) => ({ tradeNo, pileNo: u.pileNo, receivedAt: u.receivedAt })),
      confirmed: [...this.confirmed],
    };
    this.guard(() => this.journal!.save(state));
  }

  /** Journal trouble is reported, never thrown: it runs inside socket handlers and close(). */
  private guard(write: () => void): void {
    try {
      write();
    } catch (e) {
      this.journal?.onError?.(e instanceof Error ? e : new Error(String(e)));
    }
  }
}
