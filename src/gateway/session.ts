/**
 * One connection: framing in, encoding and back-pressured writes out, sequence counter, the
 * pile's identity once logged in. Protocol decisions (replies, policies) live in the server.
 */
import { Duplex } from 'stream';
import { CrcOrder, DecodedFrame, encodeFrame, FrameInput, FrameSplitter, YkcError } from '../protocol';

export type SessionState = 'connected' | 'online' | 'closed';

export interface SessionInfo {
  sessionId: number;
  pileNo: string | null;
  remote: string;
  state: SessionState;
  connectedAt: number;
  loggedInAt: number | null;
  lastSeen: number;
  version: string | null;
  pileType: string | null;
  gunCount: number | null;
  firmwareVersion: string | null;
  /** SIM card ICCID from the login (0x01), null when the pile sends zeros (no SIM, wired network). */
  iccid: string | null;
  crcOrder: CrcOrder | null;
  hiFirstCrcFrames: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface SessionHooks {
  frame(session: PileSession, frame: Buffer, crcOrder: CrcOrder): void;
  framingError(session: PileSession, err: YkcError): void;
  /** What the splitter counted in the last chunk (it reports only a few errors per bad stretch). */
  framingStats(session: PileSession, crcErrors: number, garbageBytes: number, rejectedHeaders: number): void;
  /** The connection went over its frame or byte rate and is not read for `pauseMs` (called on the first time only). */
  rateLimited(session: PileSession, pauseMs: number): void;
  /** The pile half-closed its side; the owner closes the connection when it suits it (storms). */
  ended(session: PileSession): void;
  closed(session: PileSession, reason: string): void;
}

let nextSessionId = 1;

/** Bytes handed to the splitter per connection per event-loop turn (16 maximum-length frames). */
const READ_SLICE = 4096;

export class PileSession {
  readonly id = nextSessionId++;
  state: SessionState = 'connected';
  pileNo: string | null = null;
  version: string | null = null;
  pileType: string | null = null;
  gunCount: number | null = null;
  firmwareVersion: string | null = null;
  iccid: string | null = null;
  /** The CRC byte order this pile uses (learned from its frames). */
  crcOrder: CrcOrder | null = null;
  hiFirstCrcFrames = 0;
  readonly connectedAt = Date.now();
  loggedInAt: number | null = null;
  lastSeen = Date.now();
  framesIn = 0;
  framesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Last gun-independent model code the pile reported in 0x05. */
  modelCode: string | null = null;
  /** Frames received before a successful login on this connection. */
  framesBeforeLogin = 0;
  /** Times this connection was paused for going over its rate. */
  ratePauses = 0;
  private seq = 0;
  /** Token buckets of the input rate limit (may go negative: a chunk is read whole, then paid for). */
  private frameTokens: number;
  private byteTokens: number;
  private refilledAt = Date.now();
  private rateTimer: NodeJS.Timeout | null = null;
  /** Read but not yet handed to the splitter (over the rate, or beyond this turn's slice). */
  private backlog: Buffer | null = null;
  /** The stream is paused by us (rate or slice), to be resumed when the backlog is done. */
  private held = false;
  private resumeAt: NodeJS.Immediate | null = null;
  private endAfterBacklog = false;
  private seenCrc = 0;
  private seenGarbage = 0;
  private seenRejects = 0;
  private readonly splitter: FrameSplitter;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private congested = false;
  closeReason: string | null = null;
  /** The gateway has sent its last word (a refused login) and closes soon: nothing more is read or acted on. */
  ending = false;

  constructor(
    readonly stream: Duplex,
    readonly remote: string,
    private readonly hooks: SessionHooks,
    private readonly limits: {
      maxGarbageBytes: number; maxOutboundBytes: number; acceptHiFirstCrc: boolean; replyCrcOrder: 'spec' | 'learned';
      maxFramesPerSecond: number; maxBytesPerSecond: number; rateBurstSeconds: number;
    },
  ) {
    this.frameTokens = limits.maxFramesPerSecond * limits.rateBurstSeconds;
    this.byteTokens = limits.maxBytesPerSecond * limits.rateBurstSeconds;
    this.splitter = new FrameSplitter(
      (f, order) => {
        // Frames later in the same chunk as a reason to close are not acted on.
        if (this.state === 'closed' || this.ending) return;
        this.framesIn++;
        if (order === 'hi-first') this.hiFirstCrcFrames++;
        this.crcOrder = order;
        this.frameTokens--;
        this.hooks.frame(this, f, order);
      },
      (err) => this.hooks.framingError(this, err),
      { acceptHiFirstCrc: limits.acceptHiFirstCrc, maxGarbage: limits.maxGarbageBytes },
    );
    stream.on('data', this.onData);
    stream.on('drain', this.onDrain);
    stream.on('error', this.onStreamError);
    stream.on('close', this.onStreamClose);
    stream.on('end', this.onStreamEnd);
  }

  private readonly onData = (chunk: Buffer | string): void => {
    if (this.state === 'closed' || this.ending) return;
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    this.bytesIn += b.length;
    this.lastSeen = Date.now();
    this.backlog = this.backlog ? Buffer.concat([this.backlog, b]) : b;
    this.feed();
  };

  /**
   * Hands what was read to the splitter, at most READ_SLICE bytes per event-loop turn and within
   * the rate allowance; the rest waits (the socket is paused meanwhile, so the kernel's buffers
   * push back on the sender). A 64 KiB read of 259-byte frames is therefore never decoded, answered
   * and handed to flows in one block while other piles wait.
   */
  private feed(): void {
    this.resumeAt = null;
    while (this.backlog && this.state !== 'closed' && !this.ending) {
      const now = Date.now();
      this.refill(now);
      if (this.frameTokens < 0 || this.byteTokens < 0) {
        this.throttle();
        return;
      }
      const b = this.backlog;
      const slice = b.length > READ_SLICE ? b.subarray(0, READ_SLICE) : b;
      this.backlog = b.length > READ_SLICE ? b.subarray(READ_SLICE) : null;
      this.byteTokens -= slice.length;
      try {
        this.splitter.push(slice);
      } catch (e) {
        // A bug in a handler must not take the process down; drop this connection instead.
        this.close(`internal error: ${(e as Error).message}`);
        return;
      }
      this.reportFraming();
      if (this.splitter.overLimit) {
        this.close('garbage limit');
        return;
      }
      if (this.backlog) {
        this.hold();
        this.resumeAt = setImmediate(() => this.feed());
        return;
      }
    }
    if (this.backlog || this.rateTimer || this.state === 'closed' || this.ending) return;
    if (this.endAfterBacklog) {
      this.endAfterBacklog = false;
      this.hooks.ended(this);
    } else if (this.held) {
      this.held = false;
      this.stream.resume();
    }
  }

  private hold(): void {
    if (this.held) return;
    this.held = true;
    this.stream.pause();
  }

  private reportFraming(): void {
    const st = this.splitter.stats;
    if (st.crcErrors !== this.seenCrc || st.garbageBytes !== this.seenGarbage || st.resyncs !== this.seenRejects + this.seenCrc) {
      const crc = st.crcErrors - this.seenCrc;
      const garbage = st.garbageBytes - this.seenGarbage;
      const rejects = st.resyncs - st.crcErrors - this.seenRejects;
      this.seenCrc = st.crcErrors;
      this.seenGarbage = st.garbageBytes;
      this.seenRejects += rejects;
      this.hooks.framingStats(this, crc, garbage, rejects);
    }
  }

  private refill(now: number): void {
    const l = this.limits;
    const dt = (now - this.refilledAt) / 1000;
    this.refilledAt = now;
    if (dt <= 0) return;
    this.frameTokens = Math.min(l.maxFramesPerSecond * l.rateBurstSeconds, this.frameTokens + dt * l.maxFramesPerSecond);
    this.byteTokens = Math.min(l.maxBytesPerSecond * l.rateBurstSeconds, this.byteTokens + dt * l.maxBytesPerSecond);
  }

  /** Over the rate: stop reading until the allowance is back above zero; nothing read is dropped. */
  private throttle(): void {
    if (this.state === 'closed' || this.rateTimer) return;
    const l = this.limits;
    const waitS = Math.max(-this.frameTokens / l.maxFramesPerSecond, -this.byteTokens / l.maxBytesPerSecond);
    const pauseMs = Math.max(1, Math.ceil(waitS * 1000));
    this.ratePauses++;
    this.hold();
    this.rateTimer = setTimeout(() => {
      this.rateTimer = null;
      if (this.state === 'closed') return;
      this.feed();
    }, pauseMs);
    if (this.ratePauses === 1) this.hooks.rateLimited(this, pauseMs);
  }

  private readonly onDrain = (): void => {
    this.congested = false;
    while (this.queue.length && !this.congested) {
      const b = this.queue.shift()!;
      this.queuedBytes -= b.length;
      this.congested = !this.stream.write(b);
    }
  };

  private readonly onStreamError = (err: Error): void => {
    this.close(`socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
  };

  private readonly onStreamClose = (): void => {
    this.close('connection closed by peer');
  };

  private readonly onStreamEnd = (): void => {
    // The pile half-closed; YKC has no use for half-open connections. The owner closes it, in
    // batches when thousands end at once (a power cut at a site), so live piles keep being served.
    // What it sent last but is still waiting its turn (rate, slices) is handled first.
    if (this.backlog) this.endAfterBacklog = true;
    else this.hooks.ended(this);
  };

  /** Next sequence number for a frame we originate (0, 1, … wrapping at 65535). */
  nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    return s;
  }

  /** Encodes and writes; throws YkcError (YKC_FIELD…) on a bad frame, before anything is written. */
  send(frame: FrameInput): Buffer {
    if (this.state === 'closed') throw new YkcError('YKC_CLOSED', `connection to ${this.pileNo ?? this.remote} is closed`, { pileNo: this.pileNo });
    const order: CrcOrder = this.limits.replyCrcOrder === 'learned' && this.crcOrder === 'hi-first' ? 'hi-first' : 'lo-first';
    const buf = encodeFrame({ ...frame, crcOrder: frame.crcOrder ?? order });
    this.writeRaw(buf);
    return buf;
  }

  writeRaw(buf: Buffer): void {
    if (this.state === 'closed') return;
    this.framesOut++;
    this.bytesOut += buf.length;
    if (this.congested) {
      if (this.queuedBytes + buf.length > this.limits.maxOutboundBytes) {
        this.close('outbound queue full (pile not reading)');
        return;
      }
      this.queue.push(buf);
      this.queuedBytes += buf.length;
      return;
    }
    this.congested = !this.stream.write(buf);
  }

  get queued(): number {
    return this.queuedBytes;
  }

  get splitterStats(): FrameSplitter['stats'] {
    return this.splitter.stats;
  }

  /**
   * Sends what is queued, then closes after `graceMs` (a refusal must leave before the socket is
   * destroyed). Nothing received meanwhile is acted on.
   */
  endThenClose(reason: string, graceMs = 50): void {
    if (this.state === 'closed' || this.ending) return;
    this.ending = true;
    this.stream.pause();
    (this.stream as Duplex & { end?: () => void }).end?.();
    setTimeout(() => this.close(reason), graceMs).unref?.();
  }

  /** Closes once; the first reason wins. */
  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason = reason;
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.rateTimer = null;
    if (this.resumeAt) clearImmediate(this.resumeAt);
    this.resumeAt = null;
    this.backlog = null;
    this.queue = [];
    this.queuedBytes = 0;
    this.stream.off('data', this.onData);
    this.stream.off('drain', this.onDrain);
    this.stream.off('close', this.onStreamClose);
    this.stream.off('end', this.onStreamEnd);
    // Keep an error listener: a late socket error after close must not become uncaught.
    this.stream.on('error', () => {});
    this.stream.off('error', this.onStreamError);
    this.stream.destroy();
    this.hooks.closed(this, reason);
  }

  info(): SessionInfo {
    return {
      sessionId: this.id,
      pileNo: this.pileNo,
      remote: this.remote,
      state: this.state,
      connectedAt: this.connectedAt,
      loggedInAt: this.loggedInAt,
      lastSeen: this.lastSeen,
      version: this.version,
      pileType: this.pileType,
      gunCount: this.gunCount,
      firmwareVersion: this.firmwareVersion,
      iccid: this.iccid,
      crcOrder: this.crcOrder,
      hiFirstCrcFrames: this.hiFirstCrcFrames,
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
  }
}

export type { DecodedFrame };
