/** A scripted pile for tests: a real TCP client that writes raw bytes and collects decoded frames. */
import * as net from 'net';
import { decodeFrame, DecodedFrame, FrameSplitter } from '../../src/protocol';

export class ScriptedPile {
  readonly frames: DecodedFrame[] = [];
  readonly raw: Buffer[] = [];
  closed = false;
  private waiters: Array<{ pred: (f: DecodedFrame) => boolean; resolve: (f: DecodedFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  private closeWaiters: Array<() => void> = [];
  private readonly splitter = new FrameSplitter((f) => this.onFrame(Buffer.from(f)));

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => this.splitter.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new Error('pile connection closed'));
      }
      this.waiters = [];
      for (const c of this.closeWaiters) c();
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<ScriptedPile> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, host, () => resolve(new ScriptedPile(sock)));
      sock.once('error', reject);
    });
  }

  private onFrame(b: Buffer): void {
    this.raw.push(b);
    const f = decodeFrame(b);
    this.frames.push(f);
    const i = this.waiters.findIndex((w) => w.pred(f));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(f);
    }
  }

  write(b: Buffer | string): void {
    this.sock.write(typeof b === 'string' ? Buffer.from(b.replace(/\s+/g, ''), 'hex') : b);
  }

  /** Resolves with the next frame (already received or future) matching type / predicate. */
  next(type: number, pred: (f: DecodedFrame) => boolean = () => true, timeoutMs = 2000, fromIndex = 0): Promise<DecodedFrame> {
    const p = (f: DecodedFrame) => f.type === type && pred(f);
    const have = this.frames.slice(fromIndex).find(p);
    if (have) {
      this.frames.splice(this.frames.indexOf(have), 1);
      return Promise.resolve(have);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no frame 0x${type.toString(16)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({
        pred: p,
        resolve: (f) => {
          this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f);
        },
        reject,
        timer,
      });
    });
  }

  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }

  close(): void {
    this.sock.destroy();
  }
}
