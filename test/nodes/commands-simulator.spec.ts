/**
 * The command nodes against the virtual pile of src/simulator (a pile implementation written apart
 * from the gateway), over TCP: what a flow author sees when a pile really charges, plugs late,
 * takes a tariff, sets its clock, reboots, refuses an update, stores offline cards.
 */
import should from 'should';
import type { Tariff } from '../../src/billing/tariff';
import { VirtualPile, VirtualPileOptions } from '../../src/simulator';
import { inject, Rig, rig } from './commands-harness';

/* eslint-disable @typescript-eslint/no-require-imports */
const startNode = require('../../nodes/ykc-start');
const stopNode = require('../../nodes/ykc-stop');
const tariffNode = require('../../nodes/ykc-tariff');
const timeNode = require('../../nodes/ykc-time-sync');
const rebootNode = require('../../nodes/ykc-reboot');
const otaNode = require('../../nodes/ykc-ota');
const commandNode = require('../../nodes/ykc-command');
/* eslint-enable @typescript-eslint/no-require-imports */

const SIM = '32010200000501';
const SIM2 = '32010200000502';
const TARIFF = {
  modelCode: '0100',
  sharpElecPrice: '1.2',
  sharpServicePrice: '0.8',
  peakElecPrice: '1',
  peakServicePrice: '0.8',
  flatElecPrice: '0.7',
  flatServicePrice: '0.6',
  valleyElecPrice: '0.3',
  valleyServicePrice: '0.4',
  slots: '3'.repeat(16) + '2'.repeat(32),
};

describe('command nodes against the virtual pile (src/simulator)', function () {
  this.timeout(15_000);
  let r: Rig;
  const piles: VirtualPile[] = [];
  // The virtual pile asks for a model after login: the server has one from the start.
  const server = { tariff: JSON.stringify({ ...TARIFF, modelCode: '0001', slots: new Array(48).fill(2), lossRatio: 0 }) };

  async function pile(opts: Partial<VirtualPileOptions> = {}): Promise<VirtualPile> {
    const p = new VirtualPile({ port: r.port, host: '127.0.0.1', pileNo: SIM, guns: 2, seed: 7, ...opts });
    piles.push(p);
    // Online is not enough: without a billing model the pile refuses to charge (§8.1 step 5).
    const model = new Promise<void>((resolve) => p.once('tariff', () => resolve()));
    p.connect();
    await p.waitOnline();
    await model;
    return p;
  }

  afterEach(async () => {
    await Promise.all(piles.splice(0).map((p) => p.close()));
    if (r) await r.close();
  });

  it('ykc-start: a plugged gun starts, and charging is confirmed by its realtime frame', async () => {
    r = await rig(startNode, { type: 'ykc-start', pile: SIM, pileType: 'str', gun: 1, balance: '50' }, { outputs: 4, server });
    const p = await pile();
    p.plug(1);
    inject(r, { payload: {}, order: 'o-1' });
    const m = await r.out[0].next();
    should(m.payload).containEql({ pileNo: SIM, gunNo: 1, result: 1 });
    const c = await r.out[3].next();
    should(c.topic).equal(`ykc/${SIM}/chargingConfirmed`);
    should(c.payload).containEql({ tradeNo: m.ykc.tradeNo, gunState: 3 });
    should(c.order).equal('o-1');
    should(p.gunStatus(1)).containEql({ charging: true, tradeNo: m.ykc.tradeNo });
  });

  it('ykc-start: the late plug — "gun not plugged in", then the plug, then the start', async () => {
    r = await rig(startNode, { type: 'ykc-start', pile: SIM, pileType: 'str', gun: 2, balance: '50' }, { outputs: 4, server });
    const p = await pile();
    inject(r, { payload: {} });
    const w = await r.out[3].next();
    should(w.topic).equal(`ykc/${SIM}/waitingForPlug`);
    should(p.gunStatus(2).waitingForPlug).be.true();
    p.plug(2);
    const m = await r.out[0].next();
    should(m.ykc).containEql({ latePlug: true, outcome: 'accepted' });
    should((await r.out[3].next()).topic).equal(`ykc/${SIM}/chargingConfirmed`);
  });

  it('ykc-stop: a charging gun stops; an idle one is refused with "gun not charging"', async () => {
    r = await rig(stopNode, { type: 'ykc-stop', pile: SIM, pileType: 'str', gun: 1 }, { server });
    const p = await pile();
    inject(r, { payload: {} });
    should((await r.out[1].next()).payload).containEql({ failReasonName: 'gun not charging' });
    await r.caught.next();
    p.plug(1);
    const tradeNo = '32010200000501012510101106330001';
    // Started by the gateway directly (the start node is tested above).
    await r.gateway.request(SIM, { type: 0x34, body: { tradeNo, pileNo: SIM, gunNo: 1, balance: 10 } });
    inject(r, { payload: {} });
    should((await r.out[0].next()).payload).containEql({ result: 1, resultName: 'stopped' });
    should(p.gunStatus(1).charging).be.false();
  });

  it('ykc-tariff "*": both virtual piles take the model and bill with it', async () => {
    r = await rig(tariffNode, { type: 'ykc-tariff', pile: '*', pileType: 'str', ...TARIFF }, { server });
    const a = await pile();
    const b = await pile({ pileNo: SIM2 });
    const got = [a, b].map((p) => new Promise<Tariff>((resolve) => p.on('tariff', (t: Tariff) => t.modelCode === '0100' && resolve(t))));
    inject(r, { payload: {} });
    const [ta, tb] = await Promise.all(got);
    should(ta.toBody()).containEql({ modelCode: '0100', valleyElecPrice: 0.3 });
    should(tb.slots[0]).equal(3);
    const oks = [await r.out[0].next(), await r.out[0].next()];
    should(oks.map((m) => m.ykc.pileNo).sort()).eql([SIM, SIM2]);
  });

  it('ykc-time-sync: a pile an hour off is set right (China time on the wire)', async () => {
    r = await rig(timeNode, { type: 'ykc-time-sync', pile: SIM, pileType: 'str' }, { server });
    const p = await pile({ faults: { clockSkewMs: -3600_000 } });
    should(Math.abs(p.wallNow() - Date.now())).be.above(3000_000);
    inject(r, { payload: {} });
    const m = await r.out[0].next();
    should(m.payload.pileNo).equal(SIM);
    should(Math.abs(p.wallNow() - Date.now())).be.below(2500);
  });

  it('ykc-reboot: the pile answers, drops the link and logs in again', async () => {
    r = await rig(rebootNode, { type: 'ykc-reboot', pile: SIM, pileType: 'str', runWhen: '1' }, { server });
    const p = await pile({ timing: { rebootMs: 100 } });
    const back = new Promise<void>((resolve) => r.gateway.once('online', () => resolve()));
    inject(r, { payload: {} });
    should((await r.out[0].next()).payload).containEql({ result: 1 });
    await back;
    should(p.liveStats().reboots).equal(1);
  });

  it('ykc-ota: a pile whose model does not fit refuses the update', async () => {
    r = await rig(otaNode, {
      type: 'ykc-ota', pile: SIM, pileType: 'str', pileModel: '2', pilePower: '60', ftpHost: '10.0.0.5', ftpPort: '21', ftpUser: 'fw', ftpPath: '/fw/', runWhen: '1', timeoutMinutes: '5', timeout: '3',
    }, { server, credentials: { ftpPassword: 'pw' } });
    await pile({ pileType: 'DC' });
    inject(r, { payload: {} });
    const m = await r.out[1].next();
    should(m.ykc).containEql({ reason: 2, reasonName: 'firmware does not fit this model' });
  });

  it('ykc-command: read realtime, then 20 offline cards synced in two frames and queried back', async () => {
    r = await rig(commandNode, { type: 'ykc-command', pile: SIM, pileType: 'str', gun: 1, command: 'readRealtime' }, { server });
    await pile();
    inject(r, { payload: {} });
    should((await r.out[0].next()).payload).containEql({ pileNo: SIM, gunNo: 1, gunStateName: 'idle' });
    const cards = Array.from({ length: 20 }, (_, i) => ({ logicalCardNo: String(2000 + i), physicalCardNo: `00000000AB${String(i).padStart(6, '0')}` }));
    inject(r, { command: 'cardSync', payload: { cards } });
    should((await r.out[0].next()).payload).containEql({ result: 1, cardsStored: 20, frames: 2 });
    inject(r, { command: 'cardQuery', payload: { cards: [cards[0].physicalCardNo, cards[19].physicalCardNo, '00000000FFFFFFFF'] } });
    const q = await r.out[0].next();
    should(q.payload.cards.map((c: { result: number }) => c.result)).eql([1, 1, 0]);
  });
});
