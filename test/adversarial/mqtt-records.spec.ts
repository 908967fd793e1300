/**
 * Hostile review (issue 11): examples/mqtt-bridge.json with records from independent raw piles
 * (hand-built bytes, own CRC). After a site-wide outage every pile uploads its offline sessions at
 * once, with the all-zero trade number: each record the backend acknowledges on
 * ykc/<pile>/records/ack must reach its own pile as a 0x40, whichever pile published last, and two
 * records of one pile under one number are acknowledged each by its recordId.
 */
import * as net from 'net';
import { pathToFileURL } from 'url';
import should from 'should';
import mqtt from 'mqtt';
import { loadExample, Loaded } from '../examples/harness';
import { ack, recordBody, recordFrame, ZERO_TRADE } from '../support/record-piles';
import { rawFrame } from '../support/raw';
import { RawPile } from '../support/raw-pile';

const A = '32010200000071';
const B = '32010200000072';
type Got = { topic: string; payload: Record<string, unknown> };

async function nextAck(p: RawPile, timeoutMs = 8000): Promise<ReturnType<typeof ack>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const f = await p.next(Math.max(1, until - Date.now()));
    if (f.type === 0x40) return ack(f);
  }
}

describe('adversarial: examples/mqtt-bridge.json acknowledges each record to its own pile', function () {
  this.timeout(30_000);
  let broker: { handle: (s: net.Socket) => void; close(cb?: () => void): void };
  let brokerServer: net.Server;
  let ex: Loaded;
  let client: mqtt.MqttClient;
  const got: Got[] = [];
  const piles: RawPile[] = [];

  const wait = async (pred: (m: Got) => boolean, what: string): Promise<Got> => {
    for (let i = 0; i < 200; i++) {
      const m = got.find(pred);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no MQTT message: ${what}`);
  };

  async function pileOn(pileNo: string): Promise<RawPile> {
    const p = await RawPile.connect(ex.ykcPort);
    piles.push(p);
    p.write(rawFrame(0x01, `${pileNo}00010F${Buffer.from('MQTTPILE').toString('hex')}01${'00'.repeat(10)}04`, '0000'));
    for (;;) if ((await p.next(5000)).type === 0x02) return p;
  }

  before(async () => {
    const { Aedes } = (await import(pathToFileURL(require.resolve('aedes')).href)) as typeof import('aedes', { with: { 'resolution-mode': 'import' } });
    broker = (await Aedes.createBroker()) as unknown as typeof broker;
    brokerServer = net.createServer((s) => broker.handle(s));
    await new Promise<void>((r) => brokerServer.listen(0, '127.0.0.1', r));
    const brokerPort = (brokerServer.address() as net.AddressInfo).port;
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { protocolVersion: 4, reconnectPeriod: 0, clean: true });
    client.on('message', (topic, buf) => {
      try {
        got.push({ topic, payload: JSON.parse(buf.toString()) });
      } catch {
        /* not JSON */
      }
    });
    await client.subscribeAsync(['ykc/+/+/record', 'ykc/+/records/confirmed'], { qos: 1 });
    ex = await loadExample('mqtt-bridge.json', { brokerPort });
  });
  after(async () => {
    for (const p of piles) p.close();
    await ex?.close();
    await client?.endAsync();
    brokerServer?.close();
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
  });

  it('piles A and B publish all-zero-trade records; the backend acks A then B: each pile gets its 0x40', async () => {
    const a = await pileOn(A);
    const b = await pileOn(B);
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 1 }), '0100'));
    await wait((m) => m.topic === `ykc/${A}/2/record`, "A's record published");
    b.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: B, variant: 1 }), '0200'));
    await wait((m) => m.topic === `ykc/${B}/2/record`, "B's record published");
    await client.publishAsync(`ykc/${A}/records/ack`, JSON.stringify({ tradeNo: ZERO_TRADE, confirm: true }), { qos: 1 });
    const da = await wait((m) => m.topic === `ykc/${A}/records/confirmed`, 'records/confirmed for A');
    should(da.payload).containEql({ tradeNo: ZERO_TRADE, result: 'confirmed' });
    should(await nextAck(a)).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0100' });
    await client.publishAsync(`ykc/${B}/records/ack`, JSON.stringify({ tradeNo: ZERO_TRADE, confirm: true }), { qos: 1 });
    should(await nextAck(b)).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0200' });
  });

  it('two offline sessions of one pile under the all-zero number: each published with its recordId, each acked by it', async () => {
    const a = piles[0];
    got.length = 0;
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 2 }), '0300'));
    a.write(recordFrame(recordBody({ trade: ZERO_TRADE, pile: A, variant: 3 }), '0400'));
    await wait((m) => m.topic === `ykc/${A}/2/record` && got.filter((x) => x.topic === m.topic).length >= 2, 'both records published');
    const recs = got.filter((m) => m.topic === `ykc/${A}/2/record`);
    const ids = recs.map((m) => m.payload.recordId as string);
    should(ids.every((i) => /^[0-9a-f]{16}$/.test(i))).equal(true, `recordId in ${JSON.stringify(recs.map((m) => Object.keys(m.payload)))}`);
    should(new Set(ids).size).equal(2);
    // The backend stored the second first: its ack names it, and the 0x40 answers that copy.
    await client.publishAsync(`ykc/${A}/records/ack`, JSON.stringify({ tradeNo: ZERO_TRADE, recordId: ids[1], confirm: true }), { qos: 1 });
    should(await nextAck(a)).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0400' });
    await client.publishAsync(`ykc/${A}/records/ack`, JSON.stringify({ tradeNo: ZERO_TRADE, recordId: ids[0], confirm: true }), { qos: 1 });
    should(await nextAck(a)).eql({ tradeNo: ZERO_TRADE, result: 0, seq: '0300' });
  });
});
