/**
 * A small scripted platform for the virtual-pile tests: a real net.Server on 127.0.0.1 port 0 that
 * frames what piles send with the protocol core's FrameSplitter, decodes it with decodeFrame,
 * re-checks every frame's length and CRC with its own bitwise CRC (not the library's table), and
 * answers by policy. Tests can also send any frame and wait for any frame.
 */
import { EventEmitter } from 'events';
import * as net from 'net';
import { Body, CrcOrder, DecodedFrame, FrameSplitter, YkcError, decodeFrame, encodeFrame } from '../../src/protocol';
import { Tariff } from '../../src/billing/tariff';

/** CRC-16/MODBUS written out bit by bit, as docs/protocol.md §2.1 gives it. */
export function crcBitwise(data: Uint8Array): number {
  let c = 0xffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xa001 : c >> 1;
  }
  return c;
}

export interface Conn {
  id: number;
  socket: net.Socket;
  splitter: FrameSplitter;
  closed: boolean;
  errors: YkcError[];
  /** Sequence counter for frames the platform originates. */
  seq: number;
}

export interface Got {
  frame: DecodedFrame;
  raw: Buffer;
  order: CrcOrder;
  conn: Conn;
  /** Index in `received`. */
  index: number;
}

export type Decision = 'answer' | 'ignore';

export interface Policy {
  /** Login reply result, or 'ignore'. A function may decide per attempt (n counts from 1). */
  login: (f: DecodedFrame, n: number) => 0 | 1 | 'ignore';
  heartbeat: (f: DecodedFrame) => Decision;
  /** The platform's model; null = the platform has none to give (0x09 is then ignored). */
  model: Tariff | null;
  modelCheck: (f: DecodedFrame) => Decision;
  modelRequest: (f: DecodedFrame, n: number) => Decision;
  /** 0x3B: reply 0x40 with result 0, 1, or ignore. */
  record: (f: DecodedFrame, n: number) => 0 | 1 | 'ignore';
  /** 0x31: authorise with a trade number and balance, refuse with a reason, or ignore. */
  cardStart: (f: DecodedFrame) => { accept: true; tradeNo: string; balance: number; logicalCardNo?: string } | { accept: false; reason: number } | 'ignore';
}

export class ScriptedPlatform extends EventEmitter {
  readonly server = net.createServer((s) => this.onConnection(s));
  readonly conns: Conn[] = [];
  readonly received: Got[] = [];
  /** Frames whose length or CRC the independent check rejected (must stay empty). */
  readonly badFrames: string[] = [];
  readonly policy: Policy;
  private counts = new Map<string, number>();

  constructor(policy: Partial<Policy> = {}) {
    super();
    this.policy = {
      login: () => 0,
      heartbeat: () => 'answer',
      model: null,
      modelCheck: () => 'answer',
      modelRequest: () => 'answer',
      record: () => 0,
      cardStart: () => 'ignore',
      ...policy,
    };
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** The connection that most recently logged in successfully (or the newest one). */
  get current(): Conn {
    const open = this.conns.filter((c) => !c.closed);
    return open[open.length - 1] ?? this.conns[this.conns.length - 1];
  }

  /** Sends a frame; without seq the connection's own counter is used. Returns the seq used. */
  send(conn: Conn, type: number, body: Body, seq?: number): number {
    const s = seq ?? conn.seq++ & 0xffff;
    conn.socket.write(encodeFrame({ type, seq: s, body }));
    return s;
  }

  /** Sends raw bytes (frames built by hand from docs/protocol.md tables). */
  sendRaw(conn: Conn, bytes: Buffer): void {
    conn.socket.write(bytes);
  }

  mark(): number {
    return this.received.length;
  }

  frames(type: number, from = 0): Got[] {
    return this.received.slice(from).filter((g) => g.frame.type === type);
  }

  /** The first frame (from index `from`) matching pred, now or when it arrives. */
  waitFor(pred: (g: Got) => boolean, opts: { from?: number; timeout?: number; what?: string } = {}): Promise<Got> {
    const from = opts.from ?? 0;
    const hit = this.received.slice(from).find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const onFrame = (g: Got) => {
        if (g.index >= from && pred(g)) done(null, g);
      };
      const t = setTimeout(() => done(new Error(`timed out waiting for ${opts.what ?? 'a frame'}`)), opts.timeout ?? 5000);
      const done = (e: Error | null, g?: Got) => {
        clearTimeout(t);
        this.off('frame', onFrame);
        if (e) reject(e);
        else resolve(g!);
      };
      this.on('frame', onFrame);
    });
  }

  waitType(type: number, from = 0, timeout = 5000, extra: (g: Got) => boolean = () => true): Promise<Got> {
    return this.waitFor((g) => g.frame.type === type && extra(g), { from, timeout, what: `0x${type.toString(16)}` });
  }

  waitConnections(n: number, timeout = 5000): Promise<void> {
    if (this.conns.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off('connection', on);
        reject(new Error(`timed out waiting for ${n} connections (have ${this.conns.length})`));
      }, timeout);
      const on = () => {
        if (this.conns.length >= n) {
          clearTimeout(t);
          this.off('connection', on);
          resolve();
        }
      };
      this.on('connection', on);
    });
  }

  private count(key: string): number {
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n;
  }

  private onConnection(socket: net.Socket): void {
    const conn: Conn = {
      id: this.conns.length,
      socket,
      closed: false,
      errors: [],
      seq: 0,
      splitter: new FrameSplitter(
        (raw, order) => this.onFrame(conn, Buffer.from(raw), order),
        (e) => conn.errors.push(e),
      ),
    };
    this.conns.push(conn);
    socket.on('data', (d: Buffer) => conn.splitter.push(d));
    socket.on('close', () => {
      conn.closed = true;
      this.emit('close', conn);
    });
    socket.on('error', () => {});
    this.emit('connection', conn);
  }

  private onFrame(conn: Conn, raw: Buffer, order: CrcOrder): void {
    const crc = crcBitwise(raw.subarray(2, raw.length - 2));
    const lo = raw[raw.length - 2] === (crc & 0xff) && raw[raw.length - 1] === crc >> 8;
    const hi = raw[raw.length - 2] === crc >> 8 && raw[raw.length - 1] === (crc & 0xff);
    if (raw[0] !== 0x68 || raw[1] + 4 !== raw.length || !(lo || hi)) this.badFrames.push(raw.toString('hex'));
    const frame = decodeFrame(raw, { strict: true });
    const g: Got = { frame, raw, order, conn, index: this.received.length };
    this.received.push(g);
    this.autoReply(g);
    this.emit('frame', g);
  }

  private autoReply(g: Got): void {
    const { frame: f, conn } = g;
    const b = f.body;
    const p = this.policy;
    const key = `${conn.id}:${b.pileNo ?? ''}`;
    switch (f.type) {
      case 0x01: {
        const r = p.login(f, this.count(`login:${b.pileNo}`));
        if (r === 'ignore') return;
        this.send(conn, 0x02, { pileNo: b.pileNo, result: r }, f.seq);
        if (r === 1) conn.socket.end();
        return;
      }
      case 0x03:
        if (p.heartbeat(f) === 'answer') this.send(conn, 0x04, { pileNo: b.pileNo, gunNo: b.gunNo, reply: 0 }, f.seq);
        return;
      case 0x05:
        if (p.modelCheck(f) === 'answer') {
          const same = !!p.model && p.model.modelCode === b.modelCode;
          this.send(conn, 0x06, { pileNo: b.pileNo, modelCode: b.modelCode, result: same ? 0 : 1 }, f.seq);
        }
        return;
      case 0x09:
        if (p.model && p.modelRequest(f, this.count(`model:${key}`)) === 'answer') {
          this.send(conn, 0x0a, p.model.toBody(String(b.pileNo)) as unknown as Body, f.seq);
        }
        return;
      case 0x31: {
        const r = p.cardStart(f);
        if (r === 'ignore') return;
        this.send(
          conn,
          0x32,
          r.accept
            ? { tradeNo: r.tradeNo, pileNo: b.pileNo, gunNo: b.gunNo, logicalCardNo: r.logicalCardNo ?? '1000000000000001', balance: r.balance, result: 1, failReason: 0 }
            : { tradeNo: '0'.repeat(32), pileNo: b.pileNo, gunNo: b.gunNo, logicalCardNo: '0', balance: 0, result: 0, failReason: r.reason },
          f.seq,
        );
        return;
      }
      case 0x3b: {
        const r = p.record(f, this.count(`record:${b.tradeNo}`));
        if (r !== 'ignore') this.send(conn, 0x40, { tradeNo: b.tradeNo, result: r }, f.seq);
        return;
      }
    }
  }
}

/** The document's worked model (docs/protocol.md §7): sharp 2.0, peak 3.0, flat 4.0, valley 5.0 + service. */
export function sampleTariff(code = '0100'): Tariff {
  const slots = new Array<number>(48).fill(3);
  for (let k = 16; k < 48; k++) slots[k] = 2; // 08:00–24:00 flat
  for (let k = 20; k < 24; k++) slots[k] = 1; // 10:00–12:00 peak
  for (let k = 36; k < 40; k++) slots[k] = 0; // 18:00–20:00 sharp
  return new Tariff({ modelCode: code, elec: [200000, 300000, 400000, 500000], service: [40000, 40000, 40000, 40000], lossRatio: 0, slots });
}

/** Resolves on the next emitted event matching pred, or rejects after timeout ms. */
export function nextEvent<T>(em: EventEmitter, name: string, pred: (v: T) => boolean = () => true, timeout = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (v: T) => {
      if (pred(v)) done(null, v);
    };
    const t = setTimeout(() => done(new Error(`timed out waiting for event "${name}"`)), timeout);
    const done = (e: Error | null, v?: T) => {
      clearTimeout(t);
      em.off(name, on);
      if (e) reject(e);
      else resolve(v as T);
    };
    em.on(name, on);
  });
}
