/**
 * The order journal: append-only JSON lines, one per change (O(1) per event), written in batches,
 * compacted (rewritten with only what is live, temp file + rename) once the lines on disk outgrow
 * the live state, so the file stays bounded by the tracker's own limits.
 *
 * Lines: {"o":order} upsert · {"x":orderKey,"h":history} closed · {"a":alarm} raised/changed ·
 * {"c":alarmKey} cleared. Orders and alarms are keyed by pile + trade number; the keys are derived from
 * the order / history / alarm itself, so journals written when they were keyed by the trade number
 * alone (x = tradeNo, c = "code|tradeNo") still load. A line that does not parse is a corrupt file: the good lines are kept,
 * the file is set aside as <file>.corrupt-<time> and the caller is told (YKC_STORE).
 */
import * as fs from 'fs';
import * as path from 'path';
import { BoundedMap } from '../gateway/bounded-map';
import type { Alarm } from './alarms';
import { alarmKey } from './alarms';
import { orderKey } from './order';
import type { HistoryEntry, Order } from './order';

export interface JournalContent {
  orders: Map<string, Order>;
  /** Oldest first, at most historySize (evicting from a plain Map's front is slow in V8: see BoundedMap). */
  history: BoundedMap<HistoryEntry>;
  alarms: Map<string, Alarm>;
}

export interface LoadResult extends JournalContent {
  badLines: number;
  /** Where a corrupt file was moved to. */
  setAside: string | null;
}

export type JournalLine = { o: Order } | { x: string; h: HistoryEntry } | { a: Alarm } | { c: string };

export class OrderJournal {
  onError?: (err: Error) => void;
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Lines in the file (estimate after a failed write). */
  private lines = 0;
  /** The last append failed and may have left part of a line: the next one starts on a new line. */
  private torn = false;

  constructor(
    readonly file: string,
    private readonly flushMs = 200,
    /** Compact when the file holds more than factor × live entries (+ minLines). */
    private readonly compactFactor = 4,
    private readonly minLines = 1000,
  ) {}

  load(historySize: number): LoadResult {
    const out: LoadResult = { orders: new Map(), history: new BoundedMap(Math.max(1, historySize)), alarms: new Map(), badLines: 0, setAside: null };
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(this.file);
    } catch {
      return out;
    }
    const text = bytes.toString('utf8');
    const all = text.split('\n');
    // A crash mid-write leaves a last line without its newline: that one is not corruption.
    const last = all.pop() ?? '';
    for (const line of all) {
      if (!line) continue;
      if (!this.apply(out, line)) out.badLines++;
    }
    // Whatever the crash left after the last newline must not have the next batch glued onto it (the
    // glued line would be unreadable — a corrupt file at the restart after this one): a whole line gets
    // its newline with the next batch; a fragment is cut off the file.
    if (last.length > 0 && !(last.trim() && this.apply(out, last))) {
      try {
        fs.truncateSync(this.file, bytes.lastIndexOf(0x0a) + 1); // by bytes: a fragment may end inside a UTF-8 character
      } catch {
        this.torn = true;
      }
    } else this.torn = last.length > 0;
    this.lines = all.length;
    if (out.badLines) {
      const aside = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      try {
        fs.renameSync(this.file, aside);
        out.setAside = aside;
      } catch {
        /* the rewrite below replaces it anyway */
      }
      this.compact(out);
    }
    return out;
  }

  private apply(c: JournalContent, line: string): boolean {
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return false;
    }
    if (j === null || typeof j !== 'object') return false;
    if (isOrder(j.o)) {
      c.orders.set(orderKey(j.o.pileNo, j.o.tradeNo), j.o);
      return true;
    }
    if (typeof j.x === 'string') {
      if (isHistory(j.h)) {
        const key = orderKey(j.h.pileNo, j.h.tradeNo);
        c.orders.delete(key);
        c.history.set(key, j.h);
      } else if (j.x.includes(':')) c.orders.delete(j.x);
      else for (const [k, o] of c.orders) if (o.tradeNo === j.x) c.orders.delete(k); // an old line: the trade number alone
      return true;
    }
    if (isAlarm(j.a)) {
      if (typeof j.a.pileNo !== 'string') j.a.pileNo = '';
      c.alarms.set(alarmKey(j.a.code, j.a.pileNo, j.a.tradeNo), j.a);
      return true;
    }
    if (typeof j.c === 'string') {
      const bar = j.c.indexOf('|');
      const rest = j.c.slice(bar + 1);
      if (bar < 0 || rest.includes(':')) c.alarms.delete(j.c);
      else for (const [k, a] of c.alarms) if (`${a.code}|${a.tradeNo}` === j.c) c.alarms.delete(k); // an old line: "code|tradeNo"
      return true;
    }
    return false;
  }

  append(line: JournalLine): void {
    this.buffer.push(JSON.stringify(line));
    if (!this.timer && this.flushMs > 0) {
      this.timer = setTimeout(() => this.tryFlush(), this.flushMs);
      this.timer.unref?.();
    } else if (this.flushMs <= 0) this.tryFlush();
  }

  /** True when the file has grown enough past the live state to be rewritten. */
  wantsCompaction(live: number): boolean {
    return this.lines + this.buffer.length > this.compactFactor * live + this.minLines;
  }

  /** Rewrites the file with only the live state (drops the pending buffer: it is part of that state). */
  compact(c: JournalContent): void {
    this.clearTimer();
    this.buffer = [];
    const parts: string[] = [];
    for (const [, h] of c.history.entries()) parts.push(JSON.stringify({ x: orderKey(h.pileNo, h.tradeNo), h }));
    for (const o of c.orders.values()) parts.push(JSON.stringify({ o }));
    for (const a of c.alarms.values()) parts.push(JSON.stringify({ a }));
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.writeFileSync(tmp, parts.length ? parts.join('\n') + '\n' : '');
      fs.renameSync(tmp, this.file);
      this.lines = parts.length;
      this.torn = false;
    } catch (e) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        /* no temp file */
      }
      this.report(e);
    }
  }

  flush(): void {
    this.clearTimer();
    if (!this.buffer.length) return;
    // Lines are upserts: writing a batch again after a failure is harmless, gluing it to a torn line is not.
    const data = (this.torn ? '\n' : '') + this.buffer.join('\n') + '\n';
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.appendFileSync(this.file, data);
      this.lines += this.buffer.length;
      this.buffer = [];
      this.torn = false;
    } catch (e) {
      this.torn = true;
      // Kept for the next attempt; bounded by the compaction that follows the next change.
      this.report(e);
    }
  }

  close(): void {
    this.flush();
  }

  private tryFlush(): void {
    this.timer = null;
    this.flush();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private report(e: unknown): void {
    this.onError?.(e instanceof Error ? e : new Error(String(e)));
  }
}

function isOrder(v: unknown): v is Order {
  const o = v as Order;
  return !!o && typeof o === 'object' && typeof o.tradeNo === 'string' && typeof o.pileNo === 'string' && typeof o.gunNo === 'number' && typeof o.state === 'string' && Array.isArray(o.at);
}

function isHistory(v: unknown): v is HistoryEntry {
  const h = v as HistoryEntry;
  return !!h && typeof h === 'object' && typeof h.tradeNo === 'string' && typeof h.pileNo === 'string';
}

function isAlarm(v: unknown): v is Alarm {
  const a = v as Alarm;
  return !!a && typeof a === 'object' && typeof a.code === 'string' && typeof a.tradeNo === 'string' && typeof a.since === 'number';
}
