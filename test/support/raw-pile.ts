/**
 * A pile client that is not ours: node's net module, its own cutting of the byte stream into frames
 * and its own CRC check (test/support/raw.ts), nothing from src/protocol. Tests build what it sends
 * by hand (rawFrame) and read the gateway's replies byte by byte, by the tables of docs/protocol.md.
 */
import * as net from 'net';
import { crcBitwise } from './raw';

export interface RawFrame {
  raw: Buffer;
  type: number;
  seq: Buffer;
  flag: number;
  body: Buffer;
  /** The CRC is right and sent low byte first (what the gateway must send by default). */
  crcLoFirst: boolean;
  crcHiFirst: boolean;
}

/** A pile over real TCP: cuts what it receives into frames by itself and hands them out in arrival order. */
export class RawPile {
  private pending = Buffer.alloc(0);
  private readonly inbox: RawFrame[] = [];
  private waiter: { resolve: (f: RawFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  closed = false;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d) => this.onData(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      if (this.waiter) {
        clearTimeout(this.waiter.timer);
        this.waiter.reject(new Error('connection closed by the gateway'));
        this.waiter = null;
      }
    });
  }

  static connect(port: number): Promise<RawPile> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => resolve(new RawPile(sock)));
      sock.once('error', reject);
    });
  }

  private onData(d: Buffer): void {
    this.pending = Buffer.concat([this.pending, d]);
    for (;;) {
      const start = this.pending.indexOf(0x68);
      if (start < 0) {
        this.pending = Buffer.alloc(0);
        return;
      }
      if (start > 0) this.pending = this.pending.subarray(start);
      if (this.pending.length < 2) return;
      const total = this.pending[1] + 4;
      if (this.pending.length < total) return;
      const raw = Buffer.from(this.pending.subarray(0, total));
      this.pending = this.pending.subarray(total);
      const c = crcBitwise(raw.subarray(2, total - 2));
      const f: RawFrame = {
        raw,
        type: raw[5],
        seq: raw.subarray(2, 4),
        flag: raw[4],
        body: raw.subarray(6, total - 2),
        crcLoFirst: raw[total - 2] === (c & 0xff) && raw[total - 1] === c >>> 8,
        crcHiFirst: raw[total - 2] === c >>> 8 && raw[total - 1] === (c & 0xff),
      };
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        clearTimeout(w.timer);
        w.resolve(f);
      } else this.inbox.push(f);
    }
  }

  write(b: Buffer | string): void {
    this.sock.write(typeof b === 'string' ? Buffer.from(b.replace(/\s+/g, ''), 'hex') : b);
  }

  /** Writes in chunks of n bytes, one TCP write each, waiting for each to be flushed. */
  async writeChunked(b: Buffer, n: number): Promise<void> {
    for (let i = 0; i < b.length; i += n) {
      await new Promise<void>((r) => this.sock.write(b.subarray(i, i + n), () => r()));
    }
  }

  /** The next frame the gateway sent, whatever its type: tests see every frame, in order. */
  next(timeoutMs = 3000): Promise<RawFrame> {
    const have = this.inbox.shift();
    if (have) return Promise.resolve(have);
    if (this.closed) return Promise.reject(new Error('connection closed by the gateway'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no frame from the gateway within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  unread(): number {
    return this.inbox.length;
  }

  close(): void {
    this.sock.destroy();
  }
}
