/**
 * The order watchdog against the real gateway over TCP, driven by the virtual pile (100× clock)
 * and its fault injection: every order state, and every alarm raised once and cleared once.
 */
import assert from 'assert/strict';
import { CARD, Rig, trade } from './harness';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$/;

describe('orders: states and alarms against the gateway and the virtual pile', function () {
  this.timeout(30_000);
  let rig: Rig;
  beforeEach(() => {
    rig = new Rig();
  });
  afterEach(async () => {
    await rig.close();
  });

  /** Each alarm for this trade number: exactly one raise and (when cleared) one clear. */
  function alarmsOf(tradeNo: string, code: string) {
    return rig.alarms.items.filter((a) => a.tradeNo === tradeNo && a.code === code);
  }

  it('a remote start goes requested → started → charging → stopping → ended → recorded → confirmed → closed, no alarm (its record passes the self-audit)', async () => {
    await rig.start({}, { selfAudit: true });
    const p = await rig.pile(1);
    const t = await rig.remoteStart(p, 1, trade(1));
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    await new Promise((r) => setTimeout(r, 300));
    await rig.remoteStop(p, 1);
    const closed = await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    const seq = rig.states.items.filter((s) => s.tradeNo === t).map((s) => s.state);
    assert.deepEqual(seq, ['requested', 'started', 'charging', 'stopping', 'ended', 'recorded', 'confirmed', 'closed']);
    assert.equal(closed.origin, 'remote');
    assert.equal(closed.closeReason, 'confirmed');
    for (const k of ['requestedAt', 'startedAt', 'chargingAt', 'stoppingAt', 'endedAt', 'recordedAt', 'confirmedAt', 'closedAt'] as const) assert.match(String(closed[k]), ISO, k);
    assert.ok(closed.realtime && closed.realtime.energy > 0, 'last realtime energy kept');
    assert.equal(closed.record?.stopReason, 0x40);
    assert.ok(closed.record!.totalEnergy >= closed.realtime!.energy, 'record energy at least the last realtime');
    assert.equal(closed.record!.meterEnd - closed.record!.meterStart, closed.record!.totalEnergy);
    assert.equal(rig.alarms.items.length, 0, JSON.stringify(rig.alarms.items));
    assert.equal(rig.tracker.openCount(), 0);
  });

  it('a card start answered by the platform (0x31 → 0x32) is a "card" order', async () => {
    await rig.start();
    const p = await rig.pile(2);
    const t = trade(2);
    rig.gw.on('frame', (ev) => {
      if (ev.frame.type !== 0x31 || ev.pileNo !== p.pileNo) return;
      rig.gw.reply(p.pileNo, ev.frame.seq, {
        type: 0x32,
        body: { tradeNo: t, pileNo: p.pileNo, gunNo: ev.frame.body.gunNo, logicalCardNo: '0000000000000002', balance: 300, result: 1, failReason: 0 },
      });
    });
    p.plug(2, { batteryKwh: 200, soc: 10 });
    const out = await p.card(2, 'D14B0A54');
    assert.equal(out.result, 'started');
    const charging = await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    assert.equal(charging.origin, 'card');
    assert.equal(charging.gunNo, 2);
    await p.card(2, 'D14B0A54'); // the same card stops it
    const closed = await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    assert.equal(closed.record?.startType, 2);
  });

  it('startNotConfirmed: start accepted, no charging 0x13 (pile silent) → raised once; the 0x13 comes → cleared', async () => {
    await rig.start();
    const p = await rig.pile(3);
    p.setFaults({ silence: true });
    const t = await rig.remoteStart(p, 1, trade(3));
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'startNotConfirmed' && a.active);
    assert.equal(up.severity, 'warning');
    assert.equal(up.pileNo, p.pileNo);
    assert.equal(up.gunNo, 1);
    assert.match(up.since, ISO);
    assert.match(up.text.en, /no charging realtime data/);
    assert.match(up.text.zh, /未收到充电中的实时数据/);
    await new Promise((r) => setTimeout(r, 200)); // several sweeps: still one raise
    p.setFaults({ silence: false });
    const down = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'startNotConfirmed' && !a.active);
    assert.equal(down.clearReason, 'charging');
    assert.equal(alarmsOf(t, 'startNotConfirmed').length, 2);
    assert.equal(rig.tracker.order(t)?.state, 'charging');
  });

  it('realtimeSilent: charging, the pile stops sending 0x13 while online → raised; 0x13 again → cleared', async () => {
    await rig.start();
    const p = await rig.pile(4);
    const t = await rig.remoteStart(p, 2, trade(4));
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    p.setFaults({ silence: true });
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'realtimeSilent' && a.active);
    assert.equal(up.gunNo, 2);
    assert.ok(rig.gw.isOnline(p.pileNo), 'the pile is still online (heartbeat timeout is 30 s)');
    p.setFaults({ silence: false });
    const down = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'realtimeSilent' && !a.active);
    assert.equal(down.clearReason, 'realtime data again');
    assert.equal(alarmsOf(t, 'realtimeSilent').length, 2);
  });

  it('offlineWhileCharging: the link drops mid-charge → raised; the pile logs in again and the order continues → cleared', async () => {
    await rig.start();
    const p = await rig.pile(5);
    const t = await rig.remoteStart(p, 1, trade(5));
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    const energyBefore = rig.tracker.order(t)!.realtime!.energy;
    rig.gw.session(p.pileNo)!.close('link cut by the test');
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'offlineWhileCharging' && a.active);
    assert.equal(up.severity, 'major');
    const down = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'offlineWhileCharging' && !a.active);
    assert.equal(down.clearReason, 'pile online again');
    // Same order, still charging, energy still counting up after the reconnect.
    await new Promise((r) => setTimeout(r, 400));
    const o = rig.tracker.order(t)!;
    assert.equal(o.state, 'charging');
    assert.ok(o.realtime!.energy > energyBefore, `${o.realtime!.energy} > ${energyBefore}`);
    assert.equal(alarmsOf(t, 'offlineWhileCharging').length, 2);
  });

  it('recordMissing: the charge ends but the pile holds its record → raised; the record comes → cleared, order closed', async () => {
    await rig.start();
    const p = await rig.pile(6);
    const t = await rig.remoteStart(p, 1, trade(6));
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    p.setFaults({ holdRecords: true });
    await rig.remoteStop(p, 1);
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'ended');
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'recordMissing' && a.active);
    assert.match(up.text.en, /no transaction record/);
    p.setFaults({ holdRecords: false });
    const down = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'recordMissing' && !a.active);
    assert.equal(down.clearReason, 'record received');
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    assert.equal(alarmsOf(t, 'recordMissing').length, 2);
  });

  it('recordUnconfirmed: the record is held for the flow and resent, nobody confirms → raised; confirmRecord → cleared', async () => {
    await rig.start({ recordConfirm: 'after-store', recordConfirmTimeoutMs: 60_000 });
    const p = await rig.pile(7);
    const t = await rig.remoteStart(p, 1, trade(7));
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    await rig.remoteStop(p, 1);
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'recorded');
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'recordUnconfirmed' && a.active);
    assert.ok(Number(up.details.resends) >= 2, `after the resends: ${JSON.stringify(up.details)}`);
    assert.equal(rig.tracker.order(t)?.state, 'recorded');
    rig.gw.confirmRecord(t);
    const down = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'recordUnconfirmed' && !a.active);
    assert.equal(down.clearReason, 'confirmed');
    const closed = await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    assert.equal(closed.record?.result, 0);
    assert.ok(closed.record!.resends >= 2);
  });

  it('meterAnomaly: the record claims 80 kWh more than the meter ran (meterJump) → raised; acknowledged → cleared (and the self-audit fails it)', async () => {
    await rig.start({}, { selfAudit: true });
    const p = await rig.pile(8, { faults: { meterJump: 800_000 } });
    const t = await rig.remoteStart(p, 1, trade(8));
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    await new Promise((r) => setTimeout(r, 300));
    await rig.remoteStop(p, 1);
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'meterAnomaly' && a.active);
    assert.match(String(up.details.reason), /last realtime data said/);
    assert.match(String(up.details.reason), /more than 360 kW could deliver/);
    assert.match(up.text.zh, /电表读数异常/);
    const audit = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'auditFailed' && a.active);
    assert.equal(audit.details.by, 'ykc-orders');
    assert.equal(audit.details.tariffSource, 'history', 'audited against the model the pile took');
    // Latched: the order closes (the record was confirmed) and the alarm stays until someone looks at it.
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    assert.deepEqual(rig.tracker.snapshot().alarms.map((a) => a.code).sort(), ['auditFailed', 'meterAnomaly']);
    const acked = rig.tracker.acknowledge('meterAnomaly', t);
    assert.equal(acked.active, false);
    assert.equal(acked.acknowledged, true);
    assert.equal(acked.clearReason, 'acknowledged');
    assert.equal(alarmsOf(t, 'meterAnomaly').length, 2);
  });

  it('meterAnomaly also when meter end is below meter start (a record made by hand through the gateway)', async () => {
    await rig.start();
    const p = await rig.pile(9);
    const t = await rig.remoteStart(p, 1, trade(9));
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    const rec = rig.tracker as unknown as { onRecord: (ev: unknown, dup: boolean) => void };
    rec.onRecord({
      pileNo: p.pileNo, loggedIn: true, arrival: 'new', held: false,
      frame: { type: 0x3b, body: { tradeNo: t, gunNo: 1, startTime: '2026-01-01 10:00:00', endTime: '2026-01-01 10:30:00', meterStart: 100, meterEnd: 90, totalEnergy: 0, totalAmount: 0, stopReason: 0x40 } },
    }, false);
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'meterAnomaly');
    assert.match(String(up.details.reason), /below meter start/);
  });

  it('tradeReused: an offline session takes the previous trade number again → raised; closing the order by hand → cleared', async () => {
    await rig.start();
    const p = await rig.pile(10, { offlineCards: [{ logicalCardNo: '0000000000000241', physicalCardNo: CARD }] });
    p.plug(1, { batteryKwh: 200, soc: 10 });
    // The gateway does not answer 0x31: after 15 s (pile time) the pile starts from its offline list.
    const first = await p.card(1, CARD);
    assert.equal(first.result, 'started');
    const t = first.result === 'started' ? first.session.tradeNo : '';
    const charging = await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    assert.equal(charging.origin, 'offline');
    await p.card(1, CARD);
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'closed');
    assert.equal(rig.alarms.items.length, 0);

    p.setFaults({ reuseTradeNo: true });
    const second = await p.card(1, CARD);
    assert.equal(second.result === 'started' && second.session.tradeNo, t, 'the pile reused the number');
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'tradeReused' && a.active);
    assert.equal(up.severity, 'critical');
    const reopened = rig.tracker.order(t)!;
    assert.equal(reopened.reused, true);
    assert.equal(reopened.state, 'charging');
    const closed = rig.tracker.close(t, 'checked with the site');
    assert.equal(closed.state, 'closed');
    assert.equal(closed.closeReason, 'manual: checked with the site');
    const down = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'tradeReused' && !a.active);
    assert.equal(down.clearReason, 'order closed by hand');
    assert.equal(alarmsOf(t, 'tradeReused').length, 2);
  });

  it('auditFailed: raised from a failed billing audit, cleared by a passing one; bad commands are YKC_INPUT', async () => {
    await rig.start();
    const p = await rig.pile(11);
    const t = await rig.remoteStart(p, 1, trade(11));
    await rig.states.wait((s) => s.tradeNo === t && s.state === 'charging');
    rig.tracker.audit(t, false, { mismatches: [{ field: 'totalAmount' }] });
    const up = await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'auditFailed' && a.active);
    assert.equal(up.pileNo, p.pileNo);
    rig.tracker.audit(t, false); // still failing: not raised twice
    rig.tracker.audit(t, true);
    await rig.alarms.wait((a) => a.tradeNo === t && a.code === 'auditFailed' && !a.active);
    assert.equal(alarmsOf(t, 'auditFailed').length, 2);
    assert.throws(() => rig.tracker.close('0'.repeat(31) + '1', 'x'), (e: Error & { code?: string }) => e.code === 'YKC_INPUT');
    assert.throws(() => rig.tracker.acknowledge('meterAnomaly', t), (e: Error & { code?: string }) => e.code === 'YKC_INPUT');
  });
});
