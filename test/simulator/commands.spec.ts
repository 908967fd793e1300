/**
 * Virtual pile: every platform → pile command is answered. Commands are built by hand from the
 * docs/protocol.md tables where practical (not by our encoder) and the pile's replies are decoded by
 * the protocol core and re-checked by the platform's own CRC.
 */
import assert from 'assert/strict';
import * as crypto from 'crypto';
import { Tariff } from '../../src/billing/tariff';
import { encodeFrame } from '../../src/protocol';
import { ManualClock, PileOtaEvent, PileRecordEvent, VirtualPile, VirtualPileOptions } from '../../src/simulator';
import { startFtpServer, TestFtpServer } from '../support/ftp-server';
import { advance, china, handFrame } from './helpers';
import { nextEvent, sampleTariff, ScriptedPlatform } from './platform';

const PILE = '32010200000001';
const CARD_A = '00000000D14B0A54';
const CARD_B = '0000000012345678';

describe('simulator: platform commands', function () {
  this.timeout(10_000);
  let plat: ScriptedPlatform;
  let pile: VirtualPile;
  let clock: ManualClock;

  async function start(opts: Partial<VirtualPileOptions> = {}) {
    plat = new ScriptedPlatform({ model: sampleTariff() });
    const port = await plat.listen();
    clock = new ManualClock(china(2025, 1, 6, 9, 0));
    pile = new VirtualPile({ port, pileNo: PILE, clock, tariff: sampleTariff(), ...opts });
    pile.connect();
    await pile.waitOnline();
  }

  /** Sends hand-built bytes and waits for the reply of `replyType`. */
  async function ask(type: number, bodyHex: string, replyType: number, seq = 0x1234) {
    const from = plat.mark();
    plat.sendRaw(plat.current, handFrame(type, seq, bodyHex));
    // The pile's own frames count from 0; a reply is recognised by copying the request's sequence bytes.
    const r = await plat.waitType(replyType, from, 5000, (g) => g.frame.seq === seq);
    assert.equal(r.frame.crcOrder, 'lo-first');
    return r;
  }

  afterEach(async () => {
    await pile?.close();
    await plat?.close();
    assert.deepEqual(plat.badFrames, []);
  });

  it('0x12 → 0x13 for that gun', async () => {
    await start({ guns: 2 });
    const r = await ask(0x12, `${PILE}02`, 0x13, 0xbeef);
    assert.deepEqual([r.frame.body.gunNo, r.frame.body.gunState, r.frame.body.tradeNo], [2, 2, '0'.repeat(32)]);
  });

  it('0x44 / 0x48 / 0x46: a real offline-card store (sync, query, clear)', async () => {
    await start();
    const sync = await ask(0x44, `${PILE} 02 1000000000000001 ${CARD_A} 1000000000000002 ${CARD_B}`, 0x43);
    assert.deepEqual([sync.frame.body.result, sync.frame.body.failReason], [1, 0]);
    assert.equal(pile.cards.size, 2);
    const q = await ask(0x48, `${PILE} 03 ${CARD_A} ${CARD_B} 00000000AABBCCDD`, 0x47);
    assert.deepEqual(
      (q.frame.body.cards as { physicalCardNo: string; result: number }[]).map((c) => [c.physicalCardNo, c.result]),
      [[CARD_A, 1], [CARD_B, 1], ['00000000AABBCCDD', 0]],
    );
    const c = await ask(0x46, `${PILE} 01 ${CARD_A}`, 0x45);
    assert.deepEqual(c.frame.body.cards, [{ physicalCardNo: CARD_A, result: 1, resultName: 'cleared', failReason: 0, failReasonName: 'cleared' }]);
    const q2 = await ask(0x48, `${PILE} 02 ${CARD_A} ${CARD_B}`, 0x47);
    assert.deepEqual((q2.frame.body.cards as { result: number }[]).map((x) => x.result), [0, 1]);
    const bad = await ask(0x44, `${PILE} 01 1000000000000003 0000000000000000`, 0x43);
    assert.deepEqual([bad.frame.body.result, bad.frame.body.failReason], [0, 1], 'an all-zero card number is a format error');
  });

  it('0x44 refuses with "storage full" beyond the capacity', async () => {
    await start({ offlineCardCapacity: 1 });
    const r = await ask(0x44, `${PILE} 02 1000000000000001 ${CARD_A} 1000000000000002 ${CARD_B}`, 0x43);
    assert.deepEqual([r.frame.body.result, r.frame.body.failReason], [0, 2]);
    assert.equal(pile.cards.size, 0);
  });

  it('0x42 → 0x41: updates the running session’s balance; a wrong card or pile is refused', async () => {
    await start();
    pile.plug(1);
    const from = plat.mark();
    plat.send(plat.current, 0x34, { tradeNo: '7'.repeat(32), pileNo: PILE, gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD_A, balance: 10 });
    await plat.waitType(0x33, from);
    const ok = await ask(0x42, `${PILE} 01 ${CARD_A} 50C30000`, 0x41);
    assert.deepEqual([ok.frame.body.result, ok.frame.body.physicalCardNo], [0, CARD_A]);
    assert.equal(pile.snapshot().guns[0].session?.balance, 500_0000, '500.00 yuan in 0.0001 yuan');
    const wrongCard = await ask(0x42, `${PILE} 01 ${CARD_B} 50C30000`, 0x41);
    assert.equal(wrongCard.frame.body.result, 2);
    const wrongPile = await ask(0x42, `32010200000099 01 ${CARD_A} 50C30000`, 0x41);
    assert.equal(wrongPile.frame.body.result, 1);
  });

  it('0x36 for an idle gun → 0x35 failed, reason 0x02 (not charging)', async () => {
    await start();
    const r = await ask(0x36, `${PILE}01`, 0x35);
    assert.deepEqual([r.frame.body.result, r.frame.body.failReason], [0, 2]);
  });

  it('0x52 → 0x51: disable refuses starts; power limit slows the meter; out-of-range refused', async () => {
    await start();
    const off = await ask(0x52, `${PILE} 01 64`, 0x51);
    assert.equal(off.frame.body.result, 1);
    pile.plug(1);
    let from = plat.mark();
    plat.send(plat.current, 0x34, { tradeNo: '7'.repeat(32), pileNo: PILE, gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD_A, balance: 100 });
    assert.equal((await plat.waitType(0x33, from)).frame.body.failReason, 3);
    const half = await ask(0x52, `${PILE} 00 32`, 0x51);
    assert.equal(half.frame.body.result, 1);
    assert.equal(pile.snapshot().maxPowerPercent, 50);
    from = plat.mark();
    plat.send(plat.current, 0x34, { tradeNo: '7'.repeat(32), pileNo: PILE, gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD_A, balance: 1000 });
    await plat.waitType(0x33, from);
    await advance(clock, 60 * 60_000, 10_000);
    assert.equal(pile.snapshot().guns[0].session?.energy, 30_0000, '60 kW at 50 % for one hour');
    const bad = await ask(0x52, `${PILE} 00 14`, 0x51);
    assert.equal(bad.frame.body.result, 0, '20 % is below the 30 % minimum');
  });

  it('0x56 → 0x55 echoes the time and sets the pile clock', async () => {
    await start();
    const r = await ask(0x56, `${PILE} 98B70E11100319`, 0x55);
    assert.equal(r.frame.body.time, '2025-03-16 17:14:47');
    assert.equal(pile.wallNow(), china(2025, 3, 16, 17, 14, 47));
    await advance(clock, 15 * 60_000, 10_000);
    assert.equal(pile.wallNow(), china(2025, 3, 16, 17, 29, 47), 'the clock runs on from the synced time');
  });

  it('0x58 → 0x57: keeps a pushed model; an impossible one is refused', async () => {
    await start();
    const push = new Tariff({ modelCode: '0200', elec: [100000, 90000, 80000, 70000], service: [1000, 2000, 3000, 4000], slots: new Array(48).fill(1) });
    let from = plat.mark();
    const seq = plat.send(plat.current, 0x58, push.toBody(PILE) as unknown as Record<string, unknown>);
    let r = await plat.waitType(0x57, from);
    assert.deepEqual([r.frame.seq, r.frame.body.result], [seq, 1]);
    assert.ok(pile.model?.equals(push));
    const bad = { ...(push.toBody(PILE) as unknown as Record<string, unknown>), modelCode: '0300', slots: new Array(48).fill(7) };
    from = plat.mark();
    plat.sendRaw(plat.current, encodeFrame({ type: 0x58, seq: 9, body: bad }));
    r = await plat.waitType(0x57, from);
    assert.equal(r.frame.body.result, 0);
    assert.equal(pile.model?.modelCode, '0200');
  });

  it('0x62 → 0x63, then 0x61 with the lock position; a raise under a parked car fails with an alarm', async () => {
    await start({ guns: 2 });
    const r = await ask(0x62, `${PILE} 02 FF 00000000`, 0x63);
    assert.deepEqual([r.frame.body.gunNo, r.frame.body.result], [2, 1]);
    const st = await plat.waitType(0x61, r.index);
    assert.deepEqual([st.frame.body.gunNo, st.frame.body.lockStateName, st.frame.body.parkingStateName, st.frame.body.alarm], [2, 'lowered', 'empty', 0]);
    pile.plug(1);
    const up = await ask(0x62, `${PILE} 01 55 00000000`, 0x63);
    assert.equal(up.frame.body.result, 0);
    const st2 = await plat.waitType(0x61, up.index);
    assert.deepEqual([st2.frame.body.parkingStateName, st2.frame.body.alarmName], ['occupied', 'arm failed to reach position']);
    const up2 = await ask(0x62, `${PILE} 02 55 00000000`, 0x63);
    assert.equal(up2.frame.body.result, 1);
    assert.equal((await plat.waitType(0x61, up2.index)).frame.body.lockStateName, 'raised');
  });

  it('0x92 → 0x91, then a real restart: FIN, a new connection, login from sequence 0; the session’s record survives', async () => {
    await start();
    pile.plug(1);
    let from = plat.mark();
    plat.send(plat.current, 0x34, { tradeNo: '6'.repeat(32), pileNo: PILE, gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD_A, balance: 100 });
    await plat.waitType(0x33, from);
    await advance(clock, 60_000);
    from = plat.mark();
    const closed = nextEvent(plat, 'close');
    const r = await ask(0x92, `${PILE} 01`, 0x91);
    assert.equal(r.frame.body.result, 1);
    await closed;
    const rec = await plat.waitType(0x3b, from);
    assert.equal(rec.frame.body.stopReason, 0x83, 'a restart while charging ends the session: power lost');
    await advance(clock, 7_000, 1_000);
    await pile.waitOnline();
    assert.equal(plat.conns.length, 2);
    const login = plat.frames(0x01, from)[0];
    assert.deepEqual([login.conn.id, login.frame.seq], [1, 0]);
    assert.equal(pile.stats.reboots, 1);
    await nextEvent<PileRecordEvent>(pile, 'record', (e) => e.event === 'confirmed' && e.tradeNo === '6'.repeat(32));
  });

  it('0x92 "when idle" waits for the session to end', async () => {
    await start();
    pile.plug(1);
    let from = plat.mark();
    plat.send(plat.current, 0x34, { tradeNo: '6'.repeat(32), pileNo: PILE, gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD_A, balance: 100 });
    await plat.waitType(0x33, from);
    from = plat.mark();
    await ask(0x92, `${PILE} 02`, 0x91);
    await advance(clock, 30_000);
    assert.equal(plat.conns.filter((c) => !c.closed).length, 1, 'still connected while charging');
    const closed = nextEvent(plat, 'close');
    pile.stop(1);
    await closed;
    assert.equal((await plat.waitType(0x3b, from)).frame.body.stopReason, 0x45);
  });

  describe('0x94 remote update against a real FTP server', () => {
    let ftp: TestFtpServer;
    before(async () => {
      ftp = await startFtpServer('fwuser', 'fw-secret');
      ftp.put('fw/DC-4.2.bin', crypto.randomBytes(50_000));
      ftp.put('fw/empty.bin', Buffer.alloc(0));
    });
    after(() => ftp.close());

    const body = (over: Record<string, unknown> = {}) => ({
      pileNo: PILE, pileModel: 1, pilePower: 60, ftpHost: ftp.host, ftpPort: ftp.port, ftpUser: ftp.user, ftpPassword: ftp.password,
      ftpPath: '/fw/DC-4.2.bin', runWhen: 1, timeoutMinutes: 1, ...over,
    });

    async function update(over: Record<string, unknown> = {}) {
      const from = plat.mark();
      const ota = new Promise<PileOtaEvent>((resolve) => pile.once('ota', resolve));
      plat.send(plat.current, 0x94, body(over));
      const r = await plat.waitType(0x93, from, 10_000);
      return { from, status: r.frame.body.status as number, ota: await ota };
    }

    it('downloads the file, answers 0x93 success, restarts and logs in with the firmware named by the file', async () => {
      await start({ firmware: 'SIM-1.00' });
      const { from, status, ota } = await update();
      assert.equal(status, 0);
      assert.deepEqual([ota.bytes, ota.firmware, ota.firmwareBefore], [50_000, 'DC-4.2', 'SIM-1.00']);
      assert.deepEqual(ftp.logins.at(-1), { username: 'fwuser', ok: true }, 'logged in with the frame\'s user and password');
      await nextEvent(plat, 'close');
      await advance(clock, 7_000, 1_000);
      assert.equal((await plat.waitType(0x01, from)).frame.body.firmwareVersion, 'DC-4.2');
    });

    it('a wrong model gets status 2 at once, without contacting the server', async () => {
      await start();
      const logins = ftp.logins.length;
      const from = plat.mark();
      plat.send(plat.current, 0x94, body({ pileModel: 2 }));
      assert.equal((await plat.waitType(0x93, from)).frame.body.status, 2, 'AC image for a DC pile');
      assert.equal(ftp.logins.length, logins);
    });

    for (const [what, over, status, failure] of [
      ['a refused login', { ftpPassword: 'wrong' }, 3, 'login'],
      ['a missing file', { ftpPath: '/fw/none.bin' }, 3, 'notFound'],
      ['an empty file', { ftpPath: '/fw/empty.bin' }, 2, 'empty'],
    ] as const) {
      it(`${what} answers status ${status} and the pile stays online with its firmware`, async () => {
        await start({ firmware: 'SIM-1.00' });
        const r = await update(over);
        assert.deepEqual([r.status, r.ota.failure], [status, failure]);
        assert.equal(pile.linkState, 'online');
        assert.equal(pile.firmware, 'SIM-1.00');
        assert.equal(pile.stats.reboots, 0);
      });
    }

    it('checks the expected size and checksum when told them', async () => {
      await start({ otaExpect: { size: 50_000, sha256: '00'.repeat(32) } });
      const r = await update();
      assert.deepEqual([r.status, r.ota.failure], [2, 'checksum']);
    });
  });

  it('0x94 with a forced outcome (otaResult) skips the download', async () => {
    await start({ otaResult: 0, otaFirmware: 'SIM-2.00' });
    const from = plat.mark();
    plat.send(plat.current, 0x94, { pileNo: PILE, pileModel: 1, pilePower: 60, ftpHost: 'h', ftpPort: 21, ftpUser: 'u', ftpPassword: 'p', ftpPath: '/f', runWhen: 1, timeoutMinutes: 1 });
    assert.equal((await plat.waitType(0x93, from)).frame.body.status, 0);
    await nextEvent(plat, 'close');
    await advance(clock, 7_000, 1_000);
    assert.equal((await plat.waitType(0x01, from)).frame.body.firmwareVersion, 'SIM-2.00');
  });

  it('0x94 simulated download timeout → status 3, no restart', async () => {
    await start({ otaResult: 3 });
    const from = plat.mark();
    plat.send(plat.current, 0x94, { pileNo: PILE, pileModel: 1, pilePower: 60, ftpHost: 'h', ftpPort: 21, ftpUser: 'u', ftpPassword: 'p', ftpPath: '/f', runWhen: 1, timeoutMinutes: 1 });
    assert.equal((await plat.waitType(0x93, from)).frame.body.status, 3);
    assert.equal(pile.linkState, 'online');
  });

  it('0xA4 (1.6) → 0xA3 with the main/auxiliary flag and the parallel serial, both guns charge', async () => {
    await start({ version: '1.6', guns: 2 });
    pile.plug(1);
    pile.plug(2);
    const from = plat.mark();
    const par = (gunNo: number, trade: string) =>
      plat.send(plat.current, 0xa4, { tradeNo: trade, pileNo: PILE, gunNo, logicalCardNo: '1', physicalCardNo: CARD_A, balance: 100, parallelNo: '250106090000' });
    const s1 = par(1, '1'.repeat(32));
    const s2 = par(2, '2'.repeat(32));
    const a1 = await plat.waitType(0xa3, from, 5000, (g) => g.frame.body.gunNo === 1);
    const a2 = await plat.waitType(0xa3, from, 5000, (g) => g.frame.body.gunNo === 2);
    assert.deepEqual([a1.frame.seq, a1.frame.body.result, a1.frame.body.mainAux, a1.frame.body.parallelNo], [s1, 1, 0, '250106090000']);
    assert.deepEqual([a2.frame.seq, a2.frame.body.result, a2.frame.body.mainAux], [s2, 1, 1]);
    assert.deepEqual(pile.snapshot().guns.map((g) => g.session?.parallelNo), ['250106090000', '250106090000']);
  });

  it('a 1.5 pile ignores 0xA4 (the frame does not exist in 1.5)', async () => {
    await start({ version: '1.5' });
    pile.plug(1);
    const from = plat.mark();
    plat.send(plat.current, 0xa4, { tradeNo: '1'.repeat(32), pileNo: PILE, gunNo: 1, logicalCardNo: '1', physicalCardNo: CARD_A, balance: 100, parallelNo: '250106090000' });
    // A later command's answer proves the 0xA4 was read and passed over.
    await ask(0x12, `${PILE}01`, 0x13);
    assert.equal(plat.frames(0xa3, from).length, 0);
    assert.equal(pile.snapshot().guns[0].session, null);
  });

  it('dropReplies silences answers (counted), and answers resume when it is lifted', async () => {
    await start({ faults: { dropReplies: true } });
    const from = plat.mark();
    const got = nextEvent(pile, 'received', (f: { type: number }) => f.type === 0x36);
    plat.sendRaw(plat.current, handFrame(0x12, 1, `${PILE}01`));
    plat.sendRaw(plat.current, handFrame(0x36, 2, `${PILE}01`));
    await got;
    pile.setFaults({ dropReplies: false });
    await ask(0x12, `${PILE}01`, 0x13, 0x0777);
    assert.equal(plat.frames(0x35, from).length, 0);
    assert.deepEqual(plat.frames(0x13, from).filter((g) => g.frame.seq === 1 || g.frame.seq === 0x0777).map((g) => g.frame.seq), [0x0777]);
    assert.equal(pile.stats.repliesDropped, 2);
  });
});
