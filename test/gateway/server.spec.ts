import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { FileJournal, LoginEvent, ProblemEvent, RecordEvent, YkcServer } from '../../src/gateway';
import { GatewayOptions } from '../../src/gateway/options';
import { ScriptedPile } from '../support/pile-client';
import { hexOf, rawFrame } from '../support/raw';
import { loadVectors } from '../support/repo';

const PILE = '32010200000001';
/** Login body from docs/protocol.md §5.1: DC, 2 guns, v1.5, "V4.1.50", LAN, no SIM, carrier other. */
const loginBody = (pile = PILE, version = '0F') => `${pile} 00 02 ${version} 56342E312E353000 01 ${'00'.repeat(10)} 04`;
const heartbeat = (pile = PILE, gun = '01', seq = '0000') => rawFrame(0x03, `${pile}${gun}00`, seq);

const TARIFF = {
  modelCode: '0100',
  sharpElecPrice: 1.2, sharpServicePrice: 0.8,
  peakElecPrice: 1.0, peakServicePrice: 0.6,
  flatElecPrice: 0.7, flatServicePrice: 0.5,
  valleyElecPrice: 0.3, valleyServicePrice: 0.4,
  lossRatio: 0,
  slots: Array.from({ length: 48 }, (_, k) => (k < 16 ? 3 : k < 20 ? 1 : k < 36 ? 2 : k < 42 ? 0 : 2)),
};

describe('gateway: YkcServer over real TCP', function () {
  this.timeout(10_000);
  let server: YkcServer;
  let port: number;
  const piles: ScriptedPile[] = [];

  async function start(opts: Partial<GatewayOptions> = {}, journal?: FileJournal): Promise<void> {
    server = new YkcServer({ autoTimeSync: false, ...opts }, journal);
    port = (await server.listen(0, '127.0.0.1')).port;
  }
  async function pile(): Promise<ScriptedPile> {
    const p = await ScriptedPile.connect(port);
    piles.push(p);
    return p;
  }
  async function loggedIn(pileNo = PILE): Promise<ScriptedPile> {
    const p = await pile();
    p.write(rawFrame(0x01, loginBody(pileNo), '0100'));
    const r = await p.next(0x02);
    should(r.body.result).equal(0);
    return p;
  }

  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await server?.close();
  });

  it('accepts a real captured login and echoes its sequence bytes', async () => {
    await start();
    const v = loadVectors().find((x) => x.type === '0x01' && x.kind === 'device-capture' && x.crc_ok)!;
    const p = await pile();
    const logins: LoginEvent[] = [];
    server.on('login', (e) => logins.push(e));
    p.write(v.hex);
    const reply = await p.next(0x02);
    should(reply.body).containEql({ result: 0 });
    should(hexOf(p.raw[0].subarray(2, 4))).equal(v.seq_bytes.toUpperCase());
    should(logins[0]).containEql({ accepted: true, pileNo: reply.body.pileNo });
    should(server.isOnline(String(reply.body.pileNo))).be.true();
    should(server.piles()[0].version).equal('1.5');
  });

  it('close() during listen() leaves no listening socket behind', async () => {
    server = new YkcServer({ autoTimeSync: false });
    const listening = server.listen(0, '127.0.0.1');
    await server.close();
    await listening.then(
      () => should.fail(null, null, 'listen should fail'),
      (e) => should(e.code).equal('YKC_CLOSED'),
    );
    should(server.address()).be.null();
  });

  it('answers heartbeats with the same sequence bytes and gun', async () => {
    await start();
    const p = await loggedIn();
    p.write(heartbeat(PILE, '02', 'ABCD'));
    const r = await p.next(0x04);
    should(r.body).eql({ pileNo: PILE, gunNo: 2, reply: 0 });
    should(hexOf(p.raw[p.raw.length - 1].subarray(2, 4))).equal('ABCD');
  });

  it('reports frames before login and does not answer them', async () => {
    await start();
    const problems: ProblemEvent[] = [];
    server.on('problem', (e) => problems.push(e));
    const p = await pile();
    const seen = new Promise((r) => server.once('frame', r));
    p.write(heartbeat());
    await seen;
    await new Promise((r) => setTimeout(r, 50));
    should(p.frames.length).equal(0);
    should(problems.map((x) => x.code)).containEql('YKC_LOGIN');
  });

  it('answers the billing-model check and request from the configured tariff', async () => {
    await start();
    server.setTariff(null, TARIFF);
    const p = await loggedIn();
    p.write(rawFrame(0x05, `${PILE}0000`, '0200'));
    should((await p.next(0x06)).body).containEql({ result: 1 });
    p.write(rawFrame(0x05, `${PILE}0100`, '0300'));
    should((await p.next(0x06)).body).containEql({ result: 0 });
    p.write(rawFrame(0x09, PILE, '0400'));
    const m = await p.next(0x0a);
    should(m.body).containEql({ pileNo: PILE, modelCode: '0100', valleyElecPrice: 0.3, sharpServicePrice: 0.8 });
    should(m.body.slots).eql(TARIFF.slots);
    // A per-pile tariff overrides the default.
    server.setTariff(PILE, { ...TARIFF, modelCode: '0200' });
    p.write(rawFrame(0x05, `${PILE}0100`, '0500'));
    should((await p.next(0x06)).body).containEql({ result: 1 });
  });

  it('refuses a pile outside the allowlist with 0x02 result 1 and closes it', async () => {
    await start({ loginPolicy: 'allowlist', allowlist: ['11111111111111'] });
    const p = await pile();
    p.write(rawFrame(0x01, loginBody(), '0000'));
    should((await p.next(0x02)).body).containEql({ result: 1 });
    await p.whenClosed();
    should(server.onlineCount()).equal(0);
  });

  it('lets the flow decide logins (policy ask)', async () => {
    await start({ loginPolicy: 'ask' });
    server.on('loginRequest', (r) => server.answerLogin(r.sessionId, r.pileNo === PILE));
    const ok = await pile();
    ok.write(rawFrame(0x01, loginBody(), '0000'));
    should((await ok.next(0x02)).body.result).equal(0);
    const no = await pile();
    no.write(rawFrame(0x01, loginBody('32010200000002'), '0000'));
    should((await no.next(0x02)).body.result).equal(1);
  });

  it('a login resent on the same connection is answered again without a second login/online event', async () => {
    await start({ autoTimeSync: true, timeSyncJitterMs: 0 });
    const logins: LoginEvent[] = [];
    let online = 0;
    server.on('login', (e) => logins.push(e));
    server.on('online', () => online++);
    const p = await loggedIn();
    p.write(rawFrame(0x01, loginBody(), '0200'));
    const again = await p.next(0x02);
    should(again.seq).equal(0x0002);
    should(again.body.result).equal(0);
    await p.next(0x56);
    await new Promise((r) => setTimeout(r, 50));
    should(logins.length).equal(1);
    should(online).equal(1);
    should(p.frames.filter((f) => f.type === 0x56)).be.empty();
  });

  it('replaces the old connection when a pile logs in again, without an offline event', async () => {
    await start();
    const offline: unknown[] = [];
    server.on('offline', (e) => offline.push(e));
    const a = await loggedIn();
    const b = await loggedIn();
    await a.whenClosed();
    should(server.onlineCount()).equal(1);
    should(offline).be.empty();
    b.write(heartbeat());
    await b.next(0x04);
  });

  it('marks a silent pile offline after the missed heartbeat periods', async () => {
    await start({ heartbeatPeriodMs: 100, missedHeartbeats: 3 });
    await loggedIn();
    const t0 = Date.now();
    const ev = await new Promise<{ reason?: string }>((r) => server.once('offline', r));
    should(Date.now() - t0).be.within(250, 1500);
    should(ev.reason).match(/no traffic/);
  });

  it('closes connections that never log in', async () => {
    await start({ loginTimeoutMs: 150, heartbeatPeriodMs: 100 });
    const p = await pile();
    await p.whenClosed();
  });

  it('frames split, merged, after garbage and after a bad CRC are all answered', async () => {
    await start();
    const problems: ProblemEvent[] = [];
    server.on('problem', (e) => problems.push(e));
    const p = await loggedIn();
    const good1 = heartbeat(PILE, '01', '0101');
    const bad = Buffer.from(heartbeat(PILE, '01', '0202'));
    bad[bad.length - 1] ^= 0xff;
    const good2 = heartbeat(PILE, '02', '0303');
    const stream = Buffer.concat([Buffer.from('FFEE0011', 'hex'), good1, bad, Buffer.from([0x68, 0x00]), good2]);
    for (let i = 0; i < stream.length; i += 3) p.write(stream.subarray(i, i + 3));
    const r1 = await p.next(0x04, (f) => f.body.gunNo === 1);
    const r2 = await p.next(0x04, (f) => f.body.gunNo === 2);
    should(r1.seq).equal(0x0101);
    should(r2.seq).equal(0x0303);
    should(problems.map((x) => x.code)).containEql('YKC_CRC');
    should(problems.map((x) => x.code)).containEql('YKC_GARBAGE');
  });

  it('accepts CRCs sent high byte first and learns the order', async () => {
    await start();
    const p = await pile();
    p.write(rawFrame(0x01, loginBody(), '0000', { hiFirst: true }));
    await p.next(0x02);
    p.write(rawFrame(0x03, `${PILE}0100`, '0100', { hiFirst: true }));
    const r = await p.next(0x04);
    should(r.crcOrder).equal('lo-first');
    should(server.piles()[0].crcOrder).equal('hi-first');
    should(server.counters.hiFirstCrcFrames).equal(2);
  });

  it('a garbage flood closes only the flooding connection', async () => {
    await start({ maxGarbageBytes: 2048 });
    const good = await loggedIn();
    const bad = await pile();
    const junk = Buffer.alloc(64 * 1024, 0x55);
    bad.write(junk);
    await bad.whenClosed();
    good.write(heartbeat());
    await good.next(0x04);
  });

  it('request(): resolves with the matching reply, rejects on timeout, offline and close', async () => {
    await start();
    const p = await loggedIn();
    const pending = server.request(PILE, { type: 0x36, body: { pileNo: PILE, gunNo: 1 } });
    const cmd = await p.next(0x36);
    p.write(rawFrame(0x35, `${PILE}010100`, hexOf(p.raw[p.raw.length - 1].subarray(2, 4))));
    const reply = await pending;
    should(reply!.body).containEql({ result: 1, gunNo: 1 });
    should(cmd.body).eql({ pileNo: PILE, gunNo: 1 });

    await server.request(PILE, { name: 'remoteStop', body: { pileNo: PILE, gunNo: 1 } }, { timeoutMs: 80 }).then(
      () => should.fail(null, null, 'should time out'),
      (e) => should(e.code).equal('YKC_TIMEOUT'),
    );
    await server.request('99999999999999', { type: 0x36, body: { pileNo: '99999999999999', gunNo: 1 } }).then(
      () => should.fail(null, null, 'should be offline'),
      (e) => should(e.code).equal('YKC_OFFLINE'),
    );
    const dropped = server.request(PILE, { type: 0x92, body: { pileNo: PILE, runWhen: 1 } });
    await p.next(0x92);
    p.close();
    await dropped.then(
      () => should.fail(null, null, 'should fail'),
      (e) => should(e.code).equal('YKC_CLOSED'),
    );
  });

  it('request(): matches a 0x33 by trade number when the pile does not echo the sequence', async () => {
    await start();
    const p = await loggedIn();
    const trade = `${PILE}01251126120000` + '0001';
    const pending = server.request(PILE, { type: 0x34, body: { tradeNo: trade, pileNo: PILE, gunNo: 1, logicalCardNo: '0', physicalCardNo: '', balance: 100 } });
    await p.next(0x34);
    p.write(rawFrame(0x33, `${trade}${PILE}010100`, 'FFFF'));
    should((await pending)!.body).containEql({ tradeNo: trade, result: 1 });
  });

  it('request(): a trade number shorter than 32 digits (or a number) matches the pile\'s reply, which names it padded (issue 12.9)', async () => {
    await start();
    const p = await loggedIn();
    for (const [given, seq] of [['123', '0A00'], [4567, '0B00'], ['0000000000000000000000000000089', 'FFFF']] as const) {
      const padded = String(given).padStart(32, '0');
      const pending = server.request(PILE, { type: 0x34, seq: Buffer.from(seq, 'hex').readUInt16LE(0), body: { tradeNo: given, pileNo: PILE, gunNo: 1, logicalCardNo: '0', physicalCardNo: '', balance: 100 } }, { timeoutMs: 3000 });
      const sent = await p.next(0x34);
      should(sent.body.tradeNo).equal(padded);
      // Sequence echoed for the first two; the third pile does not echo it (matched by trade number alone).
      p.write(rawFrame(0x33, `${padded}${PILE}010100`, seq === 'FFFF' ? '7777' : seq));
      should((await pending)!.body).containEql({ tradeNo: padded, result: 1 });
    }
  });

  it('request(): a late reply to a timed-out request does not answer the next one', async () => {
    await start();
    const p = await loggedIn();
    const seqOf = () => hexOf(p.raw[p.raw.length - 1].subarray(2, 4));
    const first = server.request(PILE, { type: 0x92, body: { pileNo: PILE, runWhen: 1 } }, { timeoutMs: 60 });
    await p.next(0x92);
    const firstSeq = seqOf();
    await first.then(
      () => should.fail(null, null, 'should time out'),
      (e) => should(e.code).equal('YKC_TIMEOUT'),
    );
    const second = server.request(PILE, { type: 0x92, body: { pileNo: PILE, runWhen: 2 } }, { timeoutMs: 2000 });
    await p.next(0x92);
    const secondSeq = seqOf();
    p.write(rawFrame(0x91, `${PILE}00`, firstSeq)); // the late "failed" answer to the first
    p.write(rawFrame(0x91, `${PILE}01`, secondSeq));
    should((await second)!.body.result).equal(1);
  });

  it('rejects a bad command before sending anything (YKC_FIELD)', async () => {
    await start();
    const p = await loggedIn();
    await server.request(PILE, { type: 0x36, body: { pileNo: '320102000000011', gunNo: 1 } }).then(
      () => should.fail(null, null, 'should fail'),
      (e) => should(e.code).equal('YKC_FIELD'),
    );
    await new Promise((r) => setTimeout(r, 30));
    should(p.frames.filter((f) => f.type === 0x36)).be.empty();
  });

  describe('transaction records', () => {
    const rec = loadVectors().find((x) => x.type === '0x3B' && x.crc_ok)!;
    const recPile = '18220000000155';

    it('mode at-once: acknowledges with the record sequence, resends are acknowledged but not emitted twice', async () => {
      await start({ recordConfirm: 'at-once' });
      const records: RecordEvent[] = [];
      const dups: RecordEvent[] = [];
      server.on('record', (e) => records.push(e));
      server.on('recordDuplicate', (e) => dups.push(e));
      const p = await loggedIn(recPile);
      p.write(rec.hex);
      const ack = await p.next(0x40);
      should(ack.body).containEql({ tradeNo: '18220000000155021673797553635328', result: 0 });
      should(hexOf(p.raw[p.raw.length - 1].subarray(2, 4))).equal(rec.seq_bytes.toUpperCase());
      p.write(rec.hex);
      await p.next(0x40);
      should(records.length).equal(1);
      should(dups.length).equal(1);
      should(records[0].frame.body.valleyAmount).equal(2.6759);
    });

    it('mode after-store: holds the 0x40 until confirmRecord, absorbs resends, expires and re-emits', async () => {
      await start({ recordConfirm: 'after-store', recordConfirmTimeoutMs: 150 });
      const records: RecordEvent[] = [];
      server.on('record', (e) => records.push(e));
      const p = await loggedIn(recPile);
      p.write(rec.hex);
      await new Promise((r) => server.once('record', r));
      p.write(rec.hex); // resend while held
      await new Promise((r) => server.once('recordDuplicate', r));
      should(p.frames.filter((f) => f.type === 0x40)).be.empty();
      await new Promise((r) => server.once('recordExpired', r));
      p.write(rec.hex); // resend after the hold expired: handed to the flow again, flagged
      await new Promise((r) => server.once('record', r));
      should(records.map((r) => r.arrival)).eql(['new', 'resend-unconfirmed']);
      should(server.confirmRecord('18220000000155021673797553635328', true)).be.true();
      should((await p.next(0x40)).body.result).equal(0);
    });

    it('a refused record gets 0x40 result 1', async () => {
      await start({ recordConfirm: 'after-store' });
      const p = await loggedIn(recPile);
      p.write(rec.hex);
      await new Promise((r) => server.once('record', r));
      server.confirmRecord('18220000000155021673797553635328', false);
      should((await p.next(0x40)).body.result).equal(1);
    });

    it('journal: unconfirmed and confirmed records survive a restart', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-journal-'));
      const file = path.join(dir, 'records.json');
      try {
        await start({ recordConfirm: 'after-store' }, new FileJournal(file, 0));
        let p = await loggedIn(recPile);
        p.write(rec.hex);
        await new Promise((r) => server.once('record', r));
        await server.close();
        p.close();

        await start({ recordConfirm: 'after-store' }, new FileJournal(file, 0));
        p = await loggedIn(recPile);
        p.write(rec.hex);
        const again = await new Promise<RecordEvent>((r) => server.once('record', r));
        should(again.arrival).equal('resend-unconfirmed');
        server.confirmRecord('18220000000155021673797553635328');
        await p.next(0x40);
        await server.close();
        p.close();

        await start({ recordConfirm: 'after-store' }, new FileJournal(file, 0));
        p = await loggedIn(recPile);
        let emitted = 0;
        server.on('record', () => emitted++);
        p.write(rec.hex);
        should((await p.next(0x40)).body.result).equal(0);
        should(emitted).equal(0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('derives gun states from realtime frames and heartbeats', async () => {
    await start();
    const states: string[] = [];
    server.on('gunState', (c) => states.push(`${c.gunNo}:${c.stateName}`));
    const p = await loggedIn();
    const zeros = '00'.repeat(16);
    // 0x13: idle, holstered, plugged (docs/protocol.md §5.2 layout), then charging.
    const rt = (state: string, plugged: string) =>
      rawFrame(0x13, `${zeros}${PILE}01${state}01${plugged}${'00'.repeat(4)}00${'00'.repeat(8)}${'00'.repeat(20)}`);
    p.write(rt('02', '00'));
    p.write(rt('02', '01'));
    p.write(rt('03', '01'));
    p.write(heartbeat(PILE, '01', '0000'));
    await new Promise((r) => setTimeout(r, 100));
    p.close();
    await new Promise((r) => server.once('offline', r));
    should(states).eql(['1:idle-unplugged', '1:idle-plugged', '1:charging', '1:offline']);
  });
});
