import should from 'should';
import { laneDepth, newTradeNo, QUEUE_LIMIT } from '../../nodes/shared/command';
import { rawFrame } from '../support/raw';
import { inject, lastStatus, PILE, realtimeBody, Rig, rig, seqOf } from './commands-harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const startNode = require('../../nodes/ykc-start');

const START = { type: 'ykc-start', pile: PILE, pileType: 'str', gun: 1, balance: '100.00' };

/** 0x33 body: trade, pile, gun, result, reason. */
const reply33 = (trade: string, result: number, reason: number, gun = 1) =>
  `${trade}${PILE}${String(gun).padStart(2, '0')}${result.toString(16).padStart(2, '0')}${reason.toString(16).padStart(2, '0')}`;

describe('nodes: ykc-start (0x34 → 0x33)', function () {
  this.timeout(10_000);
  let r: Rig;
  afterEach(async () => {
    if (r) await r.close();
  });

  it('sends a remote start with a trade number by the spec rule and reports the accepted answer; the msg passes through', async () => {
    r = await rig(startNode, START, { outputs: 4 });
    const p = await r.pile();
    const before = Date.now();
    inject(r, { payload: { logicalCardNo: '1000000573', physicalCardNo: 'D14B0A54' }, orderId: 'A-17', topic: 'app/start' });
    const f = await p.next(0x34);
    // The bytes on the wire, read without the node's encoder: body offset 40 = balance 10000 (100.00 yuan).
    const raw = p.raw[p.raw.length - 1];
    should(raw.subarray(6 + 40, 6 + 44).toString('hex')).equal('10270000');
    should(raw.subarray(6 + 32, 6 + 40).toString('hex').toUpperCase()).equal('00000000D14B0A54');
    const trade = String(f.body.tradeNo);
    should(trade).match(/^3201020000000101\d{16}$/);
    // yyMMddHHmmss in China time (UTC+8), close to now.
    const stamp = trade.slice(16, 28);
    const china = new Date(before + 8 * 3600_000);
    const expected = `${String(china.getUTCFullYear() % 100).padStart(2, '0')}${String(china.getUTCMonth() + 1).padStart(2, '0')}${String(china.getUTCDate()).padStart(2, '0')}`;
    should(stamp.slice(0, 6)).equal(expected);
    should(f.body).containEql({ pileNo: PILE, gunNo: 1, logicalCardNo: '0000001000000573', balance: 100 });
    p.write(rawFrame(0x33, reply33(trade, 1, 0), seqOf(f)));
    const m = await r.out[0].next();
    should(m.payload).containEql({ tradeNo: trade, result: 1, resultName: 'started' });
    should(m.ykc).containEql({ pileNo: PILE, gunNo: 1, tradeNo: trade, type: 0x33, name: 'remoteStartReply', outcome: 'accepted', version: '1.5' });
    should(m.ykc.request).eql({ type: 0x34, name: 'remoteStart' });
    should(m.orderId).equal('A-17');
    should(m.topic).equal('app/start');
    should(lastStatus(r.node)).containEql({ fill: 'green', shape: 'dot' });
    // Charging confirmed: a 0x13 in state 3 with the same trade number.
    p.write(rawFrame(0x13, realtimeBody(trade, PILE, 1, 3), '0500'));
    const c = await r.out[3].next();
    should(c.topic).equal(`ykc/${PILE}/chargingConfirmed`);
    should(c.payload).containEql({ tradeNo: trade, gunState: 3, gunStateName: 'charging' });
    should(c.ykc).containEql({ event: 'chargingConfirmed', tradeNo: trade });
    should(c.orderId).equal('A-17');
    should(r.caught.count).equal(0);
  });

  it('uses a given trade number and a 0x13 of another trade does not confirm; none in time → startTimeout + YKC_TIMEOUT', async () => {
    r = await rig(startNode, { ...START, confirmWindow: '0.3' }, { outputs: 4 });
    const p = await r.pile();
    const trade = '32010200000001012510101106330001';
    inject(r, { payload: { tradeNo: trade, balance: 5.5 } });
    const f = await p.next(0x34);
    should(f.body).containEql({ tradeNo: trade, balance: 5.5 });
    p.write(rawFrame(0x33, reply33(trade, 1, 0), seqOf(f)));
    await r.out[0].next();
    p.write(rawFrame(0x13, realtimeBody('32010200000001019999999999990001', PILE, 1, 3), '0600'));
    const t = await r.out[3].next();
    should(t.topic).equal(`ykc/${PILE}/startTimeout`);
    should(t.payload).containEql({ pileNo: PILE, gunNo: 1, tradeNo: trade });
    const e = await r.caught.next();
    should(e.error.code).equal('YKC_TIMEOUT');
    should(lastStatus(r.node)).containEql({ fill: 'red', shape: 'ring' });
  });

  it('a refusal goes to output 2 with the reason code and name, and to Catch as YKC_REJECTED', async () => {
    r = await rig(startNode, START, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: {} });
    const f = await p.next(0x34);
    p.write(rawFrame(0x33, reply33(String(f.body.tradeNo), 0, 2), seqOf(f)));
    const m = await r.out[1].next();
    should(m.payload).containEql({ result: 0, failReason: 2, failReasonName: 'gun already charging' });
    should(m.ykc).containEql({ outcome: 'refused', reason: 2, reasonName: 'gun already charging' });
    const e = await r.caught.next();
    should(e.error.code).equal('YKC_REJECTED');
    should(lastStatus(r.node)).containEql({ fill: 'red', shape: 'dot' });
  });

  it('refusalError off: a refusal goes to output 2 only (the next Catch is the later timeout)', async () => {
    r = await rig(startNode, { ...START, refusalError: false, timeout: '0.2' }, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: {} });
    const f = await p.next(0x34);
    p.write(rawFrame(0x33, reply33(String(f.body.tradeNo), 0, 3), seqOf(f)));
    await r.out[1].next();
    inject(r, { payload: {} });
    await p.next(0x34);
    const e = await r.caught.next();
    should(e.error.code).equal('YKC_TIMEOUT');
  });

  it('late plug: "gun not plugged in" then a second 0x33 success for the same trade → waitingForPlug, then accepted', async () => {
    r = await rig(startNode, START, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: {}, id: 1 });
    const f = await p.next(0x34);
    const trade = String(f.body.tradeNo);
    p.write(rawFrame(0x33, reply33(trade, 0, 5), seqOf(f)));
    const w = await r.out[3].next();
    should(w.topic).equal(`ykc/${PILE}/waitingForPlug`);
    should(w.payload).containEql({ failReason: 5, failReasonName: 'gun not plugged in' });
    should(lastStatus(r.node)).containEql({ fill: 'blue', shape: 'ring' });
    // The pile's own second answer (its own sequence number).
    p.write(rawFrame(0x33, reply33(trade, 1, 0), '0900'));
    const m = await r.out[0].next();
    should(m.payload).containEql({ tradeNo: trade, result: 1 });
    should(m.ykc).containEql({ outcome: 'accepted', latePlug: true, tradeNo: trade });
    should(r.out[1].count).equal(0);
  });

  it('late plug: both 0x33 in one TCP write are still seen', async () => {
    r = await rig(startNode, START, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: {} });
    const f = await p.next(0x34);
    const trade = String(f.body.tradeNo);
    p.write(Buffer.concat([rawFrame(0x33, reply33(trade, 0, 5), seqOf(f)), rawFrame(0x33, reply33(trade, 1, 0), '0900')]));
    const m = await r.out[0].next();
    should(m.ykc).containEql({ outcome: 'accepted', latePlug: true });
  });

  it('late plug: no second 0x33 within the window → refused with reason 5', async () => {
    r = await rig(startNode, { ...START, latePlugWait: '0.3' }, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: {} });
    const f = await p.next(0x34);
    p.write(rawFrame(0x33, reply33(String(f.body.tradeNo), 0, 5), seqOf(f)));
    await r.out[3].next();
    const m = await r.out[1].next();
    should(m.ykc).containEql({ outcome: 'refused', reason: 5, reasonName: 'gun not plugged in' });
    should((await r.caught.next()).error.code).equal('YKC_REJECTED');
  });

  it('late plug: the pile going offline ends the wait at once (refused, reason 5)', async () => {
    r = await rig(startNode, START, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: {} });
    const f = await p.next(0x34);
    p.write(rawFrame(0x33, reply33(String(f.body.tradeNo), 0, 5), seqOf(f)));
    await r.out[3].next();
    const t0 = Date.now();
    p.close();
    const m = await r.out[1].next();
    should(m.ykc).containEql({ outcome: 'refused', reason: 5 });
    should(Date.now() - t0).be.below(2000);
  });

  it('charging not confirmed because the pile went offline → startTimeout at once, marked offline', async () => {
    r = await rig(startNode, START, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: {} });
    const f = await p.next(0x34);
    p.write(rawFrame(0x33, reply33(String(f.body.tradeNo), 1, 0), seqOf(f)));
    await r.out[0].next();
    p.close();
    const t = await r.out[3].next();
    should(t.topic).equal(`ykc/${PILE}/startTimeout`);
    should(t.payload).containEql({ offline: true });
    should((await r.caught.next()).error.code).equal('YKC_TIMEOUT');
  });

  it('no answer → output 3 with YKC_TIMEOUT, payload as it came in', async () => {
    r = await rig(startNode, { ...START, timeout: '0.2' }, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: { balance: 1 } });
    await p.next(0x34);
    const m = await r.out[2].next();
    should(m.payload).eql({ balance: 1 });
    should(m.ykc).containEql({ outcome: 'timeout', pileNo: PILE });
    should(m.ykc.error.code).equal('YKC_TIMEOUT');
    should((await r.caught.next()).error.code).equal('YKC_TIMEOUT');
    should(lastStatus(r.node)).containEql({ fill: 'red', shape: 'ring' });
  });

  it('pile offline → output 3 with YKC_OFFLINE and a grey status', async () => {
    r = await rig(startNode, START, { outputs: 4 });
    inject(r, { payload: {} });
    const m = await r.out[2].next();
    should(m.ykc).containEql({ outcome: 'offline' });
    should((await r.caught.next()).error.code).equal('YKC_OFFLINE');
    should(lastStatus(r.node)).containEql({ fill: 'grey', shape: 'ring' });
  });

  it('bad input (no pile, 15-digit pile, no balance, bad trade number, negative balance, gun 0) → YKC_FIELD and nothing sent', async () => {
    r = await rig(startNode, { ...START, pile: '', balance: '' }, { outputs: 4 });
    const p = await r.pile();
    const bad = [
      { payload: { gunNo: 1, balance: 1 } },
      { payload: { pileNo: '320102000000011', balance: 1 } },
      { payload: { pileNo: PILE } },
      { payload: { pileNo: PILE, balance: 1, tradeNo: 'x12' } },
      { payload: { pileNo: PILE, balance: -1 } },
      { payload: { pileNo: PILE, balance: 1, gunNo: 0 } },
      { payload: { pileNo: PILE, balance: 1.234 } },
    ];
    for (const msg of bad) {
      inject(r, msg);
      const e = await r.caught.next();
      should(e.error.code).equal('YKC_FIELD');
      const m = await r.out[2].next();
      should(m.ykc.outcome).equal('error');
    }
    should(lastStatus(r.node)).containEql({ fill: 'red', shape: 'ring' });
    // Nothing reached the pile: the first frame it gets is the next valid start.
    inject(r, { payload: { pileNo: PILE, balance: 2, tradeNo: '77' } });
    const f = await p.next(0x34);
    should(f.body.tradeNo).equal('77'.padStart(32, '0'));
    should(p.frames.length).equal(0);
  });

  it('target from msg.ykc.pileNo and the gun from msg.ykc.gunNo (a msg from ykc-in)', async () => {
    r = await rig(startNode, { ...START, pile: '', gun: '' }, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: { balance: 3 }, ykc: { pileNo: PILE, gunNo: 2 } });
    const f = await p.next(0x34);
    should(f.body).containEql({ pileNo: PILE, gunNo: 2 });
  });

  it('one start in flight per pile and gun: the next waits until the answer, the queue is bounded (YKC_LIMIT)', async () => {
    r = await rig(startNode, START, { outputs: 4 });
    const p = await r.pile();
    inject(r, { payload: { gunNo: 1 }, nth: 1 });
    inject(r, { payload: { gunNo: 1 }, nth: 2 });
    const first = await p.next(0x34);
    should(first.body.gunNo).equal(1);
    should(laneDepth(r.gateway, `${PILE}/gun1/0x34`)).equal(2);
    // Fill the queue: one in flight + QUEUE_LIMIT waiting; one more is refused at once.
    for (let i = 0; i < QUEUE_LIMIT - 1; i++) inject(r, { payload: { gunNo: 1 } });
    should(laneDepth(r.gateway, `${PILE}/gun1/0x34`)).equal(QUEUE_LIMIT + 1);
    inject(r, { payload: { gunNo: 1 }, over: true });
    const e = await r.caught.next();
    should(e.error.code).equal('YKC_LIMIT');
    should(e.over).equal(true);
    should(p.frames.filter((f) => f.type === 0x34)).have.length(0);
    p.write(rawFrame(0x33, reply33(String(first.body.tradeNo), 1, 0), seqOf(first)));
    const second = await p.next(0x34);
    should(second.body.tradeNo).not.equal(first.body.tradeNo);
    should((await r.out[0].next()).nth).equal(1);
  });

  it('newTradeNo: pile + gun + China time + a counter that differs within one second', () => {
    const at = new Date(Date.UTC(2025, 9, 10, 3, 6, 33)); // 11:06:33 in China
    const a = newTradeNo(PILE, 1, at);
    const b = newTradeNo(PILE, 1, at);
    should(a.slice(0, 28)).equal(`${PILE}01251010110633`);
    should(a).have.length(32);
    should(a).not.equal(b);
  });
});
