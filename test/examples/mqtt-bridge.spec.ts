/**
 * examples/mqtt-bridge.json against a real MQTT broker (aedes, in-process on 127.0.0.1 port 0)
 * and a virtual pile over TCP: what a subscriber sees, commands published by a client, and a
 * record acknowledged over MQTT before the pile gets its 0x40.
 */
import should from 'should';
import { PileRecordEvent as RecordEvent, PileSessionEvent as SessionEvent, VirtualPile } from '../../src/simulator';
import { connectSubscriber, LocalBroker, Loaded, loadExample, Received, Subscriber } from './harness';

const PILE = '32010200000201';

function pileEvent<T>(p: VirtualPile, name: 'session' | 'record', pred: (e: T) => boolean): Promise<T> {
  return new Promise((resolve) => {
    const on = (e: T) => {
      if (!pred(e)) return;
      p.off(name, on);
      resolve(e);
    };
    p.on(name, on);
  });
}

describe('example mqtt-bridge.json', function () {
  this.timeout(20_000);
  let mq: LocalBroker;
  let brokerPort: number;
  let ex: Loaded;
  let pile: VirtualPile;
  let sub: Subscriber;

  before(async () => {
    mq = await LocalBroker.start();
    brokerPort = mq.port;
    sub = await mq.subscribe(['ykc/#', 'app/#']);
    ex = await loadExample('mqtt-bridge.json', { brokerPort });
    pile = new VirtualPile({ port: ex.ykcPort, pileNo: PILE, guns: 2, speed: 200, seed: 3, timing: { realtimeChargingMs: 15_000 } });
    pile.connect();
    await pile.waitOnline();
  });

  after(async () => {
    await pile?.close();
    await ex?.close();
    await mq?.close();
  });

  it('publishes the gateway, the pile and each gun as retained state; a late subscriber gets it at once', async () => {
    await sub.wait((m) => m.topic === 'ykc/gateway/status' && m.payload === 'online', 'birth message');
    const status = await sub.wait((m) => m.topic === `ykc/${PILE}/status`, 'pile status');
    should(status.payload).match({ online: true, version: '1.5' });
    for (const gun of [1, 2]) {
      const st = await sub.wait((m) => m.topic === `ykc/${PILE}/${gun}/state`, `gun ${gun} state`);
      should(st.payload.stateName).equal('idle-unplugged');
    }
    const late = await mq.subscribe([`ykc/${PILE}/+/state`, `ykc/${PILE}/status`]);
    const retained = await late.wait((m) => m.topic === `ykc/${PILE}/2/state`, 'retained gun 2 state');
    should(retained.retain).be.true();
    should(retained.payload.stateName).equal('idle-unplugged');
    should((await late.wait((m) => m.topic === `ykc/${PILE}/status`, 'retained status')).retain).be.true();
  });

  it('a start published on ykc/<pile>/cmd/start starts the pile, answers on replyTo with the correlation id, then state and telemetry follow', async () => {
    pile.plug(1);
    await sub.wait((m) => m.topic === `ykc/${PILE}/1/state` && m.payload.stateName === 'idle-plugged', 'gun 1 plugged');
    const started = pileEvent<SessionEvent>(pile, 'session', (e) => e.event === 'started');
    await sub.client.publishAsync(`ykc/${PILE}/cmd/start`, JSON.stringify({ gunNo: 1, balance: 80, replyTo: 'app/replies/7', correlationId: 'req-7' }), { qos: 1 });
    const reply = await sub.wait((m) => m.topic === 'app/replies/7', 'start reply on replyTo');
    should(reply.payload).match({ ok: true, outcome: 'accepted', command: 'start', pileNo: PILE, gunNo: 1, correlationId: 'req-7' });
    should(reply.payload.tradeNo).match(/^\d{32}$/);
    const s = await started;
    should(s.tradeNo).equal(reply.payload.tradeNo);
    const charging = await sub.wait((m) => m.topic === `ykc/${PILE}/1/state` && m.payload.stateName === 'charging', 'gun 1 charging');
    should(charging.payload.tradeNo).equal(reply.payload.tradeNo);
    const ev = await sub.wait((m) => m.topic === `ykc/${PILE}/1/event` && m.payload.event === 'chargingConfirmed', 'chargingConfirmed event');
    should(ev.payload.correlationId).equal('req-7');
    const tel = await sub.wait((m) => m.topic === `ykc/${PILE}/1/telemetry` && m.payload.powerKw > 0, 'telemetry with power');
    should(tel.retain).be.false();
    should(tel.payload).match({ gunState: 'charging', tradeNo: reply.payload.tradeNo });
  });

  it('a command that is not well formed ("hello", no gunNo, a bad pile number) is answered with an error and never reaches the pile', async () => {
    const ended: SessionEvent[] = [];
    const onSession = (e: SessionEvent) => e.event === 'ended' && ended.push(e);
    pile.on('session', onSession);
    try {
      await sub.client.publishAsync(`ykc/${PILE}/cmd/stop`, 'hello', { qos: 1 });
      const hello = await sub.wait((m) => m.topic === `ykc/${PILE}/cmd/stop/reply` && m.payload.outcome === 'error' && /JSON object/.test(m.payload.error?.message), '"hello" refused');
      should(hello.payload).match({ ok: false, outcome: 'error', command: 'stop', pileNo: PILE, error: { code: 'YKC_INPUT' } });
      await sub.client.publishAsync(`ykc/${PILE}/cmd/stop`, '{}', { qos: 1 });
      const noGun = await sub.wait((m) => m.topic === `ykc/${PILE}/cmd/stop/reply` && m.payload.outcome === 'error' && /gunNo/.test(m.payload.error?.message), 'stop without gunNo refused');
      should(noGun.payload.error.code).equal('YKC_INPUT');
      await sub.client.publishAsync(`ykc/${PILE}/cmd/start`, JSON.stringify([1, 2]), { qos: 1 });
      await sub.wait((m) => m.topic === `ykc/${PILE}/cmd/start/reply` && m.payload.outcome === 'error', 'an array refused');
      await sub.client.publishAsync('ykc/123/cmd/stop', JSON.stringify({ gunNo: 1, replyTo: 'app/bad-pile' }), { qos: 1 });
      should((await sub.wait((m) => m.topic === 'app/bad-pile', 'bad pile number refused')).payload).match({ ok: false, outcome: 'error', error: { code: 'YKC_INPUT' } });
      // Gun 1 still charges: the pile was never asked to stop.
      await sub.client.publishAsync(`ykc/${PILE}/cmd/readRealtime`, JSON.stringify({ gunNo: 1, replyTo: 'app/still' }), { qos: 1 });
      should((await sub.wait((m) => m.topic === 'app/still', 'realtime after the bad commands')).payload.reply).match({ gunStateName: 'charging' });
      should(ended).eql([]);
    } finally {
      pile.off('session', onSession);
    }
  });

  it('any ykc command by name (readRealtime) answers on <topic>/reply; unknown commands answer with an error', async () => {
    await sub.client.publishAsync(`ykc/${PILE}/cmd/readRealtime`, JSON.stringify({ gunNo: 1 }), { qos: 1 });
    const r = await sub.wait((m) => m.topic === `ykc/${PILE}/cmd/readRealtime/reply`, 'readRealtime reply');
    should(r.payload).match({ ok: true, outcome: 'accepted', command: 'readRealtime', pileNo: PILE });
    should(r.payload.reply).match({ pileNo: PILE, gunNo: 1, gunStateName: 'charging' });

    await sub.client.publishAsync(`ykc/${PILE}/cmd/fly`, '{}', { qos: 1 });
    const bad = await sub.wait((m) => m.topic === `ykc/${PILE}/cmd/fly/reply`, 'reply to an unknown command');
    should(bad.payload).match({ ok: false, outcome: 'error', command: 'fly' });
    should(bad.payload.error.code).equal('YKC_FIELD');

    await sub.client.publishAsync('ykc/32010200009999/cmd/stop', JSON.stringify({ gunNo: 1 }), { qos: 1 });
    const off = await sub.wait((m) => m.topic === 'ykc/32010200009999/cmd/stop/reply', 'reply for a pile not connected');
    should(off.payload).match({ ok: false, outcome: 'offline' });
  });

  it('a stop ends the session; the record is published and confirmed to the pile only after the ack on ykc/<pile>/records/ack', async () => {
    const ended = pileEvent<SessionEvent>(pile, 'session', (e) => e.event === 'ended');
    await sub.client.publishAsync(`ykc/${PILE}/cmd/stop`, JSON.stringify({ gunNo: 1 }), { qos: 1 });
    should((await sub.wait((m) => m.topic === `ykc/${PILE}/cmd/stop/reply` && m.payload.outcome !== 'error', 'stop reply')).payload).match({ ok: true, outcome: 'accepted' });
    const s = await ended;
    const rec = await sub.wait((m) => m.topic === `ykc/${PILE}/1/record`, 'record');
    should(rec.payload.tradeNo).equal(s.tradeNo);
    should(rec.payload.totalEnergy).be.above(0);
    // Not acknowledged yet: the pile still holds it.
    should(pile.pendingRecords().map((b) => b.tradeNo)).containEql(s.tradeNo);

    const confirmed = pileEvent<RecordEvent>(pile, 'record', (e) => e.event === 'confirmed' && e.tradeNo === s.tradeNo);
    await sub.client.publishAsync(`ykc/${PILE}/records/ack`, JSON.stringify({ tradeNo: s.tradeNo, confirm: true }), { qos: 1 });
    await confirmed;
    const done = await sub.wait((m) => m.topic === `ykc/${PILE}/records/confirmed`, 'records/confirmed');
    should(done.payload).match({ tradeNo: s.tradeNo, result: 'confirmed', sentToPile: true });
    should(pile.pendingRecords()).have.length(0);
  });

  it('an ack for a trade number it never published (or already confirmed) is answered "unknown", a malformed one "invalid"; no 0x40 goes out', async () => {
    const acksBefore = ex.server.gateway!.counters.recordsConfirmed;
    const stranger = '9'.repeat(32);
    await sub.client.publishAsync(`ykc/${PILE}/records/ack`, JSON.stringify({ tradeNo: stranger, confirm: true }), { qos: 1 });
    const unknown = await sub.wait((m) => m.topic === `ykc/${PILE}/records/confirmed` && m.payload.tradeNo === stranger, 'answer to an unknown ack');
    should(unknown.payload).match({ result: 'unknown', sentToPile: false });
    // The record confirmed in the test before: a second ack is unknown too, nothing is sent again.
    const confirmedBefore = sub.got.filter((m) => m.topic === `ykc/${PILE}/records/confirmed`).length;
    const earlier = sub.got.find((m) => m.topic === `ykc/${PILE}/records/confirmed` && m.payload.result === 'confirmed')!.payload.tradeNo as string;
    await sub.client.publishAsync(`ykc/${PILE}/records/ack`, JSON.stringify({ tradeNo: earlier }), { qos: 1 });
    await sub.wait((m) => m.topic === `ykc/${PILE}/records/confirmed` && m.payload.tradeNo === earlier && m.payload.result === 'unknown', 'answer to a repeated ack');
    await sub.client.publishAsync(`ykc/${PILE}/records/ack`, 'hello', { qos: 1 });
    should((await sub.wait((m) => m.topic === `ykc/${PILE}/records/confirmed` && m.payload.result === 'invalid', 'answer to a malformed ack')).payload.sentToPile).be.false();
    should(sub.got.filter((m) => m.topic === `ykc/${PILE}/records/confirmed`).length).equal(confirmedBefore + 2);
    should(ex.server.gateway!.counters.recordsConfirmed).equal(acksBefore);
  });

  it('when Node-RED stops the gateway status goes "offline" (close message); the pile state it retained is cleared when the flow starts again', async () => {
    const retainedNow = async (): Promise<Received[]> => {
      const c = await connectSubscriber(brokerPort, ['ykc/#', 'test/sync']);
      // Retained messages come right after the subscription, before what is published after it.
      await c.client.publishAsync('test/sync', 'y', { qos: 1 });
      await c.wait((m) => m.topic === 'test/sync', 'sync');
      await c.client.endAsync();
      return c.got.filter((m) => m.retain && m.topic.startsWith('ykc/'));
    };
    should((await retainedNow()).map((m) => m.topic)).containEql(`ykc/${PILE}/1/state`);
    await ex.close();
    const offline = await sub.wait((m) => m.topic === 'ykc/gateway/status' && m.payload === 'offline', 'close message');
    should(offline.payload).equal('offline');
    // Stopped: the broker still holds the last run's pile state (no flow can publish while Node-RED stops) …
    const stale = (await retainedNow()).filter((m) => m.topic.startsWith(`ykc/${PILE}/`));
    should(stale.length).be.above(0);
    // … until the flow starts again: this pile is not connected to the new run, so its state goes.
    ex = await loadExample('mqtt-bridge.json', { brokerPort });
    await sub.wait((m) => m.topic === 'ykc/gateway/status' && m.payload === 'online' && sub.got.indexOf(m) > sub.got.indexOf(offline), 'birth message of the new run');
    const left = async () => (await retainedNow()).filter((m) => m.topic.startsWith(`ykc/${PILE}/`));
    const end = Date.now() + 10_000;
    let now = await left();
    while (now.length && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 200));
      now = await left();
    }
    should(now.map((m) => m.topic)).eql([]);
    // The gateway's own status is not pile state: the new run's birth message stays.
    should((await retainedNow()).find((m) => m.topic === 'ykc/gateway/status')?.payload).equal('online');
  });
});
