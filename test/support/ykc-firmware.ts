/**
 * An imperfect pile firmware for adversarial order tests, written from docs/protocol.md alone: bodies
 * built byte by byte (BCD, little-endian BIN, CP56Time2a), framed by test/support/raw.ts with its
 * own bit-by-bit CRC-16/MODBUS, sent over a plain socket (test/support/raw-pile.ts). Nothing from src/.
 */
import { rawFrame } from './raw';
import { RawPile } from './raw-pile';

const le = (v: number, n: number): string => {
  const b = Buffer.alloc(n);
  let x = BigInt(Math.round(v));
  for (let i = 0; i < n; i++) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b.toString('hex');
};
const bcd = (digits: string, bytes: number): string => digits.padStart(bytes * 2, '0');

/** §3.2 CP56Time2a of a China wall time given as [y, mo, d, h, mi, s]. */
export function cp56(t: [number, number, number, number, number, number]): string {
  const [y, mo, d, h, mi, s] = t;
  return le(s * 1000, 2) + le(mi, 1) + le(h, 1) + le(d, 1) + le(mo, 1) + le(y - 2000, 1);
}

export const ZERO_TRADE = '0'.repeat(32);

export class Firmware {
  private seq = 0;
  constructor(readonly pile: RawPile, readonly pileNo: string) {}

  private send(type: number, body: string): void {
    this.seq = (this.seq + 1) & 0xffff;
    const s = Buffer.alloc(2);
    s.writeUInt16LE(this.seq);
    this.pile.write(rawFrame(type, body, s.toString('hex')));
  }

  /** Sends a frame with a given sequence number (resends with another seq). */
  sendSeq(type: number, body: string, seq: number): void {
    const s = Buffer.alloc(2);
    s.writeUInt16LE(seq);
    this.pile.write(rawFrame(type, body, s.toString('hex')));
  }

  /** Waits for the gateway's frame of this type, skipping others. */
  async expect(type: number, timeoutMs = 5000): Promise<Buffer> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.pile.next(Math.max(50, until - Date.now()));
      if (f.type === type) return f.body;
    }
  }

  /** §5.1 0x01: DC, n guns, v1.5, firmware ascii 8, network LAN, no SIM, carrier other. */
  async login(guns = 2): Promise<void> {
    this.send(0x01, `${bcd(this.pileNo, 7)}00${le(guns, 1)}0F${Buffer.from('BADFW1.0', 'ascii').toString('hex')}01${'00'.repeat(10)}04`);
    const b = await this.expect(0x02);
    if (b[7] !== 0) throw new Error('login refused');
  }

  /** §5.2 0x13 (60 bytes). */
  realtime(gunNo: number, tradeNo: string, o: { state: number; plugged?: number; energy?: number; amount?: number; minutes?: number }): void {
    const body =
      bcd(tradeNo, 16) + bcd(this.pileNo, 7) + bcd(String(gunNo), 1) + le(o.state, 1) + '00' + le(o.plugged ?? 1, 1) +
      le(3800, 2) + le(1000, 2) + le(75, 1) + '00'.repeat(8) + le(40, 1) + le(70, 1) + le(o.minutes ?? 1, 2) + le(30, 2) +
      le(o.energy ?? 0, 4) + le(o.energy ?? 0, 4) + le(o.amount ?? 0, 4) + '0000';
    this.send(0x13, body);
  }

  /** §5.3 0x31 card start request (51 bytes). */
  card(gunNo: number, physical: string): void {
    this.send(0x31, bcd(this.pileNo, 7) + bcd(String(gunNo), 1) + '01' + '00' + physical.padStart(16, '0') + '00'.repeat(16) + '00'.repeat(17));
  }

  /** §5.3 0x33 remote start reply (26 bytes). */
  startReply(gunNo: number, tradeNo: string, result: number, reason = 0): void {
    this.send(0x33, bcd(tradeNo, 16) + bcd(this.pileNo, 7) + bcd(String(gunNo), 1) + le(result, 1) + le(reason, 1));
  }

  /** §5.3 0x3B transaction record (158 bytes); all the energy in the flat block. Returns the body hex. */
  recordBody(gunNo: number, tradeNo: string, r: {
    start: [number, number, number, number, number, number]; end: [number, number, number, number, number, number];
    meterStart: number; meterEnd: number; energy: number; startType?: number; stopReason?: number;
    /** Unit prices sharp, peak, flat, valley in 0.00001 yuan/kWh (the pile's tariff; default 1.00000 yuan/kWh each). */
    prices?: [number, number, number, number];
  }): string {
    const [ps, pp, pf, pv] = r.prices ?? [100_000, 100_000, 100_000, 100_000];
    const amount = Math.floor((r.energy * pf) / 100_000); // 0.0001 kWh × yuan/kWh → 0.0001 yuan
    const block = (p: number, e: number, a: number) => le(p, 4) + le(e, 4) + le(e, 4) + le(a, 4);
    return (
      bcd(tradeNo, 16) + bcd(this.pileNo, 7) + bcd(String(gunNo), 1) + cp56(r.start) + cp56(r.end) +
      block(ps, 0, 0) + block(pp, 0, 0) + block(pf, r.energy, amount) + block(pv, 0, 0) +
      le(r.meterStart, 5) + le(r.meterEnd, 5) + le(r.energy, 4) + le(r.energy, 4) + le(amount, 4) +
      '00'.repeat(17) + le(r.startType ?? 4, 1) + cp56(r.end) + le(r.stopReason ?? 0x40, 1) + '00000000D14B0A54'
    );
  }

  record(...a: Parameters<Firmware['recordBody']>): string {
    const body = this.recordBody(...a);
    this.send(0x3b, body);
    return body;
  }
}

export async function firmware(port: number, pileNo: string, guns = 2): Promise<Firmware> {
  const p = await RawPile.connect(port);
  const fw = new Firmware(p, pileNo);
  await fw.login(guns);
  return fw;
}
