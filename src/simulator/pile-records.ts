/**
 * The virtual pile's finished transaction records (0x3B) until the platform confirms them with 0x40:
 * the store and its resends (docs/protocol.md §8.6). Records made while the link is down wait here and
 * go out at the next login.
 */
import { Body } from '../protocol';
import { TimerSet } from './clock';
import { PileRecordEvent, PileStats, PileTiming } from './pile-types';

interface PendingRecord {
  tradeNo: string;
  body: Body;
  attempts: number;
}

/** What the record store needs from its pile. */
export interface RecordHost {
  readonly timers: TimerSet;
  readonly timing: PileTiming;
  readonly stats: PileStats;
  /** A new record may go out at once (online, not silent, records not held). */
  ready(): boolean;
  /** Sends the 0x3B if the pile may now (online, records not held, not silent); false if it did not. */
  send(body: Body): boolean;
  emit(e: PileRecordEvent): void;
}

export class RecordQueue {
  private readonly records = new Map<string, PendingRecord>();

  constructor(private readonly host: RecordHost) {}

  /** Records not yet confirmed by 0x40. */
  get size(): number {
    return this.records.size;
  }

  /** Bodies of the records not yet confirmed, in decoded-frame shape. */
  bodies(): Body[] {
    return [...this.records.values()].map((r) => r.body);
  }

  queue(body: Body): void {
    const r: PendingRecord = { tradeNo: String(body.tradeNo), body, attempts: 0 };
    this.records.set(r.tradeNo, r);
    if (this.host.ready()) this.deliver(r);
    else this.host.emit({ event: 'stored', tradeNo: r.tradeNo, attempt: 0, body });
  }

  /** After login: every waiting record goes (again), its resend count going on. */
  deliverAll(): void {
    for (const r of [...this.records.values()]) this.deliver(r);
  }

  /** The holdRecords fault was cleared: the records held back go out now. */
  deliverUnsent(): void {
    for (const r of [...this.records.values()]) if (r.attempts === 0) this.deliver(r);
  }

  /** 0x40 from the platform. */
  onAck(b: Body): void {
    const r = this.records.get(String(b.tradeNo));
    if (!r) return;
    this.records.delete(r.tradeNo);
    this.host.timers.clear(`rec:${r.tradeNo}`);
    const ok = b.result === 0;
    if (ok) this.host.stats.recordsConfirmed++;
    else this.host.stats.recordsRefused++;
    this.host.emit({ event: ok ? 'confirmed' : 'refused', tradeNo: r.tradeNo, attempt: r.attempts, body: r.body });
  }

  /** Sends the record, then resends 3 × 30 s and once more 5 min later until 0x40 (§8.6). */
  private deliver(r: PendingRecord): void {
    if (!this.records.has(r.tradeNo)) return;
    const { timers, timing, stats } = this.host;
    const max = timing.recordRetries + 2;
    if (this.host.send(r.body)) {
      r.attempts++;
      stats.recordsSent++;
      this.host.emit({ event: 'sent', tradeNo: r.tradeNo, attempt: r.attempts, body: r.body });
    }
    if (r.attempts >= max) {
      timers.set(`rec:${r.tradeNo}`, timing.recordRetryMs, () => {
        if (!this.records.has(r.tradeNo)) return;
        this.records.delete(r.tradeNo);
        stats.recordsAbandoned++;
        this.host.emit({ event: 'abandoned', tradeNo: r.tradeNo, attempt: r.attempts, body: r.body });
      });
      return;
    }
    if (r.attempts === 0) return; // not sent (offline or silent): the next login delivers it
    const wait = r.attempts <= timing.recordRetries ? timing.recordRetryMs : timing.recordFinalMs;
    timers.set(`rec:${r.tradeNo}`, wait, () => this.deliver(r));
  }
}
