/**
 * The record journal: an append-only file of JSON lines, one per event (a record handed to the
 * flow, a record confirmed), rewritten from the live state now and then (compaction) so it never
 * grows past a few times the state. Appending is O(1) per record; a confirmation is fsync'ed before
 * append() returns. Every line is validated on load; what cannot be read is reported and set aside,
 * never a reason not to start. Guarantees: docs/records.md "The journal".
 */
import * as fs from 'fs';
import * as path from 'path';

/** h = handed to the flow (held), c = confirmed with result r, l = a trade number from the earlier journal format. */
export type JournalEntry =
  | { k: 'h'; p: string; t: string; i: string; a: number }
  | { k: 'c'; p: string; t: string; i: string; r: number }
  | { k: 'l'; t: string; p: string | null };

export interface JournalProblem {
  message: string;
  details: Record<string, unknown>;
}

export interface JournalLoad {
  entries: JournalEntry[];
  problems: JournalProblem[];
}

/** An entry as the line the journal holds (JSON and a newline). Callers keep it: a rewrite then only joins strings. */
export function journalLine(e: JournalEntry): string {
  return `${JSON.stringify(e)}\n`;
}

export interface RecordJournal {
  /** Reads what is on disk; never throws for bad content (it is reported in `problems`). */
  load(): JournalLoad;
  /**
   * Adds one entry (its journalLine()). `durable`: on disk (fsync) when this returns. Throws when it
   * cannot be written; after that, entries wait for compact() (wantsCompaction() is true until it succeeds).
   */
  append(line: string, durable: boolean): void;
  /** Replaces the whole journal with these lines (journalLine() of each entry), atomically. */
  compact(lines: string[]): void;
  /** True when the log holds much more than `live` entries (or a failed write left it unsure). */
  wantsCompaction(live: number): boolean;
  /** Writes anything not yet on disk. */
  flush(): void;
  close(): void;
  /**
   * Told when a write fails (disk full, directory not writable). The state stays in memory and is
   * written with the next change or at close; a journal never throws into the gateway's event loop.
   */
  onError?: (err: Error) => void;
}

const PILE_RE = /^[0-9A-Fa-f]{1,32}$/;
const TRADE_RE = /^[0-9A-Fa-f]{32}$/;
const ID_RE = /^(?:[0-9a-f]{16}|\*)$/;

/** One line → an entry, or null when anything about it is wrong. */
export function parseJournalLine(line: string): JournalEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const e = v as Record<string, unknown>;
  const str = (x: unknown, re: RegExp): x is string => typeof x === 'string' && re.test(x);
  if (e.k === 'l') return str(e.t, TRADE_RE) && (e.p === null || str(e.p, PILE_RE)) ? { k: 'l', t: e.t, p: e.p } : null;
  if (!str(e.p, PILE_RE) || !str(e.t, TRADE_RE) || !str(e.i, ID_RE)) return null;
  if (e.k === 'h') return typeof e.a === 'number' && Number.isFinite(e.a) && e.a >= 0 ? { k: 'h', p: e.p, t: e.t, i: e.i, a: e.a } : null;
  if (e.k === 'c') return Number.isInteger(e.r) && (e.r as number) >= 0 && (e.r as number) <= 255 ? { k: 'c', p: e.p, t: e.t, i: e.i, r: e.r as number } : null;
  return null;
}

/** The format before identities (one JSON object rewritten whole): trade numbers only. */
function parseOldFormat(text: string): JournalEntry[] | null {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return null;
  }
  const o = j as { unconfirmed?: unknown; confirmed?: unknown } | null;
  if (!o || typeof o !== 'object' || !Array.isArray(o.unconfirmed) || !Array.isArray(o.confirmed)) return null;
  const out: JournalEntry[] = [];
  for (const u of o.unconfirmed as Array<{ tradeNo?: unknown; pileNo?: unknown }>) {
    if (u && typeof u.tradeNo === 'string' && TRADE_RE.test(u.tradeNo)) out.push({ k: 'l', t: u.tradeNo, p: typeof u.pileNo === 'string' && PILE_RE.test(u.pileNo) ? u.pileNo : null });
  }
  for (const c of o.confirmed as unknown[]) {
    if (Array.isArray(c) && typeof c[0] === 'string' && TRADE_RE.test(c[0])) out.push({ k: 'l', t: c[0], p: null });
  }
  return out;
}

const stamp = (): string => new Date().toISOString().replace(/[:.]/g, '-');

/** Entries appended between compactions, beyond twice the live state, before the file is rewritten. */
const COMPACT_SLACK = 1000;

export class FileJournal implements RecordJournal {
  onError?: (err: Error) => void;
  private fd: number | null = null;
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Lines in the file plus those buffered. */
  private lines = 0;
  /** A write failed part-way: the file may end in a partial line, so the next write rewrites it whole. */
  private unsure = false;
  /** A journal of the earlier format next to this one, renamed once its content is in ours. */
  private migrateFrom: string | null = null;
  /**
   * A rewrite in progress: the snapshot is in `tmp`, its fsync runs off the event loop; lines
   * appended meanwhile (to the old file, as usual) are also kept in `since` for the new file.
   */
  private rewrite: { fd: number; tmp: string; lines: number; since: string[]; durable: boolean } | null = null;

  /**
   * @param file the journal (JSON lines; `records-<id>.jsonl`). A `.json` file of the earlier
   *   format at the same path, or next to a `.jsonl` path, is read and converted.
   * @param flushMs how long entries that need not be durable at once (records handed over) may wait
   *   to be written together; 0 writes each at once.
   */
  constructor(
    readonly file: string,
    private readonly flushMs = 100,
  ) {}

  load(): JournalLoad {
    const problems: JournalProblem[] = [];
    this.removeStaleTemps();
    let source = this.file;
    let text = this.read(this.file, problems);
    if (text === null && this.file.endsWith('.jsonl')) {
      const older = this.file.slice(0, -1);
      text = this.read(older, problems);
      if (text !== null) {
        source = older;
        this.migrateFrom = older;
      }
    }
    if (text === null) return { entries: [], problems };
    if (source !== this.file || text.trimStart().startsWith('{"unconfirmed"')) {
      const old = parseOldFormat(text);
      if (old) return { entries: old, problems };
      this.migrateFrom = null;
      problems.push(this.setAside(source, 'is not a readable journal of the earlier format', { entriesRead: 0 }));
      return { entries: [], problems };
    }
    const entries: JournalEntry[] = [];
    const lines = text.split('\n');
    let bad = 0;
    let firstBad = 0;
    let truncated = false;
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const e = parseJournalLine(line);
      if (e) entries.push(e);
      else if (i === lines.length - 1) truncated = true; // no newline after it: cut off mid-write
      else if (bad++ === 0) firstBad = i + 1;
    });
    if (bad) {
      problems.push(this.setAside(this.file, `has ${bad} malformed line(s) (first: line ${firstBad})`, { malformedLines: bad, firstMalformedLine: firstBad, entriesRead: entries.length }));
    } else if (truncated) {
      problems.push({
        message: `record journal ${this.file}: its last line was cut off (the process stopped while writing it) and is ignored; started with the ${entries.length} entries before it`,
        details: { file: this.file, entriesRead: entries.length },
      });
    }
    this.lines = entries.length;
    return { entries, problems };
  }

  append(line: string, durable: boolean): void {
    this.buffer.push(line);
    this.lines++;
    if (this.rewrite) {
      this.rewrite.since.push(line);
      this.rewrite.durable ||= durable;
    }
    // After a failed write the entry waits for compact() (wantsCompaction() says so), which writes the whole state.
    if (this.unsure) return;
    if (durable || this.flushMs <= 0) {
      this.writeOut(durable);
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        try {
          this.writeOut(false);
        } catch (e) {
          this.onError?.(e instanceof Error ? e : new Error(String(e)));
        }
      }, this.flushMs);
      this.timer.unref?.();
    }
  }

  wantsCompaction(live: number): boolean {
    return this.unsure || (!this.rewrite && this.lines > 2 * live + COMPACT_SLACK);
  }

  /**
   * Rewrites the file from `entries`. While the file we append to is sound (the usual, periodic
   * case) the snapshot's fsync runs off the event loop — a 20,000-line fsync would otherwise stall
   * every pile's replies — and the old file stays complete until the rename. Right after load or
   * a failed write it is done at once.
   */
  compact(entries: string[]): void {
    if (this.fd !== null && !this.unsure) {
      this.compactInBackground(entries);
      return;
    }
    this.abandonRewrite();
    const tmp = `${this.file}.${process.pid}.tmp`;
    const dir = path.dirname(this.file);
    fs.mkdirSync(dir, { recursive: true });
    try {
      const fd = fs.openSync(tmp, 'w');
      try {
        this.writeAll(fd, entries.join(''));
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
    } catch (e) {
      removeQuietly(tmp);
      this.unsure = true;
      throw e;
    }
    syncDir(dir);
    this.closeFd();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.buffer = [];
    this.lines = entries.length;
    this.unsure = false;
    if (this.migrateFrom) {
      const from = this.migrateFrom;
      this.migrateFrom = null;
      try {
        fs.renameSync(from, `${from}.migrated-${stamp()}`);
      } catch {
        /* read already; a second migration of the same content is harmless */
      }
    }
  }

  private compactInBackground(entries: string[]): void {
    if (this.rewrite) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    let fd: number | null = null;
    try {
      fd = fs.openSync(tmp, 'w');
      this.writeAll(fd, entries.join(''));
    } catch (e) {
      if (fd !== null) fs.closeSync(fd);
      removeQuietly(tmp);
      throw e;
    }
    const job = { fd, tmp, lines: entries.length, since: [] as string[], durable: false };
    this.rewrite = job;
    fs.fdatasync(fd, (err) => {
      if (this.rewrite !== job) return; // closed, or replaced by a rewrite done at once
      try {
        if (err) throw err;
        this.finishRewrite(job);
      } catch (e) {
        this.abandonRewrite();
        this.onError?.(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /**
   * The snapshot is on disk: add what came since, then swap the files (the old one was complete
   * until now). Snapshot + since is everything, so lines still buffered for the old file are dropped.
   */
  private finishRewrite(job: NonNullable<FileJournal['rewrite']>): void {
    if (job.since.length) {
      this.writeAll(job.fd, job.since.join(''));
      // A confirmation reported durable must stay so in the new file.
      if (job.durable) fs.fdatasyncSync(job.fd);
    }
    fs.closeSync(job.fd);
    fs.renameSync(job.tmp, this.file);
    this.rewrite = null;
    syncDir(path.dirname(this.file));
    this.closeFd();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.buffer = [];
    this.unsure = false;
    this.lines = job.lines + job.since.length;
  }

  /** Rewrites cut short by a crash leave `<file>.<pid>.tmp`; the journal itself was complete without them. */
  private removeStaleTemps(): void {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith(`${base}.`) && /^\.\d+\.tmp$/.test(n.slice(base.length))) removeQuietly(path.join(dir, n));
  }

  private abandonRewrite(): void {
    const job = this.rewrite;
    if (!job) return;
    this.rewrite = null;
    try {
      fs.closeSync(job.fd);
    } catch {
      /* closed already */
    }
    removeQuietly(job.tmp);
  }

  flush(): void {
    this.writeOut(false);
  }

  close(): void {
    // The old file holds everything: a rewrite still in progress is simply dropped.
    this.abandonRewrite();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    try {
      this.writeOut(true);
    } finally {
      this.closeFd();
    }
  }

  private writeOut(sync: boolean): void {
    if (this.timer && sync) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.buffer.length) {
      const data = this.buffer.join('');
      try {
        this.writeAll(this.open(), data);
      } catch (e) {
        // Part of it may be on disk: append no more to that file, rewrite it whole next time.
        this.unsure = true;
        this.closeFd();
        throw e;
      }
      this.buffer = [];
    }
    if (sync && this.fd !== null) fs.fdatasyncSync(this.fd);
  }

  private open(): number {
    if (this.fd === null) {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      this.fd = fs.openSync(this.file, 'a');
    }
    return this.fd;
  }

  private writeAll(fd: number, text: string): void {
    const b = Buffer.from(text, 'utf8');
    for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off, b.length - off);
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
    this.fd = null;
  }

  private read(file: string, problems: JournalProblem[]): string | null {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      // Nothing there (or its directory is a file: reported when the first write fails).
      if (errno === 'ENOENT' || errno === 'ENOTDIR') return null;
      problems.push(this.setAside(file, `cannot be read (${errno ?? (e as Error).message})`, { errno, entriesRead: 0 }));
      return null;
    }
  }

  /** Renames a journal that cannot be used out of the way, so it is kept for a person to look at. */
  private setAside(file: string, why: string, details: Record<string, unknown>): JournalProblem {
    const aside = `${file}.corrupt-${stamp()}`;
    let keptAs: string | null = aside;
    try {
      fs.renameSync(file, aside);
    } catch {
      keptAs = null;
    }
    return {
      message: `record journal ${file} ${why}: ${keptAs ? `kept aside as ${keptAs}` : 'it could not be renamed either'}; started with the ${details.entriesRead ?? 0} entries that could be read`,
      details: { file, keptAs, ...details },
    };
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    /* not there */
  }
}

/** Makes a rename durable: the directory entry is on disk too. Not every platform allows it. */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* e.g. Windows: directories cannot be opened for fsync */
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}
