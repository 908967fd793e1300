/** Virtual pile: fault injection — the platform side must still frame everything correctly. */
import assert from 'assert/strict';
import { ManualClock, PileFaults, VirtualPile, VirtualPileOptions } from '../../src/simulator';
import { advance, china, tick } from './helpers';
import { nextEvent, sampleTariff, ScriptedPlatform } from './platform';

const PILE = '32010200000001';

describe('simulator: fault injection', function () {
  this.timeout(10_000);
  let plat: ScriptedPlatform;
  let pile: VirtualPile;
  let clock: ManualClock;

  async function start(faults: PileFaults, opts: Partial<VirtualPileOptions> = {}) {
    plat = new ScriptedPlatform({ model: sampleTariff() });
    const port = await plat.listen();
    clock = new ManualClock(china(2025, 1, 6, 9, 0));
    pile = new VirtualPile({ port, pileNo: PILE, clock, guns: 2, seed: 11, faults, ...opts });
    const tariff = nextEvent(pile, 'tariff');
    pile.connect();
    if (faults.staleConnection) {
      // The first login is accepted, then that connection is left hanging and the pile reconnects.
      await nextEvent(pile, 'state', (st: { link: string }) => st.link === 'offline');
      clock.advance(100);
    }
    await pile.waitOnline();
    await tariff;
  }

  /** Runs a busy stretch: a charge on gun 1 for 5 minutes (0x13, 0x23, 0x25 …) and a stop. */
  async function traffic() {
    pile.plug(1);
    plat.send(plat.current, 0x34, { tradeNo: '4'.repeat(32), pileNo: PILE, gunNo: 1, logicalCardNo: '1', physicalCardNo: '1', balance: 100 });
    await plat.waitType(0x33);
    await advance(clock, 5 * 60_000, 5_000);
    pile.stop(1);
    await plat.waitType(0x3b);
    await tick(30);
  }

  afterEach(async () => {
    await pile?.close();
    await plat?.close();
    assert.deepEqual(plat.badFrames, []);
  });

  it('split writes: every frame arrives in pieces and is reassembled whole', async () => {
    await start({ splitWrites: true });
    await traffic();
    const s = pile.liveStats();
    assert.ok(s.writes >= 2 * s.framesSent, `2–4 writes per frame (${s.writes} writes, ${s.framesSent} frames)`);
    assert.equal(plat.received.length, s.framesSent, 'the platform framed every frame the pile sent');
    assert.equal(plat.current.splitter.stats.crcErrors + plat.current.splitter.stats.garbageBytes, 0);
  });

  it('merged writes: frames of one turn go out in one write and are cut apart', async () => {
    await start({ mergeWrites: true });
    await traffic();
    const s = pile.liveStats();
    assert.ok(s.writes < s.framesSent, `fewer writes than frames (${s.writes} writes, ${s.framesSent} frames)`);
    assert.equal(plat.received.length, s.framesSent);
  });

  it('split and merged together: pieces cut across frame boundaries', async () => {
    await start({ splitWrites: true, mergeWrites: true });
    await traffic();
    assert.equal(plat.received.length, pile.liveStats().framesSent);
  });

  it('high-byte-first CRC: every frame carries the swapped CRC and is still accepted', async () => {
    await start({ hiFirstCrc: true });
    await traffic();
    assert.ok(plat.received.length > 50);
    assert.ok(plat.received.every((g) => g.order === 'hi-first' && g.frame.crcOrder === 'hi-first'));
    assert.equal(plat.current.splitter.stats.hiFirstCrc, plat.received.length, 'the splitter counted each one');
  });

  it('garbage between frames: skipped and counted, no frame lost', async () => {
    await start({ garbage: 0.5 });
    await traffic();
    const st = plat.current.splitter.stats;
    assert.ok(st.garbageBytes > 0, 'garbage was sent');
    assert.ok(plat.current.errors.some((e) => e.code === 'YKC_GARBAGE'));
    assert.equal(st.crcErrors, 0);
    assert.equal(plat.received.length, pile.liveStats().framesSent);
  });

  it('stale second connection: the first stays open and silent, the pile works on the second', async () => {
    await start({ staleConnection: true });
    assert.equal(plat.conns.length, 2);
    assert.equal(plat.conns[0].closed, false, 'the first connection is still open');
    const before = plat.received.filter((g) => g.conn.id === 0).length;
    await traffic();
    assert.equal(plat.received.filter((g) => g.conn.id === 0).length, before, 'nothing more on the stale one');
    assert.ok(plat.received.filter((g) => g.conn.id === 1).length > 50);
  });

  it('clock skew: the pile’s times (and tariff slots) follow its own wrong clock', async () => {
    await start({ clockSkewMs: 2 * 3600_000 });
    await traffic();
    const rec = plat.frames(0x3b)[0].frame.body;
    assert.equal(rec.startTime, '2025-01-06 11:00:00', 'two hours ahead of 09:00');
    assert.equal(rec.peakEnergy, 5, 'billed at the peak rate of 11:00, not the flat rate of 09:00');
  });

  it('silence: no heartbeats (nor anything else originated) until lifted; the link is kept', async () => {
    await start({});
    const from = plat.mark();
    pile.setFaults({ silence: true });
    await advance(clock, 60_000, 5_000);
    assert.equal(plat.frames(0x03, from).length, 0);
    assert.equal(pile.linkState, 'online');
    pile.setFaults({ silence: false });
    const mid = plat.mark();
    await advance(clock, 20_000, 5_000);
    assert.ok(plat.frames(0x03, mid).length >= 2);
  });
});
