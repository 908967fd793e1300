/**
 * The cluster with real processes: a Mosquitto broker (MQTT v5: response topic + correlation data)
 * and HAProxy from Debian packages, three Node-RED runtimes as child processes, virtual piles that
 * connect through HAProxy. Commands from each instance reach piles held by the others (through
 * ykc-tariff, a real command node); one instance is killed with SIGKILL; every pile comes back
 * online through HAProxy on the two others and is commandable again; ykc-in "whole cluster" saw
 * the other instances' piles. Bounded (< 60 s) and every child is stopped in after().
 */
import { strict as assert } from 'assert';
import { VirtualPile } from '../../src/simulator';
import mqtt from 'mqtt';
import { Tariff } from '../../src/billing';
import { Instance, startInstance, waitFor } from './helpers';
import { ask, RedChild, Rig, which } from './rig';

const PILES = 24;
const pileNo = (i: number) => `3201020001${String(i).padStart(4, '0')}`;

interface Directory {
  piles: Array<{ pileNo: string; instance: string; local: boolean }>;
  instances: string[];
}
interface Reply {
  output: number;
  payload: { result?: number };
  ykc: { outcome?: string; error?: { code: string } };
}

describe('cluster: 3 Node-RED processes, Mosquitto, HAProxy, kill -9', function () {
  this.timeout(90_000);
  const rig = new Rig();
  const piles: VirtualPile[] = [];
  let reds: RedChild[] = [];

  before(function () {
    const missing = ['mosquitto', 'haproxy'].filter((c) => !which(c));
    if (missing.length) {
      // .ci/run installs them; a developer machine without them skips with the reason.
      console.warn(`      skipped: ${missing.join(' and ')} not installed (apt-get install -y mosquitto haproxy)`);
      this.skip();
    }
  });

  after(async () => {
    await Promise.all(piles.map((p) => p.close()));
    await rig.close();
  });

  const directory = (r: RedChild) => ask<Directory>(r, 'piles');
  const holderMap = async (r: RedChild) => new Map((await directory(r)).piles.map((p) => [p.pileNo, p.instance]));

  async function commandEachOther(from: RedChild[], code: string): Promise<number> {
    let n = 0;
    for (const r of from) {
      const dir = await holderMap(r);
      const others = [...dir.entries()].filter(([, inst]) => inst !== r.instance);
      assert.ok(others.length > 0, `${r.instance} sees piles on other instances`);
      for (const target of new Set(from.filter((x) => x !== r).map((x) => x.instance))) {
        const p = others.find(([, inst]) => inst === target);
        assert.ok(p, `${r.instance} sees a pile on ${target}`);
        const reply = await ask<Reply>(r, 'command', { pileNo: p[0], modelCode: code });
        assert.equal(reply.output, 0, `${r.instance} → ${p[0]} on ${target}: ${JSON.stringify(reply.ykc)}`);
        assert.equal(reply.payload.result, 1);
        assert.equal(piles.find((v) => v.pileNo === p[0])!.model?.modelCode, code, 'the pile took the model');
        n++;
      }
    }
    return n;
  }

  it('acts as one gateway, and survives one instance killed with SIGKILL', async () => {
    const started = Date.now();
    await rig.mosquitto();
    reds = await Promise.all(['A', 'B', 'C'].map((id) => rig.red(id)));
    await rig.haproxy(reds.map((r) => r.ykcPort));
    for (let i = 0; i < PILES; i++) {
      const p = new VirtualPile({ port: rig.lbPort, pileNo: pileNo(i), seed: i, timing: { reconnectMs: 200, reconnectMaxMs: 2000 } });
      piles.push(p);
      p.connect();
    }
    await Promise.all(piles.map((p) => p.waitOnline(20_000)));
    for (const r of reds) {
      let dir = await holderMap(r);
      for (let t = 0; dir.size < PILES && t < 100; t++) {
        await new Promise((res) => setTimeout(res, 100));
        dir = await holderMap(r);
      }
      assert.equal(dir.size, PILES, `${r.instance} sees every pile in the directory`);
      assert.deepEqual(new Set(dir.values()), new Set(['A', 'B', 'C']), 'HAProxy spread the piles over the three');
    }
    assert.equal(await commandEachOther(reds, '0200'), 6, 'each instance commanded a pile on each other instance');

    // ykc-in "whole cluster" on C saw online events of piles held by A and B.
    const ev = (await ask<{ events: Record<string, number> }>(reds[2], 'events')).events;
    assert.ok((ev['online@A'] ?? 0) > 0 && (ev['online@B'] ?? 0) > 0 && (ev['online@C'] ?? 0) > 0, JSON.stringify(ev));

    const [a, b, c] = reds;
    const onA = [...(await holderMap(b)).entries()].filter(([, i]) => i === 'A').map(([p]) => p);
    assert.ok(onA.length > 0);
    const killedAt = Date.now();
    await rig.kill9(a);
    const survivors = [b, c];
    let back = 0;
    for (let t = 0; t < 300; t++) {
      const maps = await Promise.all(survivors.map(holderMap));
      const ok = maps.every((m) => m.size === PILES && [...m.values()].every((i) => i === 'B' || i === 'C'));
      if (ok && piles.every((p) => p.snapshot().link === 'online')) {
        back = Date.now() - killedAt;
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(back > 0, 'every pile back online on B or C, and both directories agree');
    const dirB = await directory(b);
    assert.deepEqual(dirB.instances.sort(), ['B', 'C'], 'A’s will removed it');
    assert.equal(await commandEachOther(survivors, '0300'), 2);
    // The piles that were on A are commandable from both survivors.
    for (const r of survivors) {
      const m = await holderMap(r);
      const moved = onA.find((p) => m.get(p) !== r.instance)!;
      const reply = await ask<Reply>(r, 'command', { pileNo: moved, modelCode: '0400' });
      assert.equal(reply.output, 0, JSON.stringify(reply.ykc));
    }
    const wall = Date.now() - started;
    console.log(`      ${PILES} piles, 3 instances: failover after kill -9 in ${back} ms; whole test ${wall} ms`);
    assert.ok(wall < 60_000, `bounded: ${wall} ms`);
  });
});

describe('cluster: MQTT 5 properties on Mosquitto, and v5 / v3.1.1 instances together', function () {
  this.timeout(60_000);
  const rig = new Rig();
  const instances: Instance[] = [];
  let pile: VirtualPile | null = null;
  let raw: mqtt.MqttClient | null = null;
  const P = '32010200000501';
  const model = (code: string) => new Tariff({ modelCode: code, elec: [100000, 90000, 80000, 70000], service: [1000, 2000, 3000, 4000], slots: new Array(48).fill(1) }).toBody(P) as never;

  before(function () {
    if (!which('mosquitto')) {
      console.warn('      skipped: mosquitto not installed (apt-get install -y mosquitto)');
      this.skip();
    }
  });
  after(async () => {
    await pile?.close();
    await Promise.all(instances.map((i) => i.stop()));
    await raw?.endAsync();
    await rig.close();
  });

  it('commands carry response topic + correlation data (v5); a v3.1.1 instance uses the payload fallback, both ways', async () => {
    const url = `mqtt://127.0.0.1:${await rig.mosquitto()}`;
    const a = await startInstance({ url }, 'A', {}, {}, { protocolVersion: 5 });
    const b = await startInstance({ url }, 'B', {}, {}, { protocolVersion: 5 });
    const c = await startInstance({ url }, 'C', {}, {}, { protocolVersion: 4 });
    instances.push(a, b, c);
    assert.deepEqual([a.cluster.transport.v5, c.cluster.transport.v5], [true, false]);
    const seen: Array<{ topic: string; id: string; responseTopic?: string; correlation?: string }> = [];
    raw = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'watch-v5' });
    raw.on('message', (topic, buf, packet) => {
      const props = (packet as { properties?: { responseTopic?: string; correlationData?: Buffer } }).properties ?? {};
      seen.push({ topic, id: JSON.parse(buf.toString()).id, responseTopic: props.responseTopic, correlation: props.correlationData?.toString() });
    });
    await raw.subscribeAsync(['ykc/cmd/+', 'ykc/reply/+'], { qos: 1 });
    pile = new VirtualPile({ port: a.port, pileNo: P, seed: 5 });
    pile.connect();
    await pile.waitOnline();
    await waitFor(() => b.cluster.holder(P) === 'A' && c.cluster.holder(P) === 'A', 'B and C see P on A');

    const r1 = await b.server.request(P, { type: 0x58, body: model('0201') });
    assert.equal(r1?.body.result, 1);
    await waitFor(() => seen.some((m) => m.topic === 'ykc/reply/B'), 'the reply to B');
    const cmd = seen.find((m) => m.topic === 'ykc/cmd/A')!;
    assert.equal(cmd.responseTopic, 'ykc/reply/B', 'v5 response topic');
    assert.equal(cmd.correlation, cmd.id, 'v5 correlation data');
    const reply = seen.find((m) => m.topic === 'ykc/reply/B')!;
    assert.equal(reply.correlation, cmd.id, 'the reply echoes the correlation data');

    const r2 = await c.server.request(P, { type: 0x58, body: model('0202') });
    assert.equal(r2?.body.result, 1, 'a v3.1.1 caller gets its answer from a v5 holder');
    const fromC = seen.find((m) => m.topic === 'ykc/cmd/A' && m.id.startsWith('C:'))!;
    assert.equal(fromC.responseTopic, undefined, 'v3.1.1 publishes no properties: reply topic and id travel in the payload');
    assert.equal(pile.model?.modelCode, '0202');
  });
});
