/**
 * src/cluster on a real (in-process aedes, MQTT 3.1.1: the v3 fallback path) broker, with
 * gateways on real TCP and virtual piles: the directory, commands to a pile on another instance
 * (accepted, refused, timeout, offline), at-most-once delivery, late replies, a pile that moves
 * (newest login wins), an instance that dies (its will clears it, its claims expire).
 */
import { strict as assert } from 'assert';
import { VirtualPile } from '../../src/simulator';
import { isYkcError, YkcError } from '../../src/protocol';
import { Broker, Instance, rawClient, sampleTariff, startBroker, startInstance, TinyBalancer, waitFor } from './helpers';

const P1 = '32010200000301';
const P2 = '32010200000302';
const P3 = '32010200000303';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<YkcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isYkcError(e), `a YkcError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, the promise resolved`);
}

describe('cluster: gateways over an MQTT broker', function () {
  this.timeout(60_000);
  let broker: Broker;
  const instances: Instance[] = [];
  const piles: VirtualPile[] = [];
  const raws: Array<{ client: { endAsync(): Promise<void> } }> = [];

  const pile = (port: number, pileNo: string, extra: Record<string, unknown> = {}) => {
    const p = new VirtualPile({ port, pileNo, seed: 7, timing: { heartbeatMs: 1000, heartbeatMisses: 2, reconnectMs: 100, reconnectMaxMs: 400 }, ...extra });
    piles.push(p);
    p.connect();
    return p;
  };
  const instance = async (id: string, clusterOpts: { transitGraceMs?: number } = {}) => {
    const i = await startInstance(broker, id, {}, clusterOpts);
    instances.push(i);
    return i;
  };

  beforeEach(async () => {
    broker = await startBroker();
  });
  afterEach(async () => {
    await Promise.all(piles.splice(0).map((p) => p.close()));
    await Promise.all(instances.splice(0).map((i) => i.stop()));
    await Promise.all(raws.splice(0).map((r) => r.client.endAsync()));
    await broker.close();
  });

  it('publishes the directory: a retained claim per pile and a retained liveness per instance', async () => {
    const a = await instance('A');
    const b = await instance('B');
    await pile(a.port, P1).waitOnline();
    await waitFor(() => b.cluster.holder(P1) === 'A', 'B sees P1 on A');
    assert.equal(a.cluster.holder(P1), null, 'a local pile is not "held elsewhere"');
    const listed = b.cluster.piles().find((p) => p.pileNo === P1)!;
    assert.deepEqual([listed.instance, listed.local, listed.version], ['A', false, '1.5']);
    assert.ok(b.server.onlinePileNumbers().includes(P1), 'the gateway lists cluster piles for "*"');
    assert.deepEqual(b.server.piles(), [], 'its own pile list stays local');

    const raw = await rawClient(broker, ['ykc/piles/+', 'ykc/instances/+']);
    raws.push(raw);
    await waitFor(() => raw.got.length >= 3, 'retained directory delivered to a late subscriber');
    const claim = raw.got.find((m) => m.topic === `ykc/piles/${P1}`)!;
    assert.ok(claim.retain);
    const c = JSON.parse(claim.payload);
    assert.equal(c.instance, 'A');
    assert.equal(typeof c.since, 'number');
    assert.match(c.remote, /^127\.0\.0\.1:/);
    assert.ok(raw.got.some((m) => m.topic === 'ykc/instances/B' && m.retain && JSON.parse(m.payload).instance === 'B'));
  });

  it('forwards a command to the instance holding the pile: accepted, refused, timeout, offline', async () => {
    const a = await instance('A');
    const b = await instance('B');
    const p = pile(a.port, P1);
    await p.waitOnline();
    await waitFor(() => b.cluster.holder(P1) === 'A', 'B sees P1 on A');

    const ok = await b.server.request(P1, { type: 0x58, body: sampleTariff('0200').toBody(P1) as never });
    assert.deepEqual([ok?.type, ok?.body.result, ok?.body.pileNo], [0x57, 1, P1]);
    assert.equal(p.model?.modelCode, '0200', 'the pile took the model');
    assert.equal((a.server.tariffFor(P1) as { modelCode?: string } | null)?.modelCode, '0200', 'the holder answers the pile’s 0x05/0x09 with it');

    const bad = { ...(sampleTariff('0300').toBody(P1) as unknown as Record<string, unknown>), slots: new Array(48).fill(7) };
    const refused = await b.server.request(P1, { type: 0x58, body: bad });
    assert.equal(refused?.body.result, 0, 'a refusal is the pile’s reply, as locally');
    assert.equal(p.model?.modelCode, '0200');

    p.setFaults({ dropReplies: true });
    const t0 = Date.now();
    const timeout = await rejectsWith(b.server.request(P1, { type: 0x58, body: sampleTariff('0400').toBody(P1) as never }, { timeoutMs: 400 }), 'YKC_TIMEOUT');
    assert.equal(timeout.details.instance, 'A');
    assert.equal(timeout.details.timeoutMs, 400);
    assert.ok(Date.now() - t0 < 2400, 'the holder’s timeout comes back before the caller’s grace');
    p.setFaults({ dropReplies: false });

    const before = b.cluster.counters.forwarded;
    const off = await rejectsWith(b.server.request(P3, { type: 0x58, body: sampleTariff().toBody(P3) as never }), 'YKC_OFFLINE');
    assert.match(off.message, /not online/);
    assert.equal(b.cluster.counters.forwarded, before, 'nothing is published for a pile nobody holds');

    await rejectsWith(b.server.request(P1, { type: 0x58, body: { pileNo: P1, modelCode: 'xx' } }), 'YKC_FIELD');
    assert.equal(a.cluster.pendingCount() + b.cluster.pendingCount(), 0);
  });

  it('runs a command delivered twice only once, and ignores late and duplicate replies', async () => {
    const a = await instance('A');
    const b = await instance('B', { transitGraceMs: 100 });
    await pile(a.port, P1).waitOnline();
    const raw = await rawClient(broker, ['test/reply', 'ykc/cmd/X']);
    raws.push(raw);
    const cmd = JSON.stringify({ id: 'dup-1', from: 'test', pileNo: P1, timeoutMs: 3000, replyTo: 'test/reply', frame: { type: 0x58, body: sampleTariff('0500').toBody(P1) } });
    const sent58 = () => a.server.counters.framesOutByType['0x58'] ?? 0;
    const before = sent58();
    await raw.client.publishAsync('ykc/cmd/A', cmd, { qos: 1 });
    await raw.client.publishAsync('ykc/cmd/A', cmd, { qos: 1 });
    await waitFor(() => raw.got.some((m) => m.topic === 'test/reply'), 'the reply');
    await waitFor(() => a.cluster.counters.duplicatesDropped === 1, 'the second delivery dropped');
    assert.equal(sent58() - before, 1, 'the pile got one 0x58');
    assert.equal(raw.got.filter((m) => m.topic === 'test/reply').length, 1);
    const reply = JSON.parse(raw.got.find((m) => m.topic === 'test/reply')!.payload);
    assert.deepEqual([reply.id, reply.ok, reply.frame.body.result], ['dup-1', true, 1]);

    // A fake instance X that answers too late (and twice).
    await raw.client.publishAsync('ykc/instances/X', JSON.stringify({ instance: 'X', epoch: 1, host: 't', events: false, v5: false }), { qos: 1, retain: true });
    await raw.client.publishAsync(`ykc/piles/${P2}`, JSON.stringify({ instance: 'X', epoch: 1, remote: 'r', version: '1.6', since: 1 }), { qos: 1, retain: true });
    await waitFor(() => b.cluster.holder(P2) === 'X', 'B sees P2 on X');
    const late = rejectsWith(b.server.request(P2, { type: 0x58, body: sampleTariff().toBody(P2) as never }, { timeoutMs: 200 }), 'YKC_TIMEOUT');
    await waitFor(() => raw.got.some((m) => m.topic === 'ykc/cmd/X'), 'the command reached X');
    const asked = JSON.parse(raw.got.find((m) => m.topic === 'ykc/cmd/X')!.payload);
    assert.equal(asked.replyTo, 'ykc/reply/B', 'v3.1.1: the reply topic travels in the payload');
    await late;
    const answer = JSON.stringify({ id: asked.id, from: 'X', ok: true, frame: { type: 0x57, name: 'x', seq: 0, body: { result: 1 } } });
    await raw.client.publishAsync('ykc/reply/B', answer, { qos: 1 });
    await raw.client.publishAsync('ykc/reply/B', answer, { qos: 1 });
    await waitFor(() => b.cluster.counters.lateReplies === 2, 'both late replies counted and dropped');
    assert.equal(b.cluster.pendingCount(), 0);
    await raw.client.publishAsync('ykc/instances/X', '', { qos: 1, retain: true });
    await raw.client.publishAsync(`ykc/piles/${P2}`, '', { qos: 1, retain: true });
  });

  it('a pile that reconnects elsewhere is claimed by its newest holder; the stale connection is closed', async () => {
    const a = await instance('A');
    const b = await instance('B');
    const lb = new TinyBalancer();
    await lb.listen();
    lb.target = a.port;
    const p = pile(lb.port, P1);
    await p.waitOnline();
    await waitFor(() => b.cluster.holder(P1) === 'A', 'B sees P1 on A');
    lb.target = b.port;
    lb.blackhole(); // A keeps a silent connection; the pile gives up on it and reconnects, through the balancer, to B
    await waitFor(() => b.server.isOnline(P1), 'P1 logs in on B', 15_000);
    await waitFor(() => a.cluster.holder(P1) === 'B', 'A sees P1 on B');
    await waitFor(() => !a.server.isOnline(P1), 'A closed its stale session');
    const r = await a.server.request(P1, { type: 0x58, body: sampleTariff('0600').toBody(P1) as never });
    assert.equal(r?.body.result, 1);
    assert.equal(p.model?.modelCode, '0600');
    await p.close();
    await lb.close();
  });

  it('an instance that dies: its will clears it, its claims expire, waiting commands end, its piles come back elsewhere', async () => {
    const a = await instance('A');
    const b = await instance('B');
    const lb = new TinyBalancer();
    await lb.listen();
    lb.target = a.port;
    const p = pile(lb.port, P1);
    await p.waitOnline();
    await waitFor(() => b.cluster.holder(P1) === 'A', 'B sees P1 on A');
    p.setFaults({ dropReplies: true });
    const waiting = b.server.request(P1, { type: 0x58, body: sampleTariff().toBody(P1) as never }, { timeoutMs: 20_000 });
    await waitFor(() => a.cluster.counters.served === 1, 'A runs the command');
    lb.target = b.port;
    const t0 = Date.now();
    await a.crash();
    const closed = await rejectsWith(waiting, 'YKC_CLOSED');
    assert.equal(closed.details.instance, 'A');
    assert.ok(Date.now() - t0 < 10_000, 'not left to its 20 s timeout');
    await waitFor(() => !b.cluster.liveInstances().some((i) => i.instance === 'A'), 'A’s will cleared its liveness');
    p.setFaults({ dropReplies: false });
    await waitFor(() => b.server.isOnline(P1), 'P1 reconnects through the balancer to B', 15_000);
    const c = await instance('C');
    await waitFor(() => c.cluster.holder(P1) === 'B', 'a new instance sees P1 on B');
    const r = await c.server.request(P1, { type: 0x58, body: sampleTariff('0700').toBody(P1) as never });
    assert.equal(r?.body.result, 1);
    await p.close();
    await waitFor(() => c.cluster.holder(P1) === null, 'B cleared its claim when P1 went offline');
    await rejectsWith(c.server.request(P1, { type: 0x58, body: sampleTariff().toBody(P1) as never }), 'YKC_OFFLINE');
    await lb.close();
  });

  it('a broker that restarts empty: every instance announces itself and its piles again', async () => {
    const a = await instance('A');
    const b = await instance('B');
    await pile(a.port, P1).waitOnline();
    await waitFor(() => b.cluster.holder(P1) === 'A', 'B sees P1 on A');
    await broker.restart();
    await waitFor(() => !b.cluster.connected(), 'B noticed the broker went away');
    await rejectsWith(b.server.request(P1, { type: 0x58, body: sampleTariff().toBody(P1) as never }), 'YKC_OFFLINE');
    await waitFor(() => b.cluster.connected() && b.cluster.holder(P1) === 'A', 'the directory is rebuilt after the reconnection', 15_000);
    const r = await b.server.request(P1, { type: 0x58, body: sampleTariff('0900').toBody(P1) as never });
    assert.equal(r?.body.result, 1);
  });

  it('claims of an instance that is gone are ignored and tidied from the broker', async () => {
    const raw = await rawClient(broker, []);
    raws.push(raw);
    // A dead instance left a retained claim (no liveness record): nobody routes to it.
    await raw.client.publishAsync(`ykc/piles/${P2}`, JSON.stringify({ instance: 'Z', epoch: 5, remote: 'r', version: '1.6', since: 1 }), { qos: 1, retain: true });
    const b = await instance('B');
    await waitFor(() => b.cluster.piles().length === 0 && b.cluster.liveInstances().length === 1, 'B started');
    await rejectsWith(b.server.request(P2, { type: 0x58, body: sampleTariff().toBody(P2) as never }), 'YKC_OFFLINE');
    // An instance restarted under the same id cleans up the claims of its earlier run.
    await raw.client.publishAsync(`ykc/piles/${P3}`, JSON.stringify({ instance: 'B', epoch: 5, remote: 'r', version: '1.6', since: 1 }), { qos: 1, retain: true });
    const watch = await rawClient(broker, [`ykc/piles/${P3}`]);
    raws.push(watch);
    await waitFor(() => watch.got.some((m) => m.payload === ''), 'B cleared its stale claim');
  });

  it('a record relayed to another instance is acknowledged to the pile through its holder (storage on pile + trade number)', async () => {
    const a = await startInstance(broker, 'A', { recordConfirm: 'after-store' });
    instances.push(a);
    const b = await instance('B');
    const records: Array<{ kind: string; event: Record<string, unknown> }> = [];
    b.cluster.on('event', (e) => records.push(e));
    b.cluster.wantEvents(true);
    const p = pile(a.port, P1, { tariff: sampleTariff() });
    await p.waitOnline();
    await waitFor(() => b.cluster.holder(P1) === 'A' && a.cluster.liveInstances().some((i) => i.instance === 'B' && i.events), 'B sees P1 and A knows B wants events');
    p.plug(1);
    const tradeNo = '5'.repeat(32);
    const started = await b.server.request(P1, { type: 0x34, body: { tradeNo, pileNo: P1, gunNo: 1, logicalCardNo: '1', physicalCardNo: '0000000000000001', balance: 1000 } });
    assert.equal(started?.body.result, 1, `remote start accepted through A: ${JSON.stringify(started?.body)}`);
    const stopped = await b.server.request(P1, { type: 0x36, body: { pileNo: P1, gunNo: 1 } });
    assert.equal(stopped?.body.result, 1);
    await waitFor(() => records.some((e) => e.kind === 'record' && (e.event.frame as { body: { tradeNo: string } }).body.tradeNo === tradeNo), 'the record reaches B', 15_000);
    const rec = records.find((e) => e.kind === 'record')!.event;
    assert.deepEqual([rec.pileNo, rec.instance, rec.held], [P1, 'A', true], 'held on A until confirmed');
    assert.ok(p.pendingRecords().some((r) => r.tradeNo === tradeNo), 'the pile still holds it');
    assert.equal(b.server.confirmRecord(tradeNo, true, P1), true, 'handed to A');
    await waitFor(() => !p.pendingRecords().some((r) => r.tradeNo === tradeNo), 'the pile got its 0x40');
    assert.equal(a.server.counters.recordsConfirmed, 1);
  });

  it('a pile\'s request relayed to another instance is answered from there through its holder (card start 0x31 → 0x32)', async () => {
    const a = await instance('A');
    const b = await instance('B');
    const frames: Array<{ frame: { type: number; seq: number; body: Record<string, unknown> } }> = [];
    b.cluster.on('event', (e) => {
      if (e.kind === 'frame') frames.push(e.event as never);
    });
    b.cluster.wantEvents(true);
    const p = pile(a.port, P1, { tariff: sampleTariff() });
    await p.waitOnline();
    await waitFor(() => b.cluster.holder(P1) === 'A' && a.cluster.liveInstances().some((i) => i.instance === 'B' && i.events), 'B sees P1 and wants events');
    p.plug(1);
    const outcome = p.card(1, 'D14B0A54');
    await waitFor(() => frames.some((f) => f.frame.type === 0x31), 'the 0x31 reaches B');
    const req = frames.find((f) => f.frame.type === 0x31)!.frame;
    b.server.reply(P1, req.seq, { type: 0x32, body: { tradeNo: '4'.repeat(32), pileNo: P1, gunNo: 1, logicalCardNo: '1', balance: 100, result: 1, failReason: 0 } });
    const r = await outcome;
    assert.equal(r.result, 'started', JSON.stringify(r));
    assert.equal((r as { session: { tradeNo: string } }).session.tradeNo, '4'.repeat(32));
  });

  it('says so when another process announces itself under the same instance id', async () => {
    const a = await instance('A');
    const problems: string[] = [];
    a.cluster.on('problem', (p) => problems.push(p.message));
    const raw = await rawClient(broker, []);
    raws.push(raw);
    await raw.client.publishAsync('ykc/instances/A', JSON.stringify({ instance: 'A', epoch: Date.now() + 60_000, host: 'elsewhere', events: false, v5: false }), { qos: 1, retain: true });
    await waitFor(() => problems.some((m) => /another process announces itself as cluster instance A \(host elsewhere\)/.test(m)), 'the duplicate id reported');
    await raw.client.publishAsync('ykc/instances/A', '', { qos: 1, retain: true });
  });

  it('sends pile events to the broker only while another instance asks for them', async () => {
    const a = await instance('A');
    const b = await instance('B');
    const got: Array<{ kind: string; pileNo: string; instance: string }> = [];
    b.cluster.on('event', (e) => got.push(e));
    const p = pile(a.port, P1);
    await p.waitOnline();
    await waitFor(() => b.cluster.holder(P1) === 'A', 'B sees P1');
    assert.equal(a.cluster.counters.eventsPublished, 0, 'nobody asked: no events on the broker');
    b.cluster.wantEvents(true);
    await waitFor(() => a.cluster.liveInstances().some((i) => i.instance === 'B' && i.events), 'A learns B wants events');
    p.plug(1);
    await waitFor(() => got.some((e) => e.kind === 'frame' && e.pileNo === P1 && e.instance === 'A'), 'a frame event of P1 from A', 15_000);
    await p.close();
    await waitFor(() => got.some((e) => e.kind === 'offline' && e.pileNo === P1), 'the offline event');
    b.cluster.wantEvents(false);
    await waitFor(() => a.cluster.liveInstances().some((i) => i.instance === 'B' && !i.events), 'A learns B no longer wants events');
  });
});
