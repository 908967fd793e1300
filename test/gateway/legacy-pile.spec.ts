/**
 * Piles older than YKC 1.5 (issue 12.6): a 1.4 pile logs in with protocol byte 0x0E and sends its
 * transaction record as 0x3F; a 1.2 pile (0x0C) sends 0x39. Both records are 0x3B with 4-byte meter
 * readings, body 156 (§9 of the protocol notes; the layout is inferred). The pile below is
 * independent of the codec: node's net module, its own CRC, frames built byte by byte from the
 * tables, replies cut and read by hand. The gateway must log it in as "1.4", hand the record to the
 * 'record' event (and through a real Node-RED to ykc-in and ykc-billing), and answer 0x40.
 */
import * as net from 'net';
import should from 'should';
import { RecordEvent, LoginEvent, YkcServer } from '../../src/gateway';
import { auditRecord, billRecord, Tariff } from '../../src/billing';
import { Flow, helper } from '../nodes/commands-harness';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { crc16, frameOf } from '../support/raw';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const inNode = require('../../nodes/ykc-in');
const billingNode = require('../../nodes/ykc-billing');
/* eslint-enable @typescript-eslint/no-require-imports */

// ---- the independent old pile ---------------------------------------------------------------------

const frame = frameOf;

const le = (v: number, w: number): Buffer => {
  const b = Buffer.alloc(w);
  for (let i = 0; i < w; i++) b[i] = Math.floor(v / 256 ** i) % 256;
  return b;
};
const bcd = (digits: string): Buffer => Buffer.from(digits, 'hex');
/** CP56Time2a: ms within the minute LE, minute, hour, day, month, year − 2000. */
const cp56 = (y: number, mo: number, d: number, h: number, mi: number, s: number): Buffer => Buffer.concat([le(s * 1000, 2), Buffer.from([mi, h, d, mo, y - 2000])]);

/** Login (0x01, 30 bytes) with the given protocol byte: DC, 1 gun, firmware, LAN, no SIM, carrier other. */
const login = (pile: string, version: number): Buffer =>
  frame(0x01, [0, 1], Buffer.concat([bcd(pile), Buffer.from([0x00, 0x01, version]), Buffer.from('OLD-1.40', 'ascii'), Buffer.from([0x01]), Buffer.alloc(10), Buffer.from([0x04])]));

const PRICE = 130000; // 1.30000 yuan/kWh (0.8 electricity + 0.5 service), every level
/**
 * The 156-byte record: 0x3B's layout with meterStart/meterEnd 4 bytes. 10.0000 kWh flat at 1.3 →
 * 13.0000 yuan, 2024-05-06 10:00–11:00, meter 1234.5678 → 1244.5678 kWh.
 */
function recordBody(pile: string, trade: string): Buffer {
  const block = (energy: number) => Buffer.concat([le(PRICE, 4), le(energy, 4), le(energy, 4), le(Math.round((PRICE * energy) / 100000), 4)]);
  const body = Buffer.concat([
    bcd(trade),
    bcd(pile),
    Buffer.from([0x01]),
    cp56(2024, 5, 6, 10, 0, 0),
    cp56(2024, 5, 6, 11, 0, 0),
    block(0), // sharp
    block(0), // peak
    block(100000), // flat 10.0000 kWh, 13.0000 yuan
    block(0), // valley
    le(12345678, 4), // meter start 1234.5678 kWh (4 bytes in 1.4)
    le(12445678, 4), // meter end
    le(100000, 4),
    le(100000, 4),
    le(130000, 4),
    Buffer.alloc(17), // no VIN
    Buffer.from([0x01]), // app
    cp56(2024, 5, 6, 11, 0, 0),
    Buffer.from([0x40]), // stopped from the app
    Buffer.alloc(8),
  ]);
  should(body.length).equal(156);
  return body;
}

class OldPile {
  private buf = Buffer.alloc(0);
  readonly frames: Buffer[] = [];
  private waiters: Array<() => void> = [];
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 2 && this.buf[0] === 0x68 && this.buf.length >= this.buf[1] + 4) {
        this.frames.push(Buffer.from(this.buf.subarray(0, this.buf[1] + 4)));
        this.buf = this.buf.subarray(this.buf[1] + 4);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('error', () => {});
  }
  static connect(port: number): Promise<OldPile> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new OldPile(s)));
      s.once('error', reject);
    });
  }
  write(b: Buffer): void {
    this.sock.write(b);
  }
  /** The first frame of this type received (waits up to 5 s). */
  async next(type: number, timeoutMs = 5000): Promise<Buffer> {
    const t0 = Date.now();
    for (;;) {
      const i = this.frames.findIndex((f) => f[5] === type);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (Date.now() - t0 > timeoutMs) throw new Error(`no 0x${type.toString(16)} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }
  close(): void {
    this.sock.destroy();
  }
}

/** A 0x40 by its table: trade number BCD 16 + result (0 received), CRC low byte first, seq copied. */
function checkAck(ack: Buffer, request: Buffer, trade: string): void {
  should(ack[1]).equal(17 + 4);
  should(ack.subarray(2, 4).toString('hex')).equal(request.subarray(2, 4).toString('hex'));
  should(ack.subarray(6, 22).toString('hex')).equal(trade);
  should(ack[22]).equal(0);
  const c = crc16(ack, 2, ack.length - 2);
  should([ack[ack.length - 2], ack[ack.length - 1]]).eql([c & 0xff, c >>> 8]);
}

const TARIFF_BODY = {
  modelCode: '0014',
  sharpElecPrice: 0.8, sharpServicePrice: 0.5,
  peakElecPrice: 0.8, peakServicePrice: 0.5,
  flatElecPrice: 0.8, flatServicePrice: 0.5,
  valleyElecPrice: 0.8, valleyServicePrice: 0.5,
  lossRatio: 0,
  slots: new Array(48).fill(2),
};

describe('gateway: v1.4 and older piles (0x3F, 0x39 records; issue 12.6)', function () {
  this.timeout(15_000);
  let server: YkcServer | undefined;
  const piles: OldPile[] = [];
  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await server?.close();
    server = undefined;
  });

  for (const [version, type, label, name, pile, trade] of [
    [0x0e, 0x3f, '1.4', 'transactionRecordV14', '32010200001401', '32010200001401012405061000000001'],
    [0x0c, 0x39, '1.2', 'transactionRecordV12', '32010200001201', '32010200001201012405061000000002'],
  ] as const) {
    it(`a ${label} pile (login byte 0x${version.toString(16).padStart(2, '0')}) logs in as "${label}"; its 0x${type.toString(16)} record is a 'record' event, answered with 0x40, billed and audited`, async () => {
      server = new YkcServer({ autoTimeSync: false, recordConfirm: 'at-once' });
      server.setTariff(null, TARIFF_BODY);
      const port = (await server.listen(0, '127.0.0.1')).port;
      const logins: LoginEvent[] = [];
      const records: RecordEvent[] = [];
      const frames: number[] = [];
      server.on('login', (e) => logins.push(e));
      server.on('record', (e) => records.push(e));
      server.on('frame', (e) => frames.push(e.frame.type));
      const p = await OldPile.connect(port);
      piles.push(p);
      p.write(login(pile, version));
      const reply = await p.next(0x02);
      should(reply[13]).equal(0); // login accepted
      should(logins[0]).containEql({ pileNo: pile, accepted: true, version: label });
      should(server.session(pile)!.version).equal(label);

      const rec = frame(type, [0x12, 0x00], recordBody(pile, trade));
      p.write(rec);
      checkAck(await p.next(0x40), rec, trade);
      should(records).have.length(1);
      const ev = records[0];
      should(ev.frame.type).equal(type);
      should(ev.frame.name).equal(name);
      should(ev.frame.body).containEql({
        tradeNo: trade, pileNo: pile, gunNo: 1, startTime: '2024-05-06 10:00:00', endTime: '2024-05-06 11:00:00',
        flatPrice: 1.3, flatEnergy: 10, flatAmount: 13, meterStart: 1234.5678, meterEnd: 1244.5678, totalEnergy: 10, totalAmount: 13,
        startTypeName: 'app', stopReason: 0x40,
      });
      should(frames).not.containEql(type); // a record, not a plain frame

      const tariff = Tariff.fromBody(TARIFF_BODY as never);
      const audit = auditRecord(ev.frame.body, tariff);
      should(audit).containEql({ ok: true, mismatches: [], inconsistencies: [] });
      const bill = billRecord(ev.frame.body, tariff);
      should(bill.audit.ok).be.true();
      should(bill.bill).containEql({ totalEnergy: 100000, totalAmount: 130000, totalElecFee: 80000, totalServiceFee: 50000 });
      // A wrong amount in the old record is caught like in a 0x3B.
      should(auditRecord({ ...ev.frame.body, flatAmount: 12.9 }, tariff).mismatches.map((m) => m.field)).containEql('flatAmount');
    });
  }

  it('through Node-RED: a 1.4 pile\'s 0x3F reaches ykc-in (records) and ykc-billing on the gateway tariff; the pile gets its 0x40', async () => {
    const flow: Flow = [
      { id: 't1', type: 'tab', label: 'v1.4' },
      { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false, recordConfirm: 'at-once', tariff: JSON.stringify(TARIFF_BODY) },
      { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', groups: ['records'], wires: [['rec', 'b1']] },
      { id: 'rec', z: 't1', type: 'helper' },
      { id: 'b1', z: 't1', type: 'ykc-billing', server: 's1', wires: [['ok'], ['bad']] },
      { id: 'ok', z: 't1', type: 'helper' },
      { id: 'bad', z: 't1', type: 'helper' },
      { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
      { id: 'hc', z: 't1', type: 'helper' },
    ];
    await helper.load([serverNode, inNode, billingNode], flow);
    try {
      const s = helper.getNode('s1') as unknown as YkcServerNode;
      await s.ready;
      const got = (id: string) => new Promise<Record<string, any>>((resolve) => helper.getNode(id).once('input', resolve)); // eslint-disable-line @typescript-eslint/no-explicit-any
      const recMsg = got('rec');
      const billed: Promise<Record<string, any>> = Promise.race([got('ok'), got('bad').then((m) => ({ failed: m })), got('hc').then((m) => ({ error: m }))]); // eslint-disable-line @typescript-eslint/no-explicit-any
      const pile = '32010200001402';
      const trade = '32010200001402012405061000000003';
      const p = await OldPile.connect(s.port()!);
      piles.push(p);
      p.write(login(pile, 0x0e));
      await p.next(0x02);
      const rec = frame(0x3f, [0x07, 0x00], recordBody(pile, trade));
      p.write(rec);
      checkAck(await p.next(0x40), rec, trade);
      const m = await recMsg;
      should(m.ykc).containEql({ pileNo: pile, type: 0x3f });
      should(m.payload).containEql({ tradeNo: trade, meterStart: 1234.5678, totalAmount: 13 });
      const b = await billed;
      should(b).not.have.property('error');
      should(b).not.have.property('failed');
      should(b.payload.bill).containEql({ modelCode: '0014', totalAmount: 13 });
      should(b.payload.audit).containEql({ ok: true });
    } finally {
      await helper.unload();
    }
  });
});
