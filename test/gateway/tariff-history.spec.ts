/**
 * Tariff in force (src/gateway/tariff-history.ts) through a real YkcServer over TCP, with a scripted
 * pile writing hand-built frames (own CRC, not the project's encoder): which models enter a pile's
 * history (0x0A answered to 0x09, 0x58 answered 0x57 ok, never a refused push), which model a record's
 * session ran under (first frame of its trade number, else its start time in the gateway's zone), the
 * history across a restart, a corrupt or unwritable file, and the bounds.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { ProblemEvent, TariffHistory, YkcServer } from '../../src/gateway';
import { GatewayOptions } from '../../src/gateway/options';
import { billRecord, Tariff, TariffBody } from '../../src/billing';
import { DecodedFrame, decodeFrame, formatWallTime, wallTimeOf } from '../../src/protocol';
import { capturedModel } from '../billing/helpers';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import { loadVectors } from '../support/repo';

const VECTOR = loadVectors().find((v) => v.type === '0x3B' && v.kind === 'captured (test input)')!;
/** The real captured record: 3.0067 kWh in the valley at 0.89000 yuan/kWh, 2.6759 yuan. */
const realRecord = () => decodeFrame(VECTOR.hex).body;
const PILE = '18220000000155';
const TRADE = '18220000000155021673797553635328';

/** The captured pile's model with a chosen valley electricity price: 0.5 → the 0.89 the pile charged. */
const model = (valleyElec: number, code: string): Tariff => Tariff.fromInput(capturedModel(valleyElec, code));
const T1 = model(0.5, '0062');
const T2 = model(0.8, '0063');
const T3 = model(0.9, '0064');

const loginBody = (pile = PILE) => `${pile}0002 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`;
const seqOf = (f: DecodedFrame) => Buffer.from([f.seq & 0xff, f.seq >>> 8]).toString('hex');
/** 0x13 realtime: trade, pile, gun 1, charging (3), plugged; the rest zero. */
const realtime = (tradeNo: string, seqHex: string) => rawFrame(0x13, `${tradeNo}${PILE}01030001${'00'.repeat(33)}`, seqHex);
const modelsOf = (gw: YkcServer) => gw.tariffHistory.entries(PILE).map((e) => [e.tariff.modelCode, e.via]);

describe('gateway: tariff in force (history of the models a pile took)', function () {
  this.timeout(10_000);
  let dir: string;
  let file: string;
  const servers: YkcServer[] = [];
  const piles: ScriptedPile[] = [];

  async function start(opts: Partial<GatewayOptions> = {}): Promise<{ gw: YkcServer; problems: ProblemEvent[] }> {
    const gw = new YkcServer({ autoTimeSync: false, tariffHistoryFile: file, ...opts });
    const problems: ProblemEvent[] = [];
    gw.on('problem', (p) => problems.push(p));
    servers.push(gw);
    gw.setTariff(null, T1.toBody());
    await gw.listen(0, '127.0.0.1');
    return { gw, problems };
  }

  async function pileOn(gw: YkcServer): Promise<ScriptedPile> {
    const p = await ScriptedPile.connect(gw.address()!.port);
    piles.push(p);
    p.write(rawFrame(0x01, loginBody(), '0100'));
    should((await p.next(0x02)).body.result).equal(0);
    return p;
  }

  /** A heartbeat round trip: everything the pile sent before has been handled by then. */
  async function settle(p: ScriptedPile, seqHex: string): Promise<void> {
    p.write(rawFrame(0x03, `${PILE}0100`, seqHex));
    await p.next(0x04);
  }

  /** Pushes a model with request() (what ykc-tariff does) and lets the pile answer 0x57 ok (01) or failed (00). */
  async function push(gw: YkcServer, p: ScriptedPile, t: Tariff, result: '01' | '00'): Promise<void> {
    const reply = gw.request(PILE, { type: 0x58, body: t.toBody(PILE) as unknown as Record<string, unknown> });
    const f = await p.next(0x58);
    should(f.body.modelCode).equal(t.modelCode);
    p.write(rawFrame(0x57, `${PILE}${result}`, seqOf(f)));
    should((await reply)!.body.result).equal(Number(result));
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-tariffs-'));
    file = path.join(dir, 'tariffs.jsonl');
  });
  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    for (const gw of servers.splice(0)) await gw.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a session started under T1 is judged against T1 after a T2 push the pile accepted; a refused push changes nothing', async () => {
    const { gw } = await start();
    const p = await pileOn(gw);
    // The pile asks for its model (0x09): the 0x0A it gets is the one it runs.
    const before0A = Date.now();
    p.write(rawFrame(0x09, PILE, '0200'));
    should((await p.next(0x0a)).body.modelCode).equal('0062');
    should(modelsOf(gw)).eql([['0062', '0x0A']]);
    should(gw.tariffInForce(PILE, Date.now())!.since).be.within(before0A, Date.now());

    // The session starts: its first realtime frame dates it on the gateway's clock.
    p.write(realtime(TRADE, '0300'));
    await settle(p, '0400');
    const started = gw.tariffHistory.firstSeen(PILE, TRADE)!;
    should(started).be.a.Number();

    // Mid-session: T2 pushed and taken (0x57 ok); T3 pushed and refused (0x57 failed).
    await push(gw, p, T2, '01');
    await push(gw, p, T3, '00');
    should(modelsOf(gw)).eql([
      ['0062', '0x0A'],
      ['0063', '0x58'],
    ]);
    const t2 = gw.tariffInForce(PILE, Date.now())!;
    should([t2.tariff.modelCode, t2.since >= started]).eql(['0063', true]);

    // The record arrives: its session ran under T1, whatever the pile's clock says.
    const rec = realRecord();
    const st = gw.sessionTariff(PILE, rec)!;
    should(st).containEql({ source: 'history', via: '0x0A', sessionStart: { at: started, basis: 'firstFrame' } });
    should(st.tariff.modelCode).equal('0062');
    const judged = billRecord(rec, Tariff.fromBody(st.tariff as unknown as Record<string, unknown>));
    should(judged.audit.ok).be.true();
    should(judged.numbers.totalAmount).equal(2.6759);
    // What the audit said before: against the model in force now, price and amount differ.
    should(billRecord(rec, T2).audit.mismatches.map((m) => m.field)).eql(['valleyPrice', 'valleyAmount', 'totalAmount']);

    // A session the gateway never saw a frame of is dated by its start time, read in the gateway's zone.
    const now = formatWallTime(wallTimeOf(new Date(Date.now() + 1000), gw.options.utcOffsetMinutes));
    const later = gw.sessionTariff(PILE, { ...rec, tradeNo: '18220000000155029999999999999999', startTime: now })!;
    should([later.source, later.tariff.modelCode, later.sessionStart!.basis]).eql(['history', '0063', 'startTime']);
    // Before anything the pile took (the captured record's 2025 start): the gateway's current tariff.
    const old = gw.sessionTariff(PILE, { ...rec, tradeNo: '18220000000155029999999999999998' })!;
    should([old.source, old.tariff.modelCode, old.since, old.sessionStart!.basis]).eql(['server', '0062', null, 'startTime']);
    // No start known at all (an unreadable time, no frame seen): the current tariff too.
    should(gw.sessionTariff(PILE, { ...rec, tradeNo: '18220000000155029999999999999997', startTime: 'cp56:00' })).containEql({ source: 'server', sessionStart: null });
  });

  it('all-zero trade numbers are not remembered (offline sessions reuse them); the same model asked again keeps its first date', async () => {
    const { gw } = await start();
    const p = await pileOn(gw);
    p.write(realtime('0'.repeat(32), '0300'));
    p.write(rawFrame(0x09, PILE, '0400'));
    await p.next(0x0a);
    const since = gw.tariffInForce(PILE, Date.now())!.since;
    p.write(rawFrame(0x09, PILE, '0500'));
    await p.next(0x0a);
    await settle(p, '0600');
    should(gw.tariffHistory.firstSeen(PILE, '0'.repeat(32))).be.undefined();
    should(gw.tariffHistory.entries(PILE).map((e) => e.since)).eql([since]);
    // A 0x05 check of the model it holds ("same") says nothing new either.
    p.write(rawFrame(0x05, `${PILE}0062`, '0700'));
    should((await p.next(0x06)).body.result).equal(0);
    should(gw.tariffHistory.entries(PILE).length).equal(1);
  });

  it('a pile that already holds the gateway model (0x05 → 0x06 same) enters the history from then on', async () => {
    const { gw } = await start();
    const p = await pileOn(gw);
    p.write(rawFrame(0x05, `${PILE}0062`, '0200'));
    should((await p.next(0x06)).body.result).equal(0);
    should(modelsOf(gw)).eql([['0062', '0x05']]);
    p.write(rawFrame(0x05, `${PILE}0099`, '0300'));
    should((await p.next(0x06)).body.result).equal(1);
    should(modelsOf(gw)).eql([['0062', '0x05']]);
  });

  it('a restart with the same file keeps the models, their dates and the trade numbers seen', async () => {
    const a = await start();
    const p = await pileOn(a.gw);
    p.write(rawFrame(0x09, PILE, '0200'));
    await p.next(0x0a);
    p.write(realtime(TRADE, '0300'));
    await push(a.gw, p, T2, '01');
    const entries = a.gw.tariffHistory.entries(PILE);
    const seen = a.gw.tariffHistory.firstSeen(PILE, TRADE);
    await a.gw.close();
    servers.splice(0);

    const b = await start();
    should(b.gw.tariffHistory.entries(PILE)).eql(entries);
    should(b.gw.tariffHistory.firstSeen(PILE, TRADE)).equal(seen);
    should(b.gw.sessionTariff(PILE, realRecord())!.tariff.modelCode).equal('0062');
    await new Promise((r) => setImmediate(r));
    should(b.problems).eql([]);
  });

  it('a corrupt file is set aside and reported (YKC_STORE, naming it); the gateway starts with the lines it could read', async () => {
    const good = { pile: PILE, since: 1_700_000_000_000, via: '0x58', tariff: T1.toBody() };
    const seen = { pile: PILE, tradeNo: TRADE, seen: 1_700_000_001_000 };
    fs.writeFileSync(file, [JSON.stringify(good), '{"pile":"1822', 'not json', JSON.stringify({ ...good, via: 'bogus' }), JSON.stringify(seen), '{"pile":"18220000000155","since":17'].join('\n'));
    const { gw, problems } = await start();
    await new Promise((r) => setImmediate(r));
    should(problems.map((x) => x.code)).eql(['YKC_STORE']);
    should(problems[0].message).containEql(file);
    should(problems[0].details).containEql({ file, badLines: 4, goodLines: 2 });
    const aside = problems[0].details!.aside as string;
    should(fs.readFileSync(aside, 'utf8')).containEql('not json');
    should(gw.tariffHistory.entries(PILE).map((e) => [e.since, e.tariff.modelCode])).eql([[1_700_000_000_000, '0062']]);
    should(gw.tariffHistory.firstSeen(PILE, TRADE)).equal(1_700_000_001_000);
    // The file in place holds what was read, and the gateway serves piles.
    should(fs.readFileSync(file, 'utf8').trim().split('\n').length).equal(2);
    const p = await pileOn(gw);
    await settle(p, '0200');
  });

  it('a file that cannot be written: YKC_STORE once, the history still works in memory and is written once it can be', async () => {
    fs.writeFileSync(path.join(dir, 'blocked'), 'a file where the directory should be');
    file = path.join(dir, 'blocked', 'tariffs.jsonl');
    const { gw, problems } = await start();
    const p = await pileOn(gw);
    p.write(rawFrame(0x09, PILE, '0200'));
    await p.next(0x0a);
    await push(gw, p, T2, '01');
    gw.tariffHistory.close(); // flush now instead of after the 200 ms buffer
    gw.tariffHistory.close();
    should(problems.filter((x) => x.code === 'YKC_STORE').length).equal(1);
    should(problems[0].message).containEql('tariff history');
    should(modelsOf(gw)).eql([
      ['0062', '0x0A'],
      ['0063', '0x58'],
    ]);
    fs.rmSync(path.join(dir, 'blocked'));
    gw.tariffHistory.close();
    const back = new TariffHistory({ perPile: 16, maxAgeMs: 1e12, piles: 10, tradesPerPile: 4 }, file);
    should(back.entries(PILE).map((e) => e.tariff.modelCode)).eql(['0062', '0063']);
  });
});

describe('gateway: tariff history bounds', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-tariffs-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const body = (code: number): TariffBody => model(0.5, String(code).padStart(4, '0')).toBody();
  const DAY = 24 * 3600_000;

  it('keeps at most tariffHistoryPerPile models, and of those older than the age only the one still in force', () => {
    const h = new TariffHistory({ perPile: 3, maxAgeMs: 10 * DAY, piles: 10, tradesPerPile: 4 });
    for (let i = 1; i <= 5; i++) h.accepted('P', body(i), i * 1000, '0x58');
    should(h.entries('P').map((e) => e.tariff.modelCode)).eql(['0003', '0004', '0005']);
    should(h.inForce('P', 3500)!.tariff.modelCode).equal('0003');
    should(h.inForce('P', 2500)).be.null(); // dropped by the count: no longer known
    const g = new TariffHistory({ perPile: 16, maxAgeMs: 10 * DAY, piles: 10, tradesPerPile: 4 });
    g.accepted('P', body(1), 0, '0x58');
    g.accepted('P', body(2), 1 * DAY, '0x58');
    g.accepted('P', body(3), 2 * DAY, '0x58');
    g.accepted('P', body(4), 12 * DAY, '0x58');
    // Cutoff day 2: model 3 was in force then and stays; 1 and 2 go.
    should(g.entries('P').map((e) => e.tariff.modelCode)).eql(['0003', '0004']);
    should(g.inForce('P', 5 * DAY)!.tariff.modelCode).equal('0003');
  });

  it('keeps at most tariffHistoryPiles piles (the least recently changed goes) and tradeStartsPerPile trade numbers per pile', () => {
    const h = new TariffHistory({ perPile: 4, maxAgeMs: 10 * DAY, piles: 2, tradesPerPile: 2 });
    h.accepted('A', body(1), 1, '0x0A');
    h.accepted('B', body(1), 2, '0x0A');
    h.accepted('A', body(2), 3, '0x58');
    h.accepted('C', body(1), 4, '0x0A');
    should([h.pileCount(), h.entries('B').length, h.entries('A').length]).eql([2, 0, 2]);
    h.tradeSeen('A', '01', 10);
    h.tradeSeen('A', '02', 11);
    h.tradeSeen('A', '01', 12); // known: keeps its first date
    h.tradeSeen('A', '03', 13);
    should([h.firstSeen('A', '01'), h.firstSeen('A', '02'), h.firstSeen('A', '03')]).eql([undefined, 11, 13]);
  });

  it('the file stays bounded: a pile naming new trade numbers forever makes it rewritten, not grown', () => {
    const file = path.join(dir, 't.jsonl');
    const h = new TariffHistory({ perPile: 4, maxAgeMs: 10 * DAY, piles: 10, tradesPerPile: 8 }, file);
    h.accepted('A', body(1), 1, '0x0A');
    for (let i = 0; i < 5000; i++) {
      h.tradeSeen('A', i.toString(16).padStart(32, '1'), 100 + i);
      if (i % 100 === 0) h.close();
    }
    h.close();
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').length;
    should(lines).be.belowOrEqual(2 * 9 + 64);
    const back = new TariffHistory({ perPile: 4, maxAgeMs: 10 * DAY, piles: 10, tradesPerPile: 8 }, file);
    should(back.firstSeen('A', (4999).toString(16).padStart(32, '1'))).equal(5099);
    should(back.firstSeen('A', (4991).toString(16).padStart(32, '1'))).be.undefined();
    should(back.entries('A').length).equal(1);
    should(back.takeLoadProblems()).eql([]);
  });
});
