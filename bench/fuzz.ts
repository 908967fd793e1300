/**
 * Seeded fuzz run of the protocol core: ≥ 1,000,000 mutated and random frames (mutations of the real
 * frames in test/fixtures/vectors.json: bit flips, byte insert/delete/replace, length-byte changes,
 * truncation, extension, splicing, type and flag changes, start bytes planted, wholly random frames),
 * each through decodeFrame (CRC checked, unchecked, strict) and, when it decodes with a valid CRC,
 * back through encodeFrame (the bytes must come back identical, also after a JSON trip); and the
 * same frames, mixed with garbage and cut into random chunks, through one long-lived FrameSplitter.
 *
 * Checked: nothing throws but YkcError; every decoded frame re-encodes to the same bytes; the
 * splitter's buffer stays ≤ 259 bytes, every frame it emits has a valid CRC, a stream of valid
 * frames comes out whole and in order whatever the chunking, and a good frame sent after any
 * garbage always comes out (no stall). Reports frames/s, the slowest single step (a hang would show
 * there), memory before/after, outcomes by error code, and every finding with its seed and case
 * number so it can be replayed. `--save` writes findings to test/fixtures/fuzz/ (regression
 * fixtures replayed by test/protocol/fuzz-regressions.spec.ts).
 *
 *   node dist/bench/fuzz.js [--frames 1000000] [--seed 8] [--save] [--quiet]
 *
 * The engine (Rng, FuzzCase generation, checkFrame, checkStream) is exported for that spec.
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkFrameCrc, crc16Modbus, decodeFrame, DecodeOptions, encodeFrame, FrameSplitter, schemaForType, YkcError } from '../src/protocol';
import { loadVectors, REPO_ROOT } from '../test/support/repo';

// ---- randomness ----------------------------------------------------------------------------------

/** mulberry32: small, fast, and the same sequence on every platform for a given seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  float(): number {
    return this.u32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  bytes(n: number, startBias = 0.03): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.chance(startBias) ? 0x68 : this.int(256);
    return b;
  }
}

// ---- frame generation ----------------------------------------------------------------------------

const KNOWN_TYPES: number[] = [];
for (let t = 0; t < 256; t++) if (schemaForType(t)) KNOWN_TYPES.push(t);

/** Real frames from vectors.json (whatever their CRC or length quirks: mutation starts from real bytes). */
export function seedFrames(): Buffer[] {
  return loadVectors().map((v) => Buffer.from(v.hex, 'hex'));
}

/** Sets the length byte from the actual size (when it fits) and the CRC (low or high byte first). */
function repair(b: Buffer, rng: Rng, ops: string[]): Buffer {
  if (b.length >= 8 && b.length <= 259 && rng.chance(0.85)) {
    b[0] = 0x68;
    b[1] = b.length - 4;
    ops.push('fixLength');
  }
  if (b.length >= 8 && rng.chance(0.85)) {
    const c = crc16Modbus(b, 2, b.length - 2);
    const hi = rng.chance(0.05);
    b[b.length - 2] = hi ? c >>> 8 : c & 0xff;
    b[b.length - 1] = hi ? c & 0xff : c >>> 8;
    ops.push(hi ? 'crcHiFirst' : 'fixCrc');
  }
  return b;
}

const OPS = ['flip', 'replace', 'insert', 'delete', 'length', 'truncate', 'extend', 'splice', 'type', 'flag', 'run', 'start', 'special'] as const;

function mutateOnce(b: Buffer, rng: Rng, seeds: Buffer[], ops: string[]): Buffer {
  const op = rng.pick(OPS);
  ops.push(op);
  const at = b.length ? rng.int(b.length) : 0;
  switch (op) {
    case 'flip':
      if (b.length) b[at] ^= 1 << rng.int(8);
      return b;
    case 'replace':
      if (b.length) b[at] = rng.int(256);
      return b;
    case 'insert':
      return Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(4)), b.subarray(at)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(4)))]);
    case 'length':
      if (b.length > 1) b[1] = rng.chance(0.5) ? (b[1] + rng.pick([-2, -1, 1, 2])) & 0xff : rng.int(256);
      return b;
    case 'truncate':
      return b.subarray(0, at);
    case 'extend':
      return Buffer.concat([b, rng.bytes(1 + rng.int(40))]);
    case 'splice': {
      const o = rng.pick(seeds);
      return Buffer.concat([b.subarray(0, at), o.subarray(rng.int(o.length))]);
    }
    case 'type':
      if (b.length > 5) b[5] = rng.chance(0.7) ? rng.pick(KNOWN_TYPES) : rng.int(256);
      return b;
    case 'flag':
      if (b.length > 4) b[4] = rng.pick([0, 1, 2, 0xff, rng.int(256)]);
      return b;
    case 'run': {
      // A field overwritten whole: zeros, 0xFF (unset BCD/ASCII), 0x99, or 0x68s.
      const v = rng.pick([0x00, 0xff, 0x99, 0x68, 0x20]);
      for (let i = Math.max(6, at), end = Math.min(b.length - 2, i + 1 + rng.int(16)); i < end; i++) b[i] = v;
      return b;
    }
    case 'start':
      if (b.length) b[at] = 0x68;
      return b;
    case 'special':
      if (b.length > 6) b[6 + rng.int(b.length - 6)] = rng.pick([0x00, 0x01, 0x7f, 0x80, 0x99, 0x9a, 0xff, 0x3a, 0x2e]);
      return b;
  }
}

/** A frame of a known (or any) type with a random body of a plausible length. */
function randomFrame(rng: Rng, ops: string[]): Buffer {
  ops.push('random');
  const type = rng.chance(0.8) ? rng.pick(KNOWN_TYPES) : rng.int(256);
  const bodyLen = rng.chance(0.5) ? rng.int(64) : rng.int(252);
  const b = Buffer.concat([Buffer.from([0x68, bodyLen + 4, rng.int(256), rng.int(256), rng.chance(0.9) ? 0 : rng.int(3), type]), rng.bytes(bodyLen), Buffer.alloc(2)]);
  return b;
}

export interface FuzzCase {
  bytes: Buffer;
  ops: string[];
}

/** One case: a seed frame mutated 0–4 times (or a random frame), then usually made well formed. */
export function makeCase(rng: Rng, seeds: Buffer[]): FuzzCase {
  const ops: string[] = [];
  let b: Buffer;
  if (rng.chance(0.12)) {
    b = randomFrame(rng, ops);
  } else {
    b = Buffer.from(rng.pick(seeds));
    for (let k = rng.int(5); k > 0; k--) b = mutateOnce(b, rng, seeds, ops);
    b = Buffer.from(b);
  }
  if (rng.chance(0.85)) b = repair(b, rng, ops);
  return { bytes: b, ops };
}

// ---- checks --------------------------------------------------------------------------------------

export type FindingKind = 'crash' | 'roundTrip' | 'jsonTrip' | 'splitterCrash' | 'splitterBuffer' | 'splitterBadFrame' | 'streamLoss' | 'stall';

/**
 * Kinds that are the splitter's documented trade-off rather than a defect: a frame still arriving
 * is given up when complete, CRC-valid frames follow a 0x68 inside it up to the last byte received
 * (splitter.ts: so a stray 0x68 in garbage cannot hold back a pile's request). A real frame whose
 * body embeds a whole valid frame ending exactly at a read boundary is then lost, with a YKC_LENGTH
 * error. Counted and reported, not failed.
 */
export const TRADEOFF_KINDS: ReadonlySet<FindingKind> = new Set(['streamLoss']);

export interface Finding {
  kind: FindingKind;
  detail: string;
  /** The frame (checkFrame) or the stream parts (checkStream), hex. */
  hex?: string;
  parts?: string[];
  chunks?: number[];
}

export interface FrameTally {
  frames: number;
  decoded: number;
  roundTrips: number;
  refused: Record<string, number>;
}

export const newTally = (): FrameTally => ({ frames: 0, decoded: 0, roundTrips: 0, refused: {} });

const DECODE_MODES: DecodeOptions[] = [{}, { verifyCrc: false }, { verifyCrc: false, strict: true }];

/**
 * Decodes b in every mode. Only YkcError may be thrown; a frame that decodes with a valid CRC must
 * re-encode to the same bytes, from the object and from its JSON text (what flows carry).
 */
export function checkFrame(b: Buffer, tally: FrameTally = newTally()): Finding | null {
  tally.frames++;
  const hex = () => b.toString('hex').toUpperCase();
  for (const mode of DECODE_MODES) {
    let f;
    try {
      f = decodeFrame(b, mode);
    } catch (e) {
      if (!(e instanceof YkcError)) return { kind: 'crash', hex: hex(), detail: `decodeFrame ${JSON.stringify(mode)} threw ${(e as Error)?.stack ?? String(e)}` };
      tally.refused[e.code] = (tally.refused[e.code] ?? 0) + 1;
      continue;
    }
    tally.decoded++;
    if (f.crcValid === false) continue;
    tally.roundTrips++;
    let again: Buffer;
    try {
      again = encodeFrame(f);
    } catch (e) {
      return { kind: 'roundTrip', hex: hex(), detail: `encodeFrame refused what decodeFrame ${JSON.stringify(mode)} produced: ${(e as Error).message}` };
    }
    if (!again.equals(b)) return { kind: 'roundTrip', hex: hex(), detail: `decode ${JSON.stringify(mode)} → encode gave ${again.toString('hex').toUpperCase()}` };
    let json: Buffer;
    try {
      json = encodeFrame(JSON.parse(JSON.stringify(f)));
    } catch (e) {
      return { kind: 'jsonTrip', hex: hex(), detail: `encodeFrame refused the JSON of the decoded frame ${JSON.stringify(mode)}: ${(e as Error).message}` };
    }
    if (!json.equals(b)) return { kind: 'jsonTrip', hex: hex(), detail: `decode ${JSON.stringify(mode)} → JSON → encode gave ${json.toString('hex').toUpperCase()}` };
  }
  return null;
}

/** What the splitter takes as a whole frame at b[0] (header plausible, CRC valid either way). */
export function splitterValid(b: Buffer): boolean {
  if (b.length < 8 || b.length > 259 || b[0] !== 0x68 || b[1] + 4 !== b.length || b[4] > 1) return false;
  if (b[4] === 0 && b.length - 8 < MIN_BODY[b[5]]) return false;
  return checkFrameCrc(b, 0, b.length) !== null;
}

/** Shortest body of each known type (-1: unknown), as the splitter judges headers. */
const MIN_BODY = new Int16Array(256).fill(-1);
for (let t = 0; t < 256; t++) {
  const s = schemaForType(t);
  if (s) MIN_BODY[t] = Math.min(...s.layouts.map((l) => l.fixedWidth + (l.list ? l.list.countWidth : 0)));
}

/** A good heartbeat, sent after each stream: it must always come out. */
const SENTINEL = (() => {
  const b = Buffer.from('680D000000033201020000000101000000', 'hex');
  const c = crc16Modbus(b, 2, b.length - 2);
  b[b.length - 2] = c & 0xff;
  b[b.length - 1] = c >>> 8;
  return b;
})();

export interface StreamTally {
  streams: number;
  bytes: number;
  framesOut: number;
  errors: Record<string, number>;
  wholeStreams: number;
}

export const newStreamTally = (): StreamTally => ({ streams: 0, bytes: 0, framesOut: 0, errors: {}, wholeStreams: 0 });

/**
 * Feeds parts (frames and garbage) plus a good sentinel frame through the splitter in the given
 * chunk sizes. The splitter may be long-lived (one connection's life) or fresh.
 */
export function checkStream(splitter: StreamSplitter, parts: Buffer[], chunks: number[], tally: StreamTally = newStreamTally()): Finding | null {
  const stream = Buffer.concat([...parts, SENTINEL]);
  const report = (kind: FindingKind, detail: string): Finding => ({ kind, detail, parts: parts.map((p) => p.toString('hex').toUpperCase()), chunks });
  tally.streams++;
  tally.bytes += stream.length;
  splitter.out.length = 0;
  let o = 0;
  let c = 0;
  while (o < stream.length) {
    const n = chunks[c++ % chunks.length];
    try {
      splitter.s.push(stream.subarray(o, o + n));
    } catch (e) {
      return report('splitterCrash', `push threw ${(e as Error)?.stack ?? String(e)}`);
    }
    if (splitter.thrown) return report('splitterCrash', splitter.thrown);
    if (splitter.s.buffered > 259) return report('splitterBuffer', `holds ${splitter.s.buffered} bytes`);
    o += n;
  }
  const out = splitter.out;
  tally.framesOut += out.length;
  for (const f of out) if (!splitterValid(f)) return report('splitterBadFrame', `emitted ${f.toString('hex').toUpperCase()}`);
  if (!out.length || !out[out.length - 1].equals(SENTINEL)) return report('stall', `the good frame after the stream did not come out (${out.length} frames out)`);
  if (splitter.s.buffered !== 0) return report('splitterBuffer', `${splitter.s.buffered} bytes held after a complete final frame`);
  if (parts.every(splitterValid)) {
    // Only whole frames went in: exactly they must come out, whatever the chunking.
    tally.wholeStreams++;
    const want = [...parts, SENTINEL];
    if (out.length !== want.length || out.some((f, i) => !f.equals(want[i]))) {
      return report('streamLoss', `${want.length} valid frames in, ${out.length} out: ${out.map((f) => f.toString('hex').toUpperCase()).join(' ')}`);
    }
  }
  return null;
}

export interface StreamSplitter {
  s: FrameSplitter;
  out: Buffer[];
  thrown: string | null;
}

export function streamSplitter(tally?: StreamTally): StreamSplitter {
  const st: StreamSplitter = {
    out: [],
    thrown: null,
    s: new FrameSplitter(
      (f) => {
        st.out.push(Buffer.from(f));
      },
      (e) => {
        if (!(e instanceof YkcError)) st.thrown = `onError got a non-YkcError: ${String(e)}`;
        else if (tally) tally.errors[e.code] = (tally.errors[e.code] ?? 0) + 1;
      },
    ),
  };
  return st;
}

/** Random chunk sizes: often tiny (byte-by-byte dribbles), sometimes whole packets. */
export function makeChunks(rng: Rng): number[] {
  const n = 1 + rng.int(6);
  return Array.from({ length: n }, () => (rng.chance(0.3) ? 1 + rng.int(3) : rng.chance(0.5) ? 1 + rng.int(40) : 1 + rng.int(600)));
}

/** One stream: up to 6 cases, sometimes with garbage between them, sometimes valid frames only. */
export function makeStream(rng: Rng, cases: FuzzCase[]): Buffer[] {
  const parts: Buffer[] = [];
  const clean = rng.chance(0.3);
  for (const c of cases) {
    if (clean && !splitterValid(c.bytes)) continue;
    if (!clean && rng.chance(0.25)) parts.push(rng.bytes(rng.int(80), 0.08));
    parts.push(c.bytes);
  }
  return parts;
}

// ---- the run -------------------------------------------------------------------------------------

function flag(name: string, dflt: string): string {
  const a = process.argv.slice(2);
  const i = a.indexOf(`--${name}`);
  return i >= 0 && a[i + 1] !== undefined ? a[i + 1] : dflt;
}

export interface RunResult {
  tally: FrameTally;
  stally: StreamTally;
  findings: Array<Finding & { seed: number; case: number; ops: string[] }>;
  slowestMs: number;
  slowest: string;
  /** The step that used the most CPU (wall time also counts time the machine gave to others). */
  slowestCpuMs: number;
  splitterStats: FrameSplitter['stats'];
}

/**
 * The fuzz loop: batches of 1–6 cases, each checked alone, then together (with garbage) as one
 * stream through a long-lived splitter. Deterministic for a seed, so case numbers replay.
 */
export function fuzzRun(seed: number, total: number, onFinding?: (f: RunResult['findings'][number]) => void, onProgress?: (done: number, findings: number) => void): RunResult {
  const seeds = seedFrames();
  const rng = new Rng(seed);
  const r: RunResult = { tally: newTally(), stally: newStreamTally(), findings: [], slowestMs: 0, slowest: '', slowestCpuMs: 0, splitterStats: { frames: 0, crcErrors: 0, garbageBytes: 0, hiFirstCrc: 0, resyncs: 0 } };
  let splitter = streamSplitter(r.stally);
  const note = (f: RunResult['findings'][number]) => {
    r.findings.push(f);
    onFinding?.(f);
  };
  const timed = <T>(what: () => string, fn: () => T): T => {
    const s = process.hrtime.bigint();
    const c = process.cpuUsage();
    const out = fn();
    const ms = Number(process.hrtime.bigint() - s) / 1e6;
    if (ms > r.slowestMs) {
      r.slowestMs = ms;
      r.slowest = what();
    }
    if (ms > 1) {
      const used = process.cpuUsage(c);
      r.slowestCpuMs = Math.max(r.slowestCpuMs, (used.user + used.system) / 1000);
    }
    return out;
  };
  let done = 0;
  while (done < total) {
    const batch: FuzzCase[] = [];
    for (let k = 1 + rng.int(6); k > 0 && done < total; k--, done++) {
      const c = makeCase(rng, seeds);
      batch.push(c);
      const f = timed(() => `frame ${c.bytes.toString('hex').toUpperCase()}`, () => checkFrame(c.bytes, r.tally));
      if (f) note({ ...f, seed, case: done, ops: c.ops });
    }
    const parts = makeStream(rng, batch);
    const chunks = makeChunks(rng);
    const f = timed(() => `stream of ${parts.length} parts in chunks ${chunks.join(',')}`, () => checkStream(splitter, parts, chunks, r.stally));
    if (f) {
      note({ ...f, seed, case: done, ops: batch.flatMap((c) => c.ops) });
      // Go on with a fresh splitter, so one finding does not cascade.
      addStats(r.splitterStats, splitter.s.stats);
      splitter = streamSplitter(r.stally);
    }
    if (onProgress && done % 10_000 < 6) onProgress(done, r.findings.length);
  }
  addStats(r.splitterStats, splitter.s.stats);
  return r;
}

function addStats(to: FrameSplitter['stats'], from: FrameSplitter['stats']): void {
  for (const k of Object.keys(to) as Array<keyof FrameSplitter['stats']>) to[k] += from[k];
}

function main(): void {
  const total = Number(flag('frames', '1000000'));
  const seed = Number(flag('seed', '8'));
  const save = process.argv.includes('--save');
  const quiet = process.argv.includes('--quiet');
  const gc = (global as { gc?: () => void }).gc;
  gc?.();
  const mem0 = process.memoryUsage();
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let lastReport = t0;
  console.log(`fuzz: ${total} frames, seed ${seed}, ${seedFrames().length} seed frames from test/fixtures/vectors.json`);
  const { tally, stally, findings, slowestMs, slowest, slowestCpuMs, splitterStats } = fuzzRun(
    seed,
    total,
    (f) => {
      if (!quiet) console.log(JSON.stringify({ finding: f.kind, case: f.case, ops: f.ops, detail: f.detail.slice(0, 300), hex: f.hex, parts: f.parts, chunks: f.chunks }));
    },
    (done, n) => {
      if (quiet || Date.now() - lastReport < 10_000) return;
      lastReport = Date.now();
      console.log(`  … ${done} frames, ${Math.round(done / ((lastReport - t0) / 1000))}/s, ${n} findings`);
    },
  );
  const wallS = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  gc?.();
  const mem1 = process.memoryUsage();
  const byKind: Record<string, number> = {};
  for (const f of findings) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  const defects = findings.filter((f) => !TRADEOFF_KINDS.has(f.kind)).length;
  console.log(
    JSON.stringify({
      seed,
      frames: tally.frames,
      decodeCalls: tally.frames * DECODE_MODES.length,
      decoded: tally.decoded,
      roundTripsChecked: tally.roundTrips,
      refusedByCode: tally.refused,
      streams: stally.streams,
      streamBytes: stally.bytes,
      wholeFrameStreams: stally.wholeStreams,
      splitterFramesOut: stally.framesOut,
      splitterErrorsByCode: stally.errors,
      splitterStats,
      defects,
      tradeoffFindings: findings.length - defects,
      findingsByKind: byKind,
      wallSeconds: +wallS.toFixed(1),
      framesPerSecond: Math.round(tally.frames / wallS),
      framesPerCpuSecond: Math.round(tally.frames / cpuS),
      slowestStepMs: +slowestMs.toFixed(2),
      slowestStep: slowest.slice(0, 120),
      slowestStepCpuMs: +slowestCpuMs.toFixed(2),
      rssMB: { before: +(mem0.rss / 1048576).toFixed(1), after: +(mem1.rss / 1048576).toFixed(1) },
      heapUsedMB: { before: +(mem0.heapUsed / 1048576).toFixed(1), after: +(mem1.heapUsed / 1048576).toFixed(1) },
    }),
  );
  if (save && findings.length) {
    const dir = path.join(REPO_ROOT, 'test', 'fixtures', 'fuzz');
    fs.mkdirSync(dir, { recursive: true });
    const seen = new Set<string>();
    for (const f of findings) {
      const key = `${f.kind}:${f.detail.split('\n')[0].replace(/[0-9A-F]{16,}/g, '')}`;
      if (seen.has(key)) continue; // one fixture per distinct failure
      seen.add(key);
      const file = path.join(dir, `${f.kind}-seed${f.seed}-case${f.case}.json`);
      fs.writeFileSync(file, JSON.stringify({ kind: f.kind, found: { seed: f.seed, case: f.case, ops: f.ops }, detail: f.detail.split('\n')[0], hex: f.hex, parts: f.parts, chunks: f.chunks }, null, 1) + '\n');
      console.log(`saved ${path.relative(REPO_ROOT, file)}`);
    }
  }
  process.exitCode = defects ? 1 : 0;
}

if (require.main === module) main();
