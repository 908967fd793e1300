/**
 * The "real pile" of the first-hour review: written from docs/protocol.md alone (§2 framing, §2.1 CRC,
 * §3 encodings, §5 field tables), on node's net module with the hand-made frames of
 * test/support/raw.ts (its own bit-by-bit CRC-16/MODBUS) and its own frame cutting. It imports nothing
 * from src/ — the gateway is checked by bytes a pile maker's firmware would send, not by our encoder
 * talking to our decoder.
 */
import * as net from 'net';
import { crc16, frameOf } from '../support/raw';

/** CRC-16/MODBUS (docs/protocol.md 2.1): reflected poly 0xA001, init 0xFFFF, over seq … body. */
export { crc16 };

/** 0x68 | L | seq (2 bytes as given) | flag 0 | type | body | CRC low byte first. */
export const frame = (type: number, body: Buffer, seq: [number, number] = [0, 0]): Buffer => frameOf(type, seq, body);

export const bcd = (digits: string): Buffer => Buffer.from(digits, 'hex');
const le = (n: number, width: number): Buffer => {
  const b = Buffer.alloc(width);
  b.writeUIntLE(n, 0, width);
  return b;
};

/** CP56Time2a (§3.2) of an instant as China wall time (UTC+8), weekday 0. */
export function cp56(at: Date): Buffer {
  const t = new Date(at.getTime() + 8 * 3600_000);
  const b = Buffer.alloc(7);
  b.writeUInt16LE(t.getUTCSeconds() * 1000 + t.getUTCMilliseconds(), 0);
  b[2] = t.getUTCMinutes();
  b[3] = t.getUTCHours();
  b[4] = t.getUTCDate();
  b[5] = t.getUTCMonth() + 1;
  b[6] = t.getUTCFullYear() - 2000;
  return b;
}

/** 0x01 login (§5.1, body 30). `version` is the protocol byte: 0x0F = 1.5, 0x0E = 1.4. */
export function login(pileNo: string, o: { guns?: number; version?: number; firmware?: string; iccid?: string } = {}, seq: [number, number] = [0, 0]): Buffer {
  const fw = Buffer.alloc(8);
  fw.write(o.firmware ?? 'FH-1.0.0', 'ascii');
  const body = Buffer.concat([bcd(pileNo), Buffer.from([0x00, o.guns ?? 1, o.version ?? 0x0f]), fw, Buffer.from([0x00]), bcd(o.iccid ?? '0'.repeat(20)), Buffer.from([0x00])]);
  return frame(0x01, body, seq);
}
export const heartbeat = (pileNo: string, gun: number, seq: [number, number]): Buffer => frame(0x03, Buffer.concat([bcd(pileNo), Buffer.from([gun, 0x00])]), seq);
export const modelCheck = (pileNo: string, model: string, seq: [number, number]): Buffer => frame(0x05, Buffer.concat([bcd(pileNo), bcd(model)]), seq);
export const modelRequest = (pileNo: string, seq: [number, number]): Buffer => frame(0x09, bcd(pileNo), seq);

/** 0x13 realtime (§5.2, body 60): gun state 2 idle / 3 charging, plugged 0/1. */
export function realtime(pileNo: string, gun: number, o: { tradeNo?: string; state?: number; plugged?: number } = {}, seq: [number, number] = [0, 0]): Buffer {
  const b = Buffer.alloc(60);
  bcd(o.tradeNo ?? '0'.repeat(32)).copy(b, 0);
  bcd(pileNo).copy(b, 16);
  b[23] = gun;
  b[24] = o.state ?? 2;
  b[25] = 0;
  b[26] = o.plugged ?? 0;
  return frame(0x13, b, seq);
}

/** 0x33 remote-start reply (§5.3, body 26): result 1 started / 0 failed with a reason (5 = not plugged). */
export const startReply = (tradeNo: string, pileNo: string, gun: number, started: boolean, reason: number, seq: [number, number]): Buffer =>
  frame(0x33, Buffer.concat([bcd(tradeNo), bcd(pileNo), Buffer.from([gun, started ? 1 : 0, reason])]), seq);

/**
 * A transaction record (§5.3 0x3B, and §9 for 0x3F / 0x39): one flat-tier session; `meterWidth` 5
 * for 0x3B (body 158), 4 for the pre-1.5 layout (body 156). Prices in 0.00001 yuan/kWh, energy in
 * 0.0001 kWh, amount truncated to 0.0001 yuan.
 */
export function record(type: number, tradeNo: string, pileNo: string, gun: number, o: { start: Date; end: Date; price: number; energy: number; meterStart?: number; meterWidth: 4 | 5 }, seq: [number, number]): Buffer {
  const amount = Math.floor((o.price * o.energy) / 100_000);
  const meterStart = o.meterStart ?? 1000;
  const vin = Buffer.alloc(17);
  vin.write('LFV0000000000FH01', 'ascii');
  const body = Buffer.concat([
    bcd(tradeNo), bcd(pileNo), Buffer.from([gun]), cp56(o.start), cp56(o.end),
    Buffer.alloc(16), Buffer.alloc(16), // sharp, peak: nothing
    le(o.price, 4), le(o.energy, 4), le(o.energy, 4), le(amount, 4), // flat
    Buffer.alloc(16), // valley
    le(meterStart, o.meterWidth), le(meterStart + o.energy, o.meterWidth), le(o.energy, 4), le(o.energy, 4), le(amount, 4),
    vin, Buffer.from([0x01]), cp56(o.end), Buffer.from([0x40]), Buffer.alloc(8),
  ]);
  return frame(type, body, seq);
}

export interface PileFrame {
  raw: Buffer;
  type: number;
  seq: Buffer;
  body: Buffer;
  crcOk: boolean;
}

/** One TCP connection as a pile: frames it receives are cut by the length byte and CRC-checked here. */
export class FirstHourPile {
  private buf = Buffer.alloc(0);
  private readonly inbox: PileFrame[] = [];
  readonly seen: PileFrame[] = [];
  private waiters: Array<{ pred: (f: PileFrame) => boolean; resolve: (f: PileFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  closed = false;
  private closeWaiters: Array<() => void> = [];

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => this.onData(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error('connection closed by the gateway'));
      }
      for (const c of this.closeWaiters.splice(0)) c();
    });
  }

  static connect(port: number, opts: { localAddress?: string } = {}): Promise<FirstHourPile> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', ...opts }, () => resolve(new FirstHourPile(s)));
      s.once('error', reject);
    });
  }

  get localPort(): number {
    return this.sock.localPort ?? 0;
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const i = this.buf.indexOf(0x68);
      if (i < 0) {
        this.buf = Buffer.alloc(0);
        return;
      }
      this.buf = this.buf.subarray(i);
      if (this.buf.length < 2) return;
      const n = this.buf[1] + 4;
      if (this.buf.length < n) return;
      const raw = Buffer.from(this.buf.subarray(0, n));
      this.buf = this.buf.subarray(n);
      const c = crc16(raw, 2, n - 2);
      const f: PileFrame = { raw, type: raw[5], seq: raw.subarray(2, 4), body: raw.subarray(6, n - 2), crcOk: raw[n - 2] === (c & 0xff) && raw[n - 1] === c >>> 8 };
      this.seen.push(f);
      const w = this.waiters.findIndex((x) => x.pred(f));
      if (w >= 0) {
        const [x] = this.waiters.splice(w, 1);
        clearTimeout(x.timer);
        x.resolve(f);
      } else this.inbox.push(f);
    }
  }

  write(b: Buffer): void {
    this.sock.write(b);
  }

  /** The next frame of `type` (already received or to come) matching pred. */
  next(type: number, timeoutMs = 10_000, pred: (f: PileFrame) => boolean = () => true): Promise<PileFrame> {
    const p = (f: PileFrame) => f.type === type && pred(f);
    const i = this.inbox.findIndex(p);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    if (this.closed) return Promise.reject(new Error('connection closed by the gateway'));
    return new Promise((resolve, reject) => {
      const w = {
        pred: p,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new Error(`no 0x${type.toString(16)} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  whenClosed(timeoutMs = 10_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Logs in and returns the 0x02 result byte (0 accepted). */
  async login(pileNo: string, o: Parameters<typeof login>[1] = {}): Promise<number> {
    this.write(login(pileNo, o));
    const r = await this.next(0x02);
    if (!r.crcOk) throw new Error('0x02 with a bad CRC');
    if (r.body.subarray(0, 7).toString('hex') !== pileNo) throw new Error(`0x02 for pile ${r.body.subarray(0, 7).toString('hex')}`);
    return r.body[7];
  }

  close(): void {
    this.sock.destroy();
  }
}
