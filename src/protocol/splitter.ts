/**
 * Stream framing: bytes in any chunking → whole, CRC-checked frames out.
 *
 * - Resyncs on 0x68: bytes before a start byte are counted as garbage.
 * - A candidate whose header is impossible (flag not 0/1, length below the minimum, a known
 *   fixed-size type with too short a body) is rejected at once, so one stray 0x68 does not stall
 *   the stream waiting for a long frame.
 * - A CRC mismatch skips one byte and scans on: a real frame may start inside the bad one.
 * - A candidate still waiting for bytes is dropped when complete, CRC-valid frames follow it up
 *   to the last byte received (a stray 0x68 in garbage must not hold back a pile's request).
 * - Memory is bounded: at most one partial frame (≤ 259 bytes) is held between chunks, and the
 *   garbage allowed since the last good frame is capped (then `overLimit` is set and the owner
 *   should drop the connection). From then until reset() the splitter goes quiet: frames still
 *   come out, but garbage, CRC and header errors are only counted, so a flood cannot turn into
 *   a flood of error objects.
 */
import { checkFrameCrc, crc16Modbus, CrcOrder } from './crc16';
import { YkcError, typeHex } from './errors';
import { schemaForType } from './frames';
import { FRAME_OVERHEAD, START_BYTE } from './frame';

export const MAX_FRAME = 255 + 4;
/** Framing errors reported between two good frames; further ones are only counted. */
export const MAX_REPORTS = 8;

export interface SplitterOptions {
  /** Accept frames whose CRC is sent high byte first (JCPP-style piles). Default true. */
  acceptHiFirstCrc?: boolean;
  /** Garbage bytes tolerated since the last good frame before `overLimit`. Default 4096. */
  maxGarbage?: number;
}

export type FrameHandler = (frame: Buffer, crcOrder: CrcOrder) => void;
export type ErrorHandler = (err: YkcError) => void;

/** Shortest body each known fixed-layout type can have, for early rejection of bad headers. */
const MIN_BODY = new Int16Array(256).fill(-1);
for (let t = 0; t < 256; t++) {
  const s = schemaForType(t);
  if (s) MIN_BODY[t] = Math.min(...s.layouts.map((l) => l.fixedWidth + (l.list ? l.list.countWidth : 0)));
}

export class FrameSplitter {
  private pending: Buffer | null = null;
  private readonly acceptHiFirst: boolean;
  readonly maxGarbage: number;
  /** Garbage bytes since the last good frame. */
  garbageSinceFrame = 0;
  /** Errors reported since the last good frame; past MAX_REPORTS they are only counted. */
  private reportsSinceFrame = 0;
  /** Set once garbageSinceFrame exceeds maxGarbage. */
  overLimit = false;
  stats = { frames: 0, crcErrors: 0, garbageBytes: 0, hiFirstCrc: 0, resyncs: 0 };

  constructor(
    private readonly onFrame: FrameHandler,
    private readonly onError: ErrorHandler = () => {},
    opts: SplitterOptions = {},
  ) {
    this.acceptHiFirst = opts.acceptHiFirstCrc !== false;
    this.maxGarbage = opts.maxGarbage ?? 4096;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.pending ? this.pending.length : 0;
  }

  reset(): void {
    this.pending = null;
    this.garbageSinceFrame = 0;
    this.reportsSinceFrame = 0;
    this.overLimit = false;
  }

  push(chunk: Buffer): void {
    let b: Buffer;
    if (this.pending) {
      b = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    } else {
      b = chunk;
    }
    const n = b.length;
    let i = 0;
    let garbageFrom = -1;
    while (i < n) {
      if (b[i] !== START_BYTE) {
        if (garbageFrom < 0) garbageFrom = i;
        i++;
        continue;
      }
      if (n - i < 6) break; // need the header to judge the candidate
      const L = b[i + 1];
      const flag = b[i + 4];
      const type = b[i + 5];
      const min = MIN_BODY[type];
      if (L < 4 || flag > 1 || (min >= 0 && flag === 0 && L - 4 < min)) {
        this.flushGarbage(b, garbageFrom, i);
        garbageFrom = -1;
        this.reject(() =>
          new YkcError('YKC_LENGTH', `impossible frame header at a 0x68: length ${L}, flag ${flag}, type ${typeHex(type)}${min >= 0 ? ` (body at least ${min})` : ''}`, {
            lengthByte: L,
            flag,
            type,
          }),
        );
        i++;
        continue;
      }
      const len = L + 4;
      if (n - i < len) {
        // Wait for the rest, unless what follows is already complete frames up to the last byte:
        // then this 0x68 was a stray in garbage, and waiting would stall a pile expecting a reply.
        const j = this.completeFramesAfter(b, i + 1, n);
        if (j < 0) break;
        this.flushGarbage(b, garbageFrom, i);
        garbageFrom = -1;
        this.reject(() =>
          new YkcError('YKC_LENGTH', `frame header at a 0x68 claims ${len} bytes but complete frames follow it; skipping ${j - i} byte${j - i > 1 ? 's' : ''}`, {
            lengthByte: L,
            type,
          }),
          j - i,
        );
        i = j;
        continue;
      }
      const order = checkFrameCrc(b, i, len);
      if (order === null || (order === 'hi-first' && !this.acceptHiFirst)) {
        this.flushGarbage(b, garbageFrom, i);
        garbageFrom = -1;
        this.stats.crcErrors++;
        const crc = crc16Modbus(b, i + 2, i + len - 2);
        this.reject(() =>
          new YkcError('YKC_CRC', `frame ${typeHex(type)} (${len} bytes): CRC mismatch, expected ${(crc & 0xff).toString(16).padStart(2, '0').toUpperCase()}${(crc >>> 8).toString(16).padStart(2, '0').toUpperCase()}; skipping one byte to resync`, {
            type,
            frameHex: b.subarray(i, i + len).toString('hex').toUpperCase(),
          }),
        );
        i++;
        continue;
      }
      this.flushGarbage(b, garbageFrom, i);
      garbageFrom = -1;
      this.garbageSinceFrame = 0;
      this.reportsSinceFrame = 0;
      this.stats.frames++;
      if (order === 'hi-first') this.stats.hiFirstCrc++;
      this.onFrame(b.subarray(i, i + len), order);
      i += len;
    }
    this.flushGarbage(b, garbageFrom, i);
    if (i < n) {
      // Keep the partial frame: copy, so the caller's chunk is never retained.
      this.pending = Buffer.from(b.subarray(i, n));
    }
  }

  /** Skips bytes at a false start; the error is built only when it will be reported. */
  private reject(make: () => YkcError, skipped = 1): void {
    this.stats.resyncs++;
    if (this.mayReport()) this.onError(make());
    this.countGarbage(skipped); // after the report, so a fatal "over the limit" comes last
  }

  /**
   * A flood of junk must not become a flood of error objects (each costs a stack trace): a few
   * reports tell the story, the rest are counted in stats until the next good frame.
   */
  private mayReport(): boolean {
    return !this.overLimit && this.reportsSinceFrame++ < MAX_REPORTS;
  }

  /** A frame header this splitter would accept at b[j] (start byte, length, flag, known minimum). */
  private plausibleAt(b: Buffer, j: number, n: number): number {
    if (b[j] !== START_BYTE || n - j < 6) return -1;
    const L = b[j + 1];
    const flag = b[j + 4];
    const min = MIN_BODY[b[j + 5]];
    if (L < 4 || flag > 1 || (min >= 0 && flag === 0 && L - 4 < min)) return -1;
    return L + 4;
  }

  /**
   * The first 0x68 in b[from, n) from which CRC-valid frames follow one another exactly up to n,
   * or -1. Only called while a candidate waits for more bytes, so at most 258 bytes are scanned.
   * Requiring the chain to end exactly at the end of the data keeps a look-alike inside a frame
   * that is still arriving from cutting it short.
   */
  private completeFramesAfter(b: Buffer, from: number, n: number): number {
    for (let j = from; j < n; j++) {
      if (b[j] !== START_BYTE) continue;
      let k = j;
      while (k < n) {
        const len = this.plausibleAt(b, k, n);
        if (len < 0 || n - k < len) break;
        const order = checkFrameCrc(b, k, len);
        if (order === null || (order === 'hi-first' && !this.acceptHiFirst)) break;
        k += len;
      }
      if (k === n && k > j) return j;
    }
    return -1;
  }

  private flushGarbage(b: Buffer, from: number, to: number): void {
    if (from < 0 || to <= from) return;
    const count = to - from;
    if (!this.mayReport()) {
      this.countGarbage(count);
      return;
    }
    this.onError(
      new YkcError('YKC_GARBAGE', `skipped ${count} byte${count > 1 ? 's' : ''} that are not part of a frame`, {
        bytes: count,
        sample: b.subarray(from, Math.min(to, from + 32)).toString('hex').toUpperCase(),
      }),
    );
    this.countGarbage(count);
  }

  private countGarbage(count: number): void {
    this.stats.garbageBytes += count;
    this.garbageSinceFrame += count;
    if (this.garbageSinceFrame > this.maxGarbage && !this.overLimit) {
      this.overLimit = true;
      this.onError(
        new YkcError('YKC_GARBAGE', `more than ${this.maxGarbage} bytes of garbage since the last good frame`, {
          limit: this.maxGarbage,
          fatal: true,
        }),
      );
    }
  }
}

/** Convenience for tests and one-shot input: split a byte string into frames and errors. */
export function splitAll(bytes: Buffer, opts?: SplitterOptions): { frames: Buffer[]; orders: CrcOrder[]; errors: YkcError[]; rest: number } {
  const frames: Buffer[] = [];
  const orders: CrcOrder[] = [];
  const errors: YkcError[] = [];
  const s = new FrameSplitter(
    (f, o) => {
      frames.push(Buffer.from(f));
      orders.push(o);
    },
    (e) => errors.push(e),
    opts,
  );
  s.push(bytes);
  return { frames, orders, errors, rest: s.buffered };
}

export { FRAME_OVERHEAD };
