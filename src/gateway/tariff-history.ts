/**
 * Tariff in force (计费模型生效记录): per pile, the billing models the pile took and when (gateway
 * clock), and when the gateway first saw each trade number. A record is then judged against the
 * model in force when its session started, not the one in force when the record arrives — a
 * midnight push would otherwise flag every session that ran across midnight (docs/billing.md
 * "Tariff in force").
 *
 * Taken means: a 0x58 push the pile answered with 0x57 ok, a 0x0A sent in answer to its 0x09, or a
 * 0x05 check of the model the gateway holds answered "same". Bounded per pile (count and age) and in
 * piles; kept across restarts in an append-only log (one JSON line per change, rewritten whole when
 * it grows past twice what is live). A file that does not read is set aside, never fatal.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tariff, TariffBody } from '../billing/tariff';
import { toEpochMs } from '../billing/compute';
import { YkcError } from '../protocol/errors';

/** How the pile took a model: pushed (0x58 → 0x57 ok), asked for it (0x09 → 0x0A), or already held it (0x05 → 0x06 same). */
export type TariffVia = '0x58' | '0x0A' | '0x05';

export interface TariffEntry {
  /** When it took effect: the gateway's clock (epoch ms) when the 0x57 ok arrived / the 0x0A or 0x06 left. */
  since: number;
  via: TariffVia;
  /** The model as sent (no pileNo). */
  tariff: TariffBody;
}

export interface TariffHistoryLimits {
  /** Models kept per pile (the one in force at `maxAgeMs` ago and everything newer, at most this many). */
  perPile: number;
  /** Older models are dropped, except the one in force then (it still covers later sessions). */
  maxAgeMs: number;
  /** Piles kept; beyond it the pile least recently changed is dropped. */
  piles: number;
  /** Trade numbers per pile whose first frame is remembered. */
  tradesPerPile: number;
}

/** How a session's start was found: the first frame of its trade number, or the record's start time. */
export type SessionStartBasis = 'firstFrame' | 'startTime';

export interface SessionStart {
  at: number;
  basis: SessionStartBasis;
}

interface PileState {
  /** Oldest first. */
  entries: TariffEntry[];
  /** Trade number → first seen (epoch ms), oldest first. */
  trades: Map<string, number>;
  /** Trade numbers of `trades` whose record arrived: a later frame with one is a new session reusing it. */
  ended: Set<string>;
}

type Line =
  | { pile: string; since: number; via: TariffVia; tariff: TariffBody }
  | { pile: string; tradeNo: string; seen: number };

const VIAS = new Set<string>(['0x58', '0x0A', '0x05']);
const PRICE_FIELDS = ['sharp', 'peak', 'flat', 'valley'].flatMap((l) => [`${l}ElecPrice`, `${l}ServicePrice`]);
/** All-zero (and other repeated) trade numbers are not unique: their first frame says nothing of this session. */
const NON_UNIQUE_TRADE = /^0*$/;

function isTariffBody(v: unknown): v is TariffBody {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const b = v as Record<string, unknown>;
  return (
    typeof b.modelCode === 'string' &&
    PRICE_FIELDS.every((f) => typeof b[f] === 'number' && Number.isFinite(b[f])) &&
    typeof b.lossRatio === 'number' &&
    Array.isArray(b.slots) &&
    b.slots.length === 48 &&
    b.slots.every((x) => Number.isInteger(x))
  );
}

function lineOf(v: unknown): Line | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.pile !== 'string' || !o.pile || o.pile.length > 32) return null;
  if ('tradeNo' in o) {
    return typeof o.tradeNo === 'string' && /^[0-9A-Fa-f]{1,32}$/.test(o.tradeNo) && Number.isSafeInteger(o.seen) ? { pile: o.pile, tradeNo: o.tradeNo, seen: o.seen as number } : null;
  }
  if (!Number.isSafeInteger(o.since) || typeof o.via !== 'string' || !VIAS.has(o.via) || !isTariffBody(o.tariff)) return null;
  return { pile: o.pile, since: o.since as number, via: o.via as TariffVia, tariff: o.tariff };
}

/** Same model content (what the pile bills with), whatever the key order. */
function sameTariff(a: TariffBody, b: TariffBody): boolean {
  return a.modelCode === b.modelCode && a.lossRatio === b.lossRatio && PRICE_FIELDS.every((f) => (a as unknown as Record<string, unknown>)[f] === (b as unknown as Record<string, unknown>)[f]) && a.slots.every((x, i) => x === b.slots[i]);
}

export class TariffHistory {
  /** Told when the file cannot be read or written (YKC_STORE); the history keeps working in memory. */
  onError?: (err: YkcError) => void;
  private readonly piles = new Map<string, PileState>();
  /** Entries + trades held now: the file is rewritten when it holds more than twice this. */
  private live = 0;
  /** Last time stamp given: stamps strictly increase, so a model taken and a trade number seen in the same millisecond keep their order. */
  private lastStamp = 0;
  private readonly log: TariffLog | null;
  /** Problems found while loading, reported once someone listens (see takeLoadProblems). */
  private loadProblems: YkcError[] = [];

  constructor(
    readonly limits: TariffHistoryLimits,
    file: string | null = null,
  ) {
    this.log = file ? new TariffLog(file, () => this.snapshot(), (e) => this.onError?.(e)) : null;
    if (!this.log) return;
    const { lines, problem } = this.log.load();
    for (const l of lines) {
      if ('tradeNo' in l) this.addTrade(l.pile, l.tradeNo, l.seen, false);
      else this.addEntry(l.pile, { since: l.since, via: l.via, tariff: l.tariff }, false);
      this.lastStamp = Math.max(this.lastStamp, 'tradeNo' in l ? l.seen : l.since);
    }
    if (problem) {
      this.loadProblems.push(problem);
      this.log.compact();
    }
  }

  /** Problems met while loading (a file set aside): the caller reports them once it has listeners. */
  takeLoadProblems(): YkcError[] {
    const p = this.loadProblems;
    this.loadProblems = [];
    return p;
  }

  /** The pile took this model at `at`. A model equal to the one already in force changes nothing. */
  accepted(pileNo: string, tariff: TariffBody, at: number, via: TariffVia): void {
    let body: TariffBody;
    try {
      // The canonical body (numbers, no pileNo): a command sent with prices as strings is the same model.
      body = Tariff.fromBody(tariff).toBody();
    } catch {
      return; // the encoder took it but it is no tariff the billing library can judge with: nothing to record
    }
    const cur = this.piles.get(pileNo)?.entries;
    const last = cur?.[cur.length - 1];
    if (last && sameTariff(last.tariff, body)) return;
    this.addEntry(pileNo, { since: this.stamp(at), via, tariff: body }, true);
  }

  /** A 0x05 check answered "same": the pile holds the model with that code. Recorded only when the history does not already say so. */
  holds(pileNo: string, tariff: TariffBody, at: number): void {
    const cur = this.piles.get(pileNo)?.entries;
    const last = cur?.[cur.length - 1];
    if (last && last.tariff.modelCode === tariff.modelCode) return;
    this.accepted(pileNo, tariff, at, '0x05');
  }

  /** The model the pile had taken at `at` (the latest taken at or before it), or null when none is known. */
  inForce(pileNo: string, at: number): TariffEntry | null {
    const entries = this.piles.get(pileNo)?.entries;
    if (!entries) return null;
    for (let i = entries.length - 1; i >= 0; i--) if (entries[i].since <= at) return entries[i];
    return null;
  }

  /** Models the pile took, oldest first (copies). */
  entries(pileNo: string): TariffEntry[] {
    return (this.piles.get(pileNo)?.entries ?? []).map((e) => ({ ...e }));
  }

  /** A frame of a logged-in pile carried this trade number (not the record itself). Cheap when already known. */
  tradeSeen(pileNo: string, tradeNo: string, at: number): void {
    if (NON_UNIQUE_TRADE.test(tradeNo)) return;
    const known = this.piles.get(pileNo);
    if (known?.trades.has(tradeNo) && !known.ended.delete(tradeNo)) return;
    // New, or its record came already: firmware that repeats a trade number starts another session under it.
    this.addTrade(pileNo, tradeNo, this.stamp(at), true);
  }

  /**
   * The pile sent the record of this trade number: its session is over. The record is still dated by
   * its first frame; the next frame naming the number starts a new session (firmware that repeats a
   * trade number would otherwise have every later session judged by the first one's tariff).
   */
  recordSeen(pileNo: string, tradeNo: string): void {
    const s = this.piles.get(pileNo);
    if (s?.trades.has(tradeNo)) s.ended.add(tradeNo);
  }

  private stamp(at: number): number {
    // Within a second of the last stamp: one millisecond after it. A clock set back further is taken
    // as it is, so one wrong clock reading does not hold every later stamp in its future.
    this.lastStamp = at > this.lastStamp || this.lastStamp - at >= 1000 ? at : this.lastStamp + 1;
    return this.lastStamp;
  }

  /** When the gateway first saw the trade number from this pile, if it did. */
  firstSeen(pileNo: string, tradeNo: string): number | undefined {
    if (NON_UNIQUE_TRADE.test(tradeNo)) return undefined;
    return this.piles.get(pileNo)?.trades.get(tradeNo);
  }

  /**
   * When a record's session started: the first frame of its trade number the gateway saw (its own
   * clock), else the record's start time on the pile's clock read at `offsetMinutes`. Null when neither is known.
   */
  sessionStart(pileNo: string, record: Record<string, unknown>, offsetMinutes: number): SessionStart | null {
    const seen = typeof record.tradeNo === 'string' ? this.firstSeen(pileNo, record.tradeNo) : undefined;
    if (seen !== undefined) return { at: seen, basis: 'firstFrame' };
    const t = record.startTime;
    if (typeof t !== 'string' || t.startsWith('cp56:')) return null;
    try {
      return { at: toEpochMs(t, { offsetMinutes }), basis: 'startTime' };
    } catch {
      return null;
    }
  }

  pileCount(): number {
    return this.piles.size;
  }

  /** Writes what is buffered. */
  close(): void {
    this.log?.flush();
  }

  private state(pileNo: string): PileState {
    let s = this.piles.get(pileNo);
    if (s) {
      // Most recently changed last, so the bound drops the pile least recently changed.
      this.piles.delete(pileNo);
    } else {
      s = { entries: [], trades: new Map(), ended: new Set() };
    }
    this.piles.set(pileNo, s);
    while (this.piles.size > this.limits.piles) {
      const oldest = this.piles.keys().next().value as string;
      const o = this.piles.get(oldest)!;
      this.live -= o.entries.length + o.trades.size;
      this.piles.delete(oldest);
    }
    return s;
  }

  private addEntry(pileNo: string, entry: TariffEntry, write: boolean): void {
    const s = this.state(pileNo);
    // Keep the list in time order even if the file holds lines out of order.
    let i = s.entries.length;
    while (i > 0 && s.entries[i - 1].since > entry.since) i--;
    s.entries.splice(i, 0, entry);
    this.live++;
    const cutoff = entry.since - this.limits.maxAgeMs;
    // Everything taken before the cutoff but the newest of them is no longer in force for any session within the age.
    let drop = 0;
    while (drop + 1 < s.entries.length && s.entries[drop + 1].since <= cutoff) drop++;
    drop = Math.max(drop, s.entries.length - this.limits.perPile);
    if (drop > 0) {
      s.entries.splice(0, drop);
      this.live -= drop;
    }
    if (write) this.log?.append({ pile: pileNo, since: entry.since, via: entry.via, tariff: entry.tariff }, this.liveLines());
  }

  private addTrade(pileNo: string, tradeNo: string, at: number, write: boolean): void {
    const s = this.state(pileNo);
    if (s.trades.has(tradeNo)) {
      // Loading: a later line for the number is a later session under it (see tradeSeen). Live: re-dated on purpose.
      s.trades.delete(tradeNo);
      this.live--;
    }
    s.trades.set(tradeNo, at);
    this.live++;
    for (const [t, seen] of s.trades) {
      if (s.trades.size <= this.limits.tradesPerPile && seen >= at - this.limits.maxAgeMs) break;
      s.trades.delete(t);
      s.ended.delete(t);
      this.live--;
    }
    if (write) this.log?.append({ pile: pileNo, tradeNo, seen: at }, this.liveLines());
  }

  private liveLines(): number {
    return this.live;
  }

  private snapshot(): Line[] {
    const out: Line[] = [];
    for (const [pile, s] of this.piles) {
      for (const e of s.entries) out.push({ pile, since: e.since, via: e.via, tariff: e.tariff });
      for (const [tradeNo, seen] of s.trades) out.push({ pile, tradeNo, seen });
    }
    return out;
  }
}

/**
 * The history's file: JSON lines appended (buffered, written at most every `flushMs`), rewritten
 * whole (temp file + rename) when it holds more than twice the live lines. Never throws.
 */
export class TariffLog {
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lines = 0;
  /** A write failed: the next write rewrites the whole file from memory instead of appending. */
  private broken = false;
  private failing = false;

  constructor(
    readonly file: string,
    private readonly snapshot: () => Line[],
    private readonly report: (e: YkcError) => void,
    private readonly flushMs = 200,
  ) {}

  /** Reads every valid line. Any invalid one (a torn last line, an edited file) sets the file aside and is reported. */
  load(): { lines: Line[]; problem: YkcError | null } {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      // No file yet (or no directory: writing will say so, once there is something to write).
      if (errno === 'ENOENT' || errno === 'ENOTDIR') return { lines: [], problem: null };
      return { lines: [], problem: new YkcError('YKC_STORE', `tariff history ${this.file} cannot be read (${errno ?? String(e)}): starting without it`, { file: this.file, errno }) };
    }
    const lines: Line[] = [];
    let bad = 0;
    let firstBad = 0;
    const raw = text.split('\n');
    raw.forEach((s, i) => {
      if (!s.trim()) return;
      let l: Line | null = null;
      try {
        l = lineOf(JSON.parse(s));
      } catch {
        l = null;
      }
      if (l) lines.push(l);
      else if (bad++ === 0) firstBad = i + 1;
    });
    this.lines = lines.length;
    if (!bad) return { lines, problem: null };
    const aside = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    let moved = true;
    try {
      fs.renameSync(this.file, aside);
    } catch {
      moved = false;
    }
    const problem = new YkcError(
      'YKC_STORE',
      `tariff history ${this.file}: ${bad} unreadable line(s) (first: line ${firstBad}); ${moved ? `the file was set aside as ${aside}` : 'the file could not be set aside'} and the gateway started with the ${lines.length} line(s) that could be read`,
      { file: this.file, aside: moved ? aside : null, badLines: bad, goodLines: lines.length },
    );
    return { lines, problem };
  }

  append(line: Line, live: number): void {
    this.buffer.push(JSON.stringify(line));
    if (this.lines + this.buffer.length > 2 * live + 64) {
      this.broken = true; // rewrite instead of append: the file is mostly dead lines
    }
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref?.();
    }
  }

  /** Rewrites the file from memory now. */
  compact(): void {
    this.broken = true;
    this.flush();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.broken && !this.buffer.length) return;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      if (this.broken) {
        const all = this.snapshot();
        const tmp = `${this.file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, all.map((l) => JSON.stringify(l) + '\n').join(''));
        fs.renameSync(tmp, this.file);
        this.lines = all.length;
        this.broken = false;
      } else {
        fs.appendFileSync(this.file, this.buffer.map((l) => l + '\n').join(''));
        this.lines += this.buffer.length;
      }
      this.buffer = [];
      this.failing = false;
    } catch (e) {
      // Memory still holds everything: the next write rewrites the file whole. Reported once per failing streak.
      this.buffer = [];
      this.broken = true;
      if (!this.failing) {
        this.failing = true;
        const errno = (e as NodeJS.ErrnoException).code;
        this.report(new YkcError('YKC_STORE', `tariff history ${this.file} not written (${errno ?? String(e)}): the models piles took will not survive a restart until it is`, { file: this.file, errno }));
      }
      if (!this.timer) {
        this.timer = setTimeout(() => this.flush(), Math.max(this.flushMs, 5000));
        this.timer.unref?.();
      }
    }
  }
}
