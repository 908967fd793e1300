/**
 * One TCP connection of a virtual pile: framing in (FrameSplitter), bytes out through a writer
 * that can misbehave on purpose (split and merged writes, garbage between frames), and the pile's
 * own sequence counter, which restarts at 0 on every connection (docs/protocol.md §2.2).
 */
import * as net from 'net';
import { CrcOrder, FrameSplitter, YkcError } from '../protocol';
import { Random } from './random';

export interface WireFaults {
  /** Write every frame in 2–4 pieces on successive event-loop turns. */
  splitWrites?: boolean;
  /** Coalesce all frames of one event-loop turn into a single write. */
  mergeWrites?: boolean;
  /** Probability (true = 1) that a frame is preceded by 1–8 garbage bytes (never 0x68). */
  garbage?: boolean | number;
}

export class PileLink {
  private seq = 0;
  private readonly splitter: FrameSplitter;
  private incoming: Buffer[] = [];
  private chunks: Buffer[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;
  bytesOut = 0;
  bytesIn = 0;
  /** socket.write calls: more than frames with split writes, fewer with merged ones. */
  writes = 0;

  constructor(
    readonly socket: net.Socket,
    private readonly rnd: Random,
    private readonly faults: () => WireFaults,
    onFrame: (frame: Buffer, order: CrcOrder) => void,
    onError: (err: YkcError) => void,
  ) {
    this.splitter = new FrameSplitter(onFrame, onError);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      this.bytesIn += chunk.length;
      this.splitter.push(chunk);
      if (this.splitter.overLimit) {
        onError(new YkcError('YKC_GARBAGE', 'too much garbage from the platform; dropping the connection', { fatal: true }));
        this.destroy();
      }
    });
  }

  /** The sequence number for the next frame this pile originates. */
  nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    return s;
  }

  get splitterStats(): FrameSplitter['stats'] {
    return this.splitter.stats;
  }

  write(frame: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    const f = this.faults();
    const p = f.garbage === true ? 1 : typeof f.garbage === 'number' ? f.garbage : 0;
    let data = frame;
    if (p > 0 && this.rnd.chance(p)) {
      const junk = Buffer.alloc(this.rnd.int(1, 8));
      for (let i = 0; i < junk.length; i++) {
        let v = this.rnd.int(0, 255);
        if (v === 0x68) v = 0x69;
        junk[i] = v;
      }
      data = Buffer.concat([junk, frame]);
    }
    if (!f.splitWrites && !f.mergeWrites && !this.immediate) {
      this.raw(data);
      return;
    }
    this.incoming.push(data);
    this.schedule();
  }

  private schedule(): void {
    if (!this.immediate) this.immediate = setImmediate(() => this.drain());
  }

  private drain(): void {
    this.immediate = null;
    if (this.closed) return;
    const f = this.faults();
    if (this.chunks.length === 0 && this.incoming.length > 0) {
      const data = f.mergeWrites ? Buffer.concat(this.incoming.splice(0)) : this.incoming.shift()!;
      this.chunks = f.splitWrites ? this.cut(data) : [data];
    }
    const next = this.chunks.shift();
    if (next) this.raw(next);
    if (this.chunks.length > 0 || this.incoming.length > 0) this.schedule();
  }

  private cut(data: Buffer): Buffer[] {
    if (data.length < 2) return [data];
    const pieces = Math.min(data.length, this.rnd.int(2, 4));
    const cuts = new Set<number>();
    while (cuts.size < pieces - 1) cuts.add(this.rnd.int(1, data.length - 1));
    const at = [0, ...[...cuts].sort((a, b) => a - b), data.length];
    const out: Buffer[] = [];
    for (let i = 0; i + 1 < at.length; i++) out.push(data.subarray(at[i], at[i + 1]));
    return out;
  }

  private raw(data: Buffer): void {
    this.bytesOut += data.length;
    this.writes++;
    this.socket.write(data);
  }

  /** Writes what is queued, then closes the write side (the platform sees FIN). */
  end(): void {
    if (this.closed) return;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    const rest = [...this.chunks, ...this.incoming];
    this.chunks = [];
    this.incoming = [];
    for (const r of rest) this.raw(r);
    this.closed = true;
    this.socket.end();
  }

  destroy(): void {
    this.stop();
    this.socket.destroy();
  }

  /**
   * Stops using the connection without closing it: a "stale" connection the platform still holds
   * open, as after a pile reboot that never sent FIN.
   */
  abandon(): void {
    this.stop();
    this.socket.removeAllListeners('data');
    this.socket.on('error', () => {});
  }

  private stop(): void {
    this.closed = true;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    this.incoming = [];
    this.chunks = [];
  }
}
