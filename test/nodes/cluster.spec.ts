/**
 * The cluster in a real Node-RED runtime: two ykc-server config nodes (instances A and B) naming
 * one core mqtt-broker config node (an in-process aedes broker), virtual piles over TCP on each.
 * A ykc-tariff bound to B reaches the pile held by A, "*" reaches both, ykc-in "whole cluster" on
 * B emits A's pile events with the holding instance, /ykc/servers/:id/piles lists the cluster.
 */
import should from 'should';
import helper = require('node-red-node-test-helper');
import { VirtualPile } from '../../src/simulator';
import { Tariff } from '../../src/billing';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { Broker, startBroker, waitFor } from '../cluster/helpers';
import { Collector, lastStatus, Msg } from './commands-harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const serverNode = require('../../nodes/ykc-server');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tariffNode = require('../../nodes/ykc-tariff');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const inNode = require('../../nodes/ykc-in');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const startNode = require('../../nodes/ykc-start');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mqttNode = require('@node-red/nodes/core/network/10-mqtt.js');

helper.init(require.resolve('node-red'));

const PA = '32010200000401';
const PB = '32010200000402';
const MODEL = {
  modelCode: '0100', sharpElecPrice: '1.2', sharpServicePrice: '0.8', peakElecPrice: '1.0', peakServicePrice: '0.8',
  flatElecPrice: '0.7', flatServicePrice: '0.8', valleyElecPrice: '0.3', valleyServicePrice: '0.8', lossRatio: '0', slots: '1'.repeat(48),
};

describe('nodes: ykc-server in a cluster (mqtt-broker config node)', function () {
  this.timeout(30_000);
  let broker: Broker;
  const piles: VirtualPile[] = [];

  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker.close();
  });
  afterEach(async () => {
    await Promise.all(piles.splice(0).map((p) => p.close()));
    await helper.unload();
  });

  const server = (id: string, instance: string) => ({ id, type: 'ykc-server', host: '127.0.0.1', port: 0, persist: false, broker: 'mb', cluster: 'site1/ykc', instance });
  const flow = (scope = 'cluster') => [
    { id: 'tab', type: 'tab' },
    { id: 'mb', type: 'mqtt-broker', broker: '127.0.0.1', port: broker.port, clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
    server('sA', 'A'),
    server('sB', 'B'),
    { id: 't1', z: 'tab', type: 'ykc-tariff', server: 'sB', pile: PA, pileType: 'str', ...MODEL, wires: [['ok'], ['no'], ['err']] },
    { id: 'in1', z: 'tab', type: 'ykc-in', server: 'sB', scope, groups: ['session', 'gunState'], wires: [['ev']] },
    { id: 'st1', z: 'tab', type: 'ykc-start', server: 'sB', pile: PA, pileType: 'str', gun: 1, balance: '100.00', confirmWindow: '30', wires: [['sok'], ['err'], ['err'], ['sev']] },
    { id: 'sok', z: 'tab', type: 'helper' },
    { id: 'sev', z: 'tab', type: 'helper' },
    { id: 'ok', z: 'tab', type: 'helper' },
    { id: 'no', z: 'tab', type: 'helper' },
    { id: 'err', z: 'tab', type: 'helper' },
    { id: 'ev', z: 'tab', type: 'helper' },
  ];

  async function start(scope = 'cluster') {
    await helper.load([mqttNode, serverNode, tariffNode, inNode, startNode], flow(scope));
    const a = helper.getNode('sA') as unknown as YkcServerNode;
    const b = helper.getNode('sB') as unknown as YkcServerNode;
    await Promise.all([a.ready, b.ready]);
    await waitFor(() => !!a.cluster?.connected() && !!b.cluster?.connected(), 'both instances joined');
    if (scope === 'cluster') await waitFor(() => !!a.cluster?.liveInstances().some((i) => i.instance === 'B' && i.events), 'A knows B wants events');
    const out = {
      ok: new Collector(helper.getNode('ok')), no: new Collector(helper.getNode('no')), err: new Collector(helper.getNode('err')), ev: new Collector(helper.getNode('ev')),
      sok: new Collector(helper.getNode('sok')), sev: new Collector(helper.getNode('sev')),
    };
    const tariff = new Tariff({ modelCode: '0001', elec: [100000, 90000, 80000, 70000], service: [1000, 2000, 3000, 4000], slots: new Array(48).fill(1) });
    // The pile holds a model (it charges only then) and reports realtime data twice a second while charging.
    const pa = new VirtualPile({ port: a.port()!, pileNo: PA, seed: 1, tariff, timing: { realtimeChargingMs: 500 } });
    const pb = new VirtualPile({ port: b.port()!, pileNo: PB, seed: 2 });
    piles.push(pa, pb);
    pa.connect();
    pb.connect();
    await Promise.all([pa.waitOnline(), pb.waitOnline()]);
    await waitFor(() => b.cluster!.holder(PA) === 'A' && a.cluster!.holder(PB) === 'B', 'each sees the other’s pile');
    return { a, b, pa, pb, out };
  }

  it('a command node on B reaches the pile held by A, with the same outputs; "*" reaches every pile of the cluster', async () => {
    const { a, pa, pb, out } = await start();
    helper.getNode('t1').receive({ payload: 1 });
    const m: Msg = await out.ok.next(10_000, 'accepted');
    should(m.payload).containEql({ pileNo: PA, result: 1 });
    should(m.ykc).containEql({ outcome: 'accepted', modelCode: '0100', pileNo: PA, version: '1.5' });
    should(pa.model?.modelCode).equal('0100');
    should((a.gateway!.tariffFor(PA) as { modelCode?: string }).modelCode).equal('0100');

    helper.getNode('t1').receive({ payload: { pileNo: '*', modelCode: '0200' } });
    const both = [await out.ok.next(10_000, 'first of *'), await out.ok.next(10_000, 'second of *')];
    should(both.map((x) => x.ykc.pileNo).sort()).eql([PA, PB]);
    should([pa.model?.modelCode, pb.model?.modelCode]).eql(['0200', '0200']);

    helper.getNode('t1').receive({ payload: { pileNo: '32010200000499' } });
    const off: Msg = await out.err.next(10_000, 'offline');
    should(off.ykc.error.code).equal('YKC_OFFLINE');
  });

  it('ykc-in "whole cluster" emits the other instance’s pile events with the holding instance; the piles API lists the cluster', async () => {
    const { out, pa } = await start();
    await waitFor(() => {
      const on = new Map(out.ev.msgs.filter((x) => x.topic.endsWith('/online')).map((x) => [x.ykc.pileNo, x.ykc.instance]));
      return on.get(PA) === 'A' && on.get(PB) === 'B';
    }, 'online of PA (from A, over the broker) and PB (local to B)');
    const res = await helper.request().get('/ykc/servers/sB/piles').expect(200);
    const rows = (res.body as Array<{ pileNo: string; instance: string }>).map((r) => [r.pileNo, r.instance]).sort();
    should(rows).eql([[PA, 'A'], [PB, 'B']]);
    // The server's status on its nodes says the cluster is joined (the test runtime shows catalogue keys).
    const status = () => String(lastStatus(helper.getNode('in1')).text);
    await waitFor(() => status() === 'ykc-server.status.piles · ykc-server.status.cluster', `status with the cluster (${status()})`);
    pa.plug(1);
    await waitFor(() => out.ev.msgs.some((m) => m.topic === `ykc/${PA}/gunState` && m.ykc.instance === 'A' && m.payload.stateName === 'idle-plugged'), 'the gun state of PA, relayed from A', 15_000);
  });

  it('ykc-start on B for a pile held by A: accepted, then "chargingConfirmed" from A\'s realtime frames, without cluster-wide events', async () => {
    const { a, b, pa, out } = await start('local');
    should(a.cluster!.liveInstances().find((i) => i.instance === 'B')?.events).equal(false);
    pa.plug(1);
    helper.getNode('st1').receive({ payload: 1 });
    const ok: Msg = await out.sok.next(10_000, 'start accepted');
    should(ok.ykc).containEql({ outcome: 'accepted', pileNo: PA, gunNo: 1 });
    const ev: Msg = await out.sev.next(20_000, 'chargingConfirmed');
    should(ev.topic).equal(`ykc/${PA}/chargingConfirmed`);
    should(ev.payload).containEql({ gunState: 3, tradeNo: ok.ykc.tradeNo });
    await waitFor(() => !a.cluster!.liveInstances().find((i) => i.instance === 'B')?.watch, 'B stopped following PA');
    should(b.cluster!.counters.eventsReceived).be.above(0);
    should(a.cluster!.counters.eventsPublished).be.above(0);
  });
});
