/**
 * Transaction records as an outside pile sends them, built by hand (test/support/raw.ts: own CRC,
 * no project encoder) from the real captured 0x3B body, and a YkcServer on 127.0.0.1 to send them
 * to through independent raw-socket piles (test/support/raw-pile.ts).
 */
import should from 'should';
import { GatewayOptions, ProblemEvent, RecordJournal, YkcServer } from '../../src/gateway';
import { rawFrame } from './raw';
import { RawFrame, RawPile } from './raw-pile';
import { loadVectors } from './repo';

const CAPTURED = loadVectors().find((v) => v.type === '0x3B' && v.kind === 'captured (test input)')!;
/** The captured body (docs/protocol.md 0x3B, 158 bytes): trade number 0–15, pile 16–22, …, card number 150–157. */
export const BASE_BODY = CAPTURED.hex.slice(12, -4);
export const BASE_PILE = '18220000000155';
export const BASE_TRADE = BASE_BODY.slice(0, 32);
export const ZERO_TRADE = '0'.repeat(32);

/** The captured record's body with another trade number, pile in the body, or content (the card-number bytes). */
export function recordBody(o: { trade?: string; pile?: string; variant?: number } = {}): string {
  let h = BASE_BODY;
  if (o.trade) h = o.trade + h.slice(32);
  if (o.pile) h = h.slice(0, 32) + o.pile + h.slice(46);
  if (o.variant !== undefined) h = h.slice(0, 300) + o.variant.toString(16).padStart(16, '0');
  should(h.length).equal(316);
  return h;
}

export const recordFrame = (body: string, seqHex: string): Buffer => rawFrame(0x3b, body, seqHex);

/** docs/protocol.md 5.1 login body: pile, DC, 1 gun, v1.5, firmware, LAN, no SIM, carrier "other". */
const loginFrame = (pileNo: string): Buffer => rawFrame(0x01, `${pileNo}00010F${Buffer.from('RECPILE1').toString('hex')}01${'00'.repeat(10)}04`, '0000');

/** 0x40 body by docs/protocol.md: trade number BCD 16, result 1 byte. */
export const ack = (f: RawFrame): { tradeNo: string; result: number; seq: string } => {
  should(f.type).equal(0x40, `expected 0x40, got 0x${f.type.toString(16)}`);
  return { tradeNo: f.body.subarray(0, 16).toString('hex'), result: f.body[16], seq: f.seq.toString('hex') };
};

/**
 * Reads the pile's 0x40 acknowledgements (other frames skipped) until none comes within `ms`: each must
 * be a success; `onAck` gets the record's number, the trade number's last 16 digits.
 */
export async function readAcks(pile: RawPile, ms: number, onAck: (n: number) => void): Promise<void> {
  for (;;) {
    let f;
    try {
      f = await pile.next(ms);
    } catch {
      return;
    }
    if (f.type !== 0x40) continue;
    const a = ack(f);
    should(a.result).equal(0);
    onAck(Number(a.tradeNo.slice(16)));
  }
}

export class RecordRig {
  server!: YkcServer;
  port = 0;
  private readonly piles: RawPile[] = [];

  /** Every problem the server reported since start(), from its construction on (journal problems come first). */
  problems: ProblemEvent[] = [];

  async start(opts: Partial<GatewayOptions> = {}, journal?: RecordJournal): Promise<YkcServer> {
    this.server = new YkcServer({ autoTimeSync: false, recordConfirm: 'after-store', ...opts }, journal);
    this.problems = [];
    this.server.on('problem', (p) => this.problems.push(p));
    this.port = (await this.server.listen(0, '127.0.0.1')).port;
    return this.server;
  }

  async pile(pileNo: string): Promise<RawPile> {
    const p = await RawPile.connect(this.port);
    this.piles.push(p);
    p.write(loginFrame(pileNo));
    const r = await p.next();
    should([r.type, r.body.subarray(0, 7).toString('hex'), r.body[7]]).eql([0x02, pileNo, 0]);
    return p;
  }

  /**
   * The next frame the gateway sends this pile after everything it sent for earlier frames: a
   * heartbeat goes out and its 0x04 comes back after any earlier answer (one connection, in order).
   */
  async settle(p: RawPile, pileNo: string, seqHex: string): Promise<RawFrame[]> {
    p.write(rawFrame(0x03, `${pileNo}0100`, seqHex));
    const before: RawFrame[] = [];
    for (;;) {
      const f = await p.next();
      if (f.type === 0x04 && f.seq.toString('hex') === seqHex) return before;
      before.push(f);
    }
  }

  /** The first problem with this code, reported already or within timeoutMs. */
  async problem(code: string, timeoutMs = 5000): Promise<ProblemEvent> {
    return this.problems.find((p) => p.code === code) ?? nextEvent<ProblemEvent>(this.server, 'problem', (p) => p.code === code, timeoutMs);
  }

  async stop(): Promise<void> {
    for (const p of this.piles.splice(0)) p.close();
    await this.server?.close();
  }
}

/** The next `name` event of the server that satisfies pred, or an error after timeoutMs. */
export function nextEvent<T>(server: YkcServer, name: string, pred: (e: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
  const em = server as unknown as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const on = (e: T) => {
      if (!pred(e)) return;
      clearTimeout(t);
      em.off(name, on);
      resolve(e);
    };
    const t = setTimeout(() => {
      em.off(name, on);
      reject(new Error(`no "${name}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    em.on(name, on);
  });
}
