/**
 * examples/orders-alarms.json against a real MQTT broker (aedes, in-process) and a virtual pile over
 * TCP (100× clock, fault injection): alarms arrive on MQTT as events and as retained state that a
 * cleared alarm deletes, an acknowledgement published on MQTT clears a latched alarm, the order on
 * each gun and the snapshot are retained. Only the thresholds are made small for the test.
 */
import * as net from 'net';
import { pathToFileURL } from 'url';
import should from 'should';
import mqtt from 'mqtt';
import { VirtualPile } from '../../src/simulator';
import { Loaded, loadExample } from './harness';

const PILE = '32010200000301';

interface Received {
  topic: string;
  payload: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  retain: boolean;
}

class Subscriber {
  readonly got: Received[] = [];
  private waiters: Array<{ pred: (m: Received) => boolean; resolve: (m: Received) => void }> = [];
  constructor(readonly client: mqtt.MqttClient) {
    client.on('message', (topic, buf, packet) => {
      const text = buf.toString();
      let payload: unknown = text;
      try {
        payload = JSON.parse(text);
      } catch {
        /* plain text or empty */
      }
      const m = { topic, payload, retain: packet.retain };
      this.got.push(m);
      const i = this.waiters.findIndex((w) => w.pred(m));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
    });
  }

  wait(pred: (m: Received) => boolean, what: string, timeoutMs = 8000): Promise<Received> {
    const have = this.got.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (m: Received) => (clearTimeout(t), resolve(m)) };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no MQTT message: ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.got.map((g) => g.topic)).slice(0, 800)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

async function connect(port: number, topics: string[]): Promise<Subscriber> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, clean: true });
  const s = new Subscriber(client);
  await client.subscribeAsync(topics, { qos: 1 });
  return s;
}

describe('example orders-alarms.json', function () {
  this.timeout(30_000);
  let broker: { handle: (s: net.Socket) => void; close(cb?: () => void): void };
  let brokerServer: net.Server;
  let brokerPort: number;
  let ex: Loaded;
  let pile: VirtualPile;
  let sub: Subscriber;
  const clients: mqtt.MqttClient[] = [];

  before(async () => {
    const { Aedes } = (await import(pathToFileURL(require.resolve('aedes')).href)) as typeof import('aedes', { with: { 'resolution-mode': 'import' } });
    broker = (await Aedes.createBroker()) as unknown as typeof broker;
    brokerServer = net.createServer((s) => broker.handle(s));
    await new Promise<void>((r) => brokerServer.listen(0, '127.0.0.1', r));
    brokerPort = (brokerServer.address() as net.AddressInfo).port;
    sub = await connect(brokerPort, ['ykc/#']);
    clients.push(sub.client);
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
    await Promise.all(clients.map((c) => c.endAsync()));
    brokerServer?.close();
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
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
    const late = await connect(brokerPort, [`ykc/${PILE}/alarms/#`]);
    clients.push(late.client);
    should((await late.wait((m) => m.topic === stateTopic, 'retained active alarm')).retain).be.true();

    pile.setFaults({ silence: false });
    await sub.wait((m) => m.topic === `ykc/${PILE}/alarm` && m.payload.code === 'realtimeSilent' && !m.payload.active, 'realtimeSilent cleared');
    await sub.wait((m) => m.topic === stateTopic && m.payload === '', 'retained state deleted');
    const later = await connect(brokerPort, [`ykc/${PILE}/alarms/#`]);
    clients.push(later.client);
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
