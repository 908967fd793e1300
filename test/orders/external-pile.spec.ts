/**
 * The order watchdog checked with piles that are not ours: a raw TCP client (its own framing and
 * CRC, test/support/raw-pile + raw) replays frames captured from real piles and platforms
 * (test/fixtures/external-frames.json) against the real gateway, and the tracker must follow them.
 */
import assert from 'assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { decodeFrame } from '../../src/protocol';
import { rawFrame } from '../support/raw';
import { RawPile } from '../support/raw-pile';
import { REPO_ROOT } from '../support/repo';
import { Rig } from './harness';

interface External {
  id: string;
  hex: string;
}
const EXTERNAL = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'external-frames.json'), 'utf8')) as External[];
const frame = (id: string) => Buffer.from(EXTERNAL.find((f) => f.id === id)!.hex, 'hex');

/** 0x01 by docs/protocol.md 5.1: pile, DC, 1 gun, v1.5, firmware, LAN, no SIM, carrier "other". */
const login = (pileNo: string) => rawFrame(0x01, `${pileNo}00010F${Buffer.from('EXTPILE2', 'ascii').toString('hex')}01${'00'.repeat(10)}04`, '0000');

async function loggedIn(port: number, pileNo: string): Promise<RawPile> {
  const p = await RawPile.connect(port);
  p.write(login(pileNo));
  for (;;) {
    const f = await p.next(5000);
    if (f.type === 0x02) {
      assert.equal(f.body[7], 0, 'login accepted');
      return p;
    }
  }
}

describe('orders: real piles\' frames (external captures) through the gateway', function () {
  this.timeout(20_000);
  let rig: Rig;
  const raws: RawPile[] = [];
  beforeEach(() => {
    rig = new Rig();
  });
  afterEach(async () => {
    for (const p of raws.splice(0)) p.close();
    await rig.close();
  });

  it('a real remote-start exchange (platform 0x34, the pile\'s 0x33, its 0x13 35 s later): requested → started → charging, remote', async () => {
    await rig.start();
    const pile = await loggedIn(rig.port, '20250703170601');
    raws.push(pile);
    const start = decodeFrame(frame('evcpa-trace-0x34'));
    const tradeNo = String(start.body.tradeNo);
    const reply = rig.gw.request('20250703170601', { type: 0x34, body: start.body }, { timeoutMs: 5000 });
    // The pile answers with its own captured bytes (its sequence 97 CF, not ours: matched by trade number).
    for (;;) {
      const f = await pile.next(5000);
      if (f.type === 0x34) break;
    }
    pile.write(frame('evcpa-trace-0x33'));
    assert.equal((await reply)?.body.result, 1);
    pile.write(frame('evcpa-trace-0x13'));
    const charging = await rig.states.wait((s) => s.tradeNo === tradeNo && s.state === 'charging');
    assert.deepEqual(rig.states.items.filter((s) => s.tradeNo === tradeNo).map((s) => s.state), ['requested', 'started', 'charging']);
    assert.equal(charging.origin, 'remote');
    assert.equal(charging.pileNo, '20250703170601');
    assert.equal(charging.gunNo, 1);
    assert.ok(charging.realtime, 'the real 0x13 figures are kept');
  });

  it('a real 166-byte record of an order never seen before (363.556 kWh in 74 min): created from the record, closed, no false meter alarm', async () => {
    await rig.start();
    const pile = await loggedIn(rig.port, '18120000000266');
    raws.push(pile);
    pile.write(frame('lambda-0x3b-18120000000266'));
    const closed = await rig.states.wait((s) => s.pileNo === '18120000000266' && s.state === 'closed');
    const seq = rig.states.items.filter((s) => s.tradeNo === closed.tradeNo).map((s) => s.state);
    assert.deepEqual(seq, ['recorded', 'confirmed', 'closed'], 'first seen in its record: no invented earlier steps');
    assert.equal(closed.requestedAt, null);
    assert.equal(closed.record?.totalEnergy, 3_635_560);
    assert.equal(closed.record!.meterEnd - closed.record!.meterStart, closed.record!.totalEnergy);
    assert.equal(closed.record?.stopReason, 0x41);
    assert.equal(rig.alarms.items.length, 0, JSON.stringify(rig.alarms.items));
    // Its 0x40 went back to the pile.
    for (;;) {
      const f = await pile.next(5000);
      if (f.type === 0x40) break;
    }
  });
});
