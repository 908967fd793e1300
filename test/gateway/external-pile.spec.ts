/**
 * The gateway checked by a pile client that is not ours: the client below is written from
 * scratch on node's net module with its own CRC, its own frame building and its own parsing of
 * the replies by the tables of docs/protocol.md — it imports nothing from src/protocol. It replays real
 * captured frames (test/fixtures/external-frames.json, and the device captures of
 * test/fixtures/vectors.json) against a real YkcServer on 127.0.0.1, port 0.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import should from 'should';
import { GatewayOptions, YkcServer } from '../../src/gateway';
import { frameOf } from '../support/raw';
import { RawFrame, RawPile } from '../support/raw-pile';
import { loadVectors, REPO_ROOT, Vector } from '../support/repo';

// ---- the independent pile client ----------------------------------------------------------------

/** 0x68 | L | seq(2) | flag 0 | type | body | CRC low byte first (test/support/raw.ts: its own bit-by-bit CRC-16/MODBUS, docs/protocol.md 2.1). */
const buildFrame = frameOf;

const bcd = (digits: string): Buffer => Buffer.from(digits, 'hex');
const digitsOf = (b: Buffer): string => b.toString('hex');
const hexOf = (b: Buffer): string => b.toString('hex').toUpperCase();
const fromHex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

/** A login body by docs/protocol.md 5.1: pile, DC, 1 gun, v1.5, firmware, LAN, no SIM, carrier "other". */
function loginFrame(pileNo: string, seq: [number, number] = [0, 0]): Buffer {
  const body = Buffer.concat([bcd(pileNo), Buffer.from([0x00, 0x01, 0x0f]), Buffer.from('EXTPILE1', 'ascii'), Buffer.from([0x01]), Buffer.alloc(10), Buffer.from([0x04])]);
  should(body.length).equal(30);
  return buildFrame(0x01, seq, body);
}
const heartbeatFrame = (pileNo: string, gun: number, seq: [number, number]): Buffer => buildFrame(0x03, seq, Buffer.concat([bcd(pileNo), Buffer.from([gun, 0x00])]));
const modelCheckFrame = (pileNo: string, model: string, seq: [number, number]): Buffer => buildFrame(0x05, seq, Buffer.concat([bcd(pileNo), bcd(model)]));

/** Parses a reply by its docs/protocol.md table and checks the frame envelope every reply shares. */
function expectReply(f: RawFrame, type: number, request: Buffer | null, bodyLength: number): void {
  should(f.type).equal(type, `expected 0x${type.toString(16)}, got 0x${f.type.toString(16)}`);
  should(f.raw[0]).equal(0x68);
  should(f.raw[1]).equal(bodyLength + 4);
  should(f.body.length).equal(bodyLength);
  should(f.flag).equal(0);
  should(f.crcLoFirst).be.true('CRC-16/MODBUS sent low byte first');
  if (request) should(hexOf(f.seq)).equal(hexOf(request.subarray(2, 4)), 'a reply copies the request sequence bytes verbatim');
}

/** CP56Time2a by docs/protocol.md 3.2. */
function cp56(b: Buffer, o: number): { year: number; month: number; day: number; hour: number; minute: number; ms: number } {
  return {
    ms: b.readUInt16LE(o),
    minute: b[o + 2] & 0x3f,
    hour: b[o + 3] & 0x1f,
    day: b[o + 4] & 0x1f,
    month: b[o + 5] & 0x0f,
    year: 2000 + (b[o + 6] & 0x7f),
  };
}

// ---- captured frames ------------------------------------------------------------------------------

interface ExternalFrame {
  id: string;
  type: string;
  hex: string;
  kind: string;
}
const EXTERNAL: ExternalFrame[] = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'external-frames.json'), 'utf8'));
const ext = (id: string): Buffer => {
  const f = EXTERNAL.find((x) => x.id === id);
  if (!f) throw new Error(`external frame ${id} missing from the fixture`);
  return fromHex(f.hex);
};
const VECTORS: Vector[] = loadVectors();
const REAL_LOGINS = [
  ...VECTORS.filter((v) => v.type === '0x01' && v.kind === 'device-capture' && v.crc_ok).map((v) => ({ id: `vectors ${v.source.split(':')[0]} seq ${v.seq_bytes}`, bytes: fromHex(v.hex) })),
  ...EXTERNAL.filter((f) => f.type === '0x01' && f.kind === 'device-capture').map((f) => ({ id: f.id, bytes: fromHex(f.hex) })),
];
/** The real pile 10001001000001 (tenyks capture): its login and its billing-model requests. */
const TENYKS_LOGIN = fromHex(VECTORS.find((v) => v.type === '0x01' && v.kind === 'device-capture' && v.hex.includes('10001001000001') && v.seq_bytes === '0000')!.hex);
const TENYKS_0X09 = VECTORS.filter((v) => v.type === '0x09' && v.kind === 'device-capture' && v.crc_ok).map((v) => fromHex(v.hex));
/** JCPP's simulated pile 20231212000010: its login, and a 0x05 whose CRC is high byte first. */
const JCPP_LOGIN = fromHex(VECTORS.find((v) => v.type === '0x01' && v.source.startsWith('sanbing-java/JCPP') && v.crc_ok)!.hex);
const JCPP_0X05_HI = fromHex(VECTORS.find((v) => v.type === '0x05' && v.source.startsWith('sanbing-java/JCPP'))!.hex);

const pileOfBody = (frame: Buffer, bodyOffset = 0): string => digitsOf(frame.subarray(6 + bodyOffset, 13 + bodyOffset));

/**
 * The tariff of the real 0x58 in the fixture (lambda-0x58-0062), written out by hand: the 0x0A
 * the gateway sends for it must carry the same bytes as that platform's 0x58 after the pile number.
 */
const TARIFF = {
  modelCode: '0062',
  sharpElecPrice: 1.0, sharpServicePrice: 0.8,
  peakElecPrice: 1.45, peakServicePrice: 0.2,
  flatElecPrice: 1.75, flatServicePrice: 0.2,
  valleyElecPrice: 1.72, valleyServicePrice: 0.2,
  lossRatio: 0,
  slots: [...Array(16).fill(0), ...Array(8).fill(1), ...Array(12).fill(2), ...Array(12).fill(3)] as number[],
};
/** The same rates in the wire's 0.00001 yuan/kWh, in table order (sharp elec, sharp service, peak …). */
const TARIFF_UNITS = [100000, 80000, 145000, 20000, 175000, 20000, 172000, 20000];

describe('gateway: an independent pile client replays real captured frames', function () {
  this.timeout(10_000);
  let server: YkcServer;
  let port: number;
  const piles: RawPile[] = [];

  async function start(opts: Partial<GatewayOptions> = {}): Promise<void> {
    server = new YkcServer({ autoTimeSync: false, ...opts });
    port = (await server.listen(0, '127.0.0.1')).port;
  }
  async function connect(): Promise<RawPile> {
    const p = await RawPile.connect(port);
    piles.push(p);
    return p;
  }
  /** Logs in with the given login frame and checks the 0x02 by the table: pile, result 0, same sequence bytes. */
  async function login(frame: Buffer): Promise<RawPile> {
    const p = await connect();
    p.write(frame);
    const r = await p.next();
    expectReply(r, 0x02, frame, 8);
    should(digitsOf(r.body.subarray(0, 7))).equal(pileOfBody(frame));
    should(r.body[7]).equal(0x00);
    return p;
  }

  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await server?.close();
  });

  it(`accepts every real captured login (${REAL_LOGINS.length}) and answers 0x02 with its own sequence bytes`, async () => {
    should(REAL_LOGINS.length).be.aboveOrEqual(4);
    await start();
    for (const l of REAL_LOGINS) {
      const p = await login(l.bytes);
      should(server.isOnline(pileOfBody(l.bytes))).be.true(l.id);
      should(p.unread()).equal(0);
      p.close();
    }
    should(server.counters.loginsAccepted).equal(REAL_LOGINS.length);
  });

  it('answers the real pile 10001001000001: login, then each captured 0x09 with a 0x0A carrying the configured tariff', async () => {
    should(TENYKS_0X09.length).be.aboveOrEqual(3);
    await start();
    server.setTariff(null, TARIFF);
    const p = await login(TENYKS_LOGIN);
    const platform0x58 = ext('lambda-0x58-0062');
    for (const req of TENYKS_0X09) {
      p.write(req);
      const r = await p.next();
      expectReply(r, 0x0a, req, 90);
      should(digitsOf(r.body.subarray(0, 7))).equal('10001001000001');
      should(digitsOf(r.body.subarray(7, 9))).equal('0062');
      should(Array.from({ length: 8 }, (_, k) => r.body.readUInt32LE(9 + 4 * k))).eql(TARIFF_UNITS);
      should(r.body[41]).equal(0);
      should(Array.from(r.body.subarray(42, 90))).eql(TARIFF.slots);
      // A real platform sent the same model as 0x58: everything after the pile number is identical.
      should(hexOf(r.body.subarray(7))).equal(hexOf(platform0x58.subarray(6 + 7, platform0x58.length - 2)));
    }
    should(p.unread()).equal(0);
  });

  it('answers the same captures sent all in one TCP write and split 1 byte per write', async () => {
    await start();
    server.setTariff(null, TARIFF);
    const p = await connect();
    await p.writeChunked(TENYKS_LOGIN, 1);
    expectReply(await p.next(), 0x02, TENYKS_LOGIN, 8);
    p.write(Buffer.concat(TENYKS_0X09));
    for (const req of TENYKS_0X09) expectReply(await p.next(), 0x0a, req, 90);
  });

  it('answers a captured heartbeat whose CRC is high byte first (JCPP) with 0x04 echoing 25 D3, low byte first', async () => {
    await start();
    const p = await login(JCPP_LOGIN);
    const hb = ext('jcpp-readme-0x03-hi');
    p.write(hb);
    const r = await p.next();
    expectReply(r, 0x04, hb, 9);
    should(hexOf(r.seq)).equal('25D3');
    should(hexOf(r.body)).equal('20231212000010' + '01' + '00');
    should(server.counters.hiFirstCrcFrames).equal(1);
  });

  it('answers in the pile\'s own CRC order when told to learn it (replyCrcOrder "learned")', async () => {
    await start({ replyCrcOrder: 'learned' });
    const hb = ext('jcpp-readme-0x03-hi');
    const p = await connect();
    p.write(loginFrame('20231212000010', [0x25, 0xd2]));
    expectReply(await p.next(), 0x02, null, 8);
    p.write(hb);
    const r = await p.next();
    should(r.type).equal(0x04);
    should(r.crcHiFirst).be.true();
    should(r.crcLoFirst).be.false();
    should(hexOf(r.seq)).equal('25D3');
  });

  it('answers the captured heartbeat sample (evcpa) with 0x04 for its gun and sequence 02 00', async () => {
    await start();
    const hb = ext('evcpa-sample-0x03');
    const p = await login(loginFrame('32010200000001', [0x01, 0x00]));
    p.write(hb);
    const r = await p.next();
    expectReply(r, 0x04, hb, 9);
    should(hexOf(r.seq)).equal('0200');
    should(r.body[7]).equal(0x01);
    should(r.body[8]).equal(0x00);
  });

  it('answers the captured 0x05 (JCPP, CRC high byte first, seq 71 AD) with 0x06 "differs" and the same bytes 71 AD', async () => {
    await start();
    server.setTariff(null, TARIFF);
    const p = await login(JCPP_LOGIN);
    p.write(JCPP_0X05_HI);
    const r = await p.next();
    expectReply(r, 0x06, JCPP_0X05_HI, 10);
    // JCPP's own server answered AD 71 (docs/protocol.md 2.2): a reply must copy the bytes, not re-read them.
    should(hexOf(r.seq)).equal('71AD');
    should(digitsOf(r.body.subarray(0, 7))).equal('20231212000010');
    should(digitsOf(r.body.subarray(7, 9))).equal('0000');
    should(r.body[9]).equal(0x01);
    // The same pile now holding the configured model: "same".
    const again = modelCheckFrame('20231212000010', '0062', [0x72, 0xad]);
    p.write(again);
    const r2 = await p.next();
    expectReply(r2, 0x06, again, 10);
    should(r2.body[9]).equal(0x00);
  });

  it('takes a real 0x13 without answering it, sends a 0x34 byte-identical to the real platform\'s, and resolves with the real 0x33', async () => {
    await start();
    const pileNo = '20250703170601';
    const p = await login(loginFrame(pileNo));
    const realtime = ext('evcpa-trace-0x13');
    const seen = new Promise<number>((r) => server.once('frame', (e) => r(e.frame.type)));
    p.write(realtime);
    should(await seen).equal(0x13);
    const captured0x34 = ext('evcpa-trace-0x34');
    const reply = server.request(
      pileNo,
      {
        type: 0x34,
        seq: captured0x34.readUInt16LE(2),
        body: {
          tradeNo: '20250703170601012607261035058985', pileNo, gunNo: 1,
          logicalCardNo: '0000013600941367', physicalCardNo: '0000013600941367', balance: 124.81,
        },
      },
      { timeoutMs: 3000 },
    );
    // The first frame after the login is the 0x34: nothing answered the 0x13.
    const sent = await p.next();
    should(sent.type).equal(0x34);
    should(sent.crcLoFirst).be.true();
    should(hexOf(sent.raw)).equal(hexOf(captured0x34));
    p.write(ext('evcpa-trace-0x33'));
    const answered = await reply;
    should(answered).not.be.null();
    should(answered!.type).equal(0x33);
    should(answered!.body).containEql({ tradeNo: '20250703170601012607261035058985', result: 1 });
    should(p.unread()).equal(0);
  });

  for (const id of ['lambda-0x3b-18120000000266', 'huamar-0x3b-hi-1', 'huamar-0x3b-bcdtest']) {
    it(`confirms the captured record ${id} at once with a 0x40 for its trade number and sequence, and again on resend`, async () => {
      await start({ recordConfirm: 'at-once' });
      const record = ext(id);
      const tradeBytes = record.subarray(6, 22);
      const p = await login(loginFrame(pileOfBody(record, 16)));
      const records: string[] = [];
      const duplicates: string[] = [];
      server.on('record', (e) => records.push(String(e.frame.body.tradeNo)));
      server.on('recordDuplicate', (e) => duplicates.push(String(e.frame.body.tradeNo)));
      for (let i = 0; i < 2; i++) {
        p.write(record);
        const r = await p.next();
        expectReply(r, 0x40, record, 17);
        should(hexOf(r.body.subarray(0, 16))).equal(hexOf(tradeBytes));
        should(r.body[16]).equal(0x00);
      }
      should(records).eql([digitsOf(tradeBytes)]);
      should(duplicates).eql([digitsOf(tradeBytes)]);
    });
  }

  it('holds the 0x40 for the captured 5-tier record until the flow confirms it (mode after-store), chunked in 7-byte writes', async () => {
    await start({ recordConfirm: 'after-store' });
    const record = ext('lambda-0x3b-5tier');
    const pileNo = pileOfBody(record, 16);
    const tradeNo = digitsOf(record.subarray(6, 22));
    const p = await login(loginFrame(pileNo));
    const held = new Promise<boolean>((r) => server.once('record', (e) => r(e.held)));
    await p.writeChunked(record, 7);
    should(await held).be.true();
    // Frames are answered in order: a heartbeat after the record is answered first, so no 0x40 went out.
    const hb = heartbeatFrame(pileNo, 1, [0x10, 0x00]);
    p.write(hb);
    expectReply(await p.next(), 0x04, hb, 9);
    should(server.confirmRecord(tradeNo)).be.true();
    const r = await p.next();
    expectReply(r, 0x40, record, 17);
    should(hexOf(r.seq)).equal('17F3');
    should(digitsOf(r.body.subarray(0, 16))).equal(tradeNo);
    should(r.body[16]).equal(0x00);
  });

  it('sends a time sync after a real login with our own sequence from 0 and China time, parsed by CP56Time2a', async () => {
    await start({ autoTimeSync: true, timeSyncJitterMs: 0, requestTimeoutMs: 500 });
    const l = REAL_LOGINS[0].bytes;
    const p = await login(l);
    const t = await p.next();
    expectReply(t, 0x56, null, 14);
    should(hexOf(t.seq)).equal('0000');
    should(digitsOf(t.body.subarray(0, 7))).equal(pileOfBody(l));
    const c = cp56(t.body, 7);
    const sentAt = Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, 0, c.ms) - 8 * 3600_000;
    should(Math.abs(sentAt - Date.now())).be.below(120_000);
    should(t.body[9] & 0x80).equal(0, 'IV (invalid) bit clear');
  });
});
