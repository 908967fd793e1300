/**
 * examples/orders-alarms.json against a real MQTT broker (aedes, in-process) and a virtual pile over
 * TCP (100× clock, fault injection): alarms arrive on MQTT as events and as retained state that a
 * cleared alarm deletes, an acknowledgement published on MQTT clears a latched alarm, the order on
 * each gun and the snapshot are retained. Only the thresholds are made small for the test.
 */
import should from 'should';
import { VirtualPile } from '../../src/simulator';
import { LocalBroker, Loaded, loadExample, Subscriber } from './harness';

const PILE = '32010200000301';

describe('example orders-alarms.json', function () {
  this.timeout(30_000);
  let mq: LocalBroker;
  let brokerPort: number;
  let ex: Loaded;
  let pile: VirtualPile;
  let sub: Subscriber;

  before(async () => {
    mq = await LocalBroker.start();
    brokerPort = mq.port;
    sub = await mq.subscribe(['ykc/#'], 8000);
    ex = await loadExample('orders-alarms.json', {
      brokerPort,
      patch(flow) {
        const w = flow.find((n) => n.type === 'ykc-orders')!;
        Object.assign(w, { startNotConfirmed: 1.5, realtimeSilent: 2, offlineWhileCharging: 0, recordMissing: 1.5, persist: false });
      },
    });
    pile = new VirtualPile({ port: ex.ykcPort, pileNo: PILE, guns: 2, speed: 100, seed: 5, faults: { meterJump: 800_000 } });
    const model = new Promise<void>((r) => pile.once('tariff', () => r()));
    pile.connect();
    await pile.waitOnline(8000);
    await model;
  });

  after(async () => {
    await pile?.close();
    await ex?.close();
    await mq?.close();
  });

  it('a silent charging pile: realtimeSilent on ykc/<pile>/alarm and as retained state; cleared → the retained state is deleted', async () => {
    const gw = ex.server.gateway!;
    pile.plug(1, { batteryKwh: 200, soc: 10 });
    const tradeNo = `${PILE}01${String(Date.now()).slice(-12)}0001`;
    const r = await gw.request(PILE, { type: 0x34, body: { tradeNo, pileNo: PILE, gunNo: 1, logicalCardNo: '1', physicalCardNo: '1', balance: 500 } }, { timeoutMs: 5000 });
    should(r?.body.result).equal(1);
    const order = await sub.wait((m) => m.topic === `ykc/${PILE}/1/order` && m.payload.state === 'charging', 'order charging');
    should(order.payload.tradeNo).equal(tradeNo);

    pile.setFaults({ silence: true });
    const up = await sub.wait((m) => m.topic === `ykc/${PILE}/alarm` && m.payload.code === 'realtimeSilent' && m.payload.active, 'realtimeSilent event');
    should(up.retain).be.false();
    should(up.payload.text.zh).match(/未收到实时数据/);
    const stateTopic = `ykc/${PILE}/alarms/realtimeSilent/${tradeNo}`;
    // A subscriber that comes later gets the active alarm, retained.
    const late = await mq.subscribe([`ykc/${PILE}/alarms/#`], 8000);
    should((await late.wait((m) => m.topic === stateTopic, 'retained active alarm')).retain).be.true();

    pile.setFaults({ silence: false });
    await sub.wait((m) => m.topic === `ykc/${PILE}/alarm` && m.payload.code === 'realtimeSilent' && !m.payload.active, 'realtimeSilent cleared');
    await sub.wait((m) => m.topic === stateTopic && m.payload === '', 'retained state deleted');
    const later = await mq.subscribe([`ykc/${PILE}/alarms/#`], 8000);
    await new Promise((res) => setTimeout(res, 300));
    should(later.got.filter((m) => m.topic === stateTopic)).eql([], 'nothing retained for a cleared alarm');

    // The record (meterJump: 80 kWh too many) → meterAnomaly; acknowledged over MQTT → cleared.
    await gw.request(PILE, { type: 0x36, body: { pileNo: PILE, gunNo: 1 } }, { timeoutMs: 5000 });
    const anomaly = await sub.wait((m) => m.topic === `ykc/${PILE}/alarm` && m.payload.code === 'meterAnomaly' && m.payload.active, 'meterAnomaly');
    should(anomaly.payload.tradeNo).equal(tradeNo);
    await sub.wait((m) => m.topic === `ykc/${PILE}/alarm` && m.payload.code === 'auditFailed' && m.payload.active, 'auditFailed from ykc billing');
    await sub.client.publishAsync(`ykc/${PILE}/alarm/ack`, JSON.stringify({ code: 'meterAnomaly', tradeNo }), { qos: 1 });
    const acked = await sub.wait((m) => m.topic === `ykc/${PILE}/alarm` && m.payload.code === 'meterAnomaly' && !m.payload.active, 'meterAnomaly acknowledged');
    should(acked.payload.clearReason).equal('acknowledged');
    // Confirmed by the example's ykc-confirm: the order closes.
    await sub.wait((m) => m.topic === `ykc/${PILE}/1/order` && m.payload.state === 'closed', 'order closed');
  });

  it('the snapshot is published, retained, with the counts', async () => {
    ex.trigger('orders.tick');
    const snap = await sub.wait((m) => m.topic === 'ykc/orders/snapshot', 'snapshot');
    should(snap.payload.counts).have.properties(['open', 'alarms', 'history']);
    should(snap.payload.alarms.map((a: { code: string }) => a.code)).containEql('auditFailed');
  });
});
