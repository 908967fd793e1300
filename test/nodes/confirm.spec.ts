/**
 * ykc-confirm through a real Node-RED runtime and a scripted pile over TCP that sends the real 0x3B
 * record (test/fixtures/vectors.json): the record is held until the flow confirms, refusals send
 * 0x40 result 1, an offline pile is acknowledged on its resend, and resends are never emitted twice.
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { Node } from 'node-red';
import type { SinonSpy } from 'sinon';
import type { RecordEvent, YkcServer } from '../../src/gateway';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import { loadVectors, REPO_ROOT } from '../support/repo';
import { checkEditorConventions } from '../support/editor';
import { Collector, loginFrame } from './commands-harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const serverNode = require('../../nodes/ykc-server');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const inNode = require('../../nodes/ykc-in');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const confirmNode = require('../../nodes/ykc-confirm');

helper.init(require.resolve('node-red'));

type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The captured record: pile 18220000000155, gun 2, sequence bytes 80 01 on the wire. */
const VECTOR = loadVectors().find((v) => v.type === '0x3B' && v.kind === 'captured (test input)')!;
const PILE = '18220000000155';
const TRADE = '18220000000155021673797553635328';
const RECORD_BODY = VECTOR.hex.slice(12, -4); // the real body bytes, between header and CRC

/** The real record with other sequence bytes (a resend), CRC computed independently of the codec. */
const record = (seqHex = '8001') => rawFrame(0x3b, RECORD_BODY, seqHex);
const heartbeat = (seqHex: string) => rawFrame(0x03, `${PILE}0200`, seqHex);
const wireSeq = (seqHex: string) => Buffer.from(seqHex, 'hex').readUInt16LE(0);

function recordFlow(server: Record<string, unknown> = {}, confirm: Record<string, unknown> = {}): Flow {
  return [
    { id: 't1', type: 'tab', label: 'records' },
    { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false, recordConfirm: 'after-store', ...server },
    { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', groups: ['records'], wires: [['rec']] },
    { id: 'rec', z: 't1', type: 'helper' },
    { id: 'cf', z: 't1', type: 'ykc-confirm', server: 's1', wires: [['out']], ...confirm },
    { id: 'out', z: 't1', type: 'helper' },
    { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
    { id: 'hc', z: 't1', type: 'helper' },
  ];
}

interface Rig {
  gw: YkcServer;
  port: number;
  records: Collector;
  out: Collector;
  caught: Collector;
  confirm: Node;
  /** A scripted pile logged in as the captured pile (or another). */
  pile(pileNo?: string): Promise<ScriptedPile>;
}

const piles: ScriptedPile[] = [];

async function rig(flow: Flow): Promise<Rig> {
  await helper.load([serverNode, inNode, confirmNode], flow);
  const s = helper.getNode('s1') as unknown as YkcServerNode;
  await s.ready;
  const port = s.port()!;
  return {
    gw: s.gateway!,
    port,
    records: new Collector(helper.getNode('rec')),
    out: new Collector(helper.getNode('out')),
    caught: new Collector(helper.getNode('hc')),
    confirm: helper.getNode('cf'),
    async pile(pileNo = PILE) {
      const p = await ScriptedPile.connect(port);
      piles.push(p);
      p.write(loginFrame(pileNo));
      should((await p.next(0x02)).body.result).equal(0);
      return p;
    },
  };
}

/**
 * Everything the gateway would have sent for frames before it has been read by the pile: a heartbeat
 * goes out after them and its reply comes back after any earlier answer (one connection, in order).
 */
async function settle(p: ScriptedPile, seqHex: string): Promise<void> {
  p.write(heartbeat(seqHex));
  await p.next(0x04, (f) => f.seq === wireSeq(seqHex));
}

const has40 = (p: ScriptedPile) => p.frames.some((f) => f.type === 0x40);
function nextEvent<T>(gw: YkcServer, name: 'recordDuplicate' | 'offline' | 'problem', pred: (e: T) => boolean = () => true, timeoutMs = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (e: T) => {
      if (!pred(e)) return;
      clearTimeout(t);
      gw.off(name, on as never);
      resolve(e);
    };
    const t = setTimeout(() => {
      gw.off(name, on as never);
      reject(new Error(`no gateway "${name}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    gw.on(name, on as never);
  });
}

describe('nodes: ykc-confirm', function () {
  this.timeout(10_000);
  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await helper.unload();
  });

  it('a held record is acknowledged only after ykc-confirm, with the sequence bytes of the copy it answers', async () => {
    const r = await rig(recordFlow());
    const p = await r.pile();
    p.write(record('8001'));
    const m = await r.records.next();
    should(m.topic).equal(`ykc/${PILE}/transactionRecord`);
    should(m.payload).containEql({ tradeNo: TRADE, pileNo: PILE, gunNo: 2, totalAmount: 2.6759 });
    should(m.ykc.record).containEql({ arrival: 'new', held: true });
    should(m.ykc.record.id).match(/^[0-9a-f]{16}$/);
    await settle(p, '0200');
    has40(p).should.be.false('no 0x40 before the flow confirms');
    should((r.gw.records.findHeld(TRADE).length > 0)).be.true();

    (r.confirm as unknown as { receive(m: Msg): void }).receive(m);
    const out = await r.out.next();
    should(out.ykc.confirmed).eql({ result: 0, sent: true });
    should(out.ykc.tradeNo).equal(TRADE);
    should(out.payload.tradeNo).equal(TRADE); // the msg passes on
    const ack = await p.next(0x40);
    should(ack.body).containEql({ tradeNo: TRADE, result: 0 });
    should(ack.seq).equal(wireSeq('8001'));
    should((r.gw.records.findHeld(TRADE).length > 0)).be.false();
    (r.confirm.status as unknown as SinonSpy).calledWithMatch({ fill: 'green', shape: 'dot', text: 'ykc-confirm.status.confirmed', tradeNo: TRADE, sent: true }).should.be.true();
  });

  it('refuses with 0x40 result 1: msg.confirm false, msg.payload.confirm false, or the node set to refuse (msg.confirm true overrides it)', async () => {
    const r = await rig(recordFlow({}, { action: 'refuse' }));
    const p = await r.pile();
    const cases: Array<[string, (m: Msg) => Msg, number]> = [
      ['0001', (m) => ({ ...m, confirm: true }), 0],
      ['0002', (m) => m, 1],
      ['0003', (m) => ({ ...m, payload: { ...m.payload, confirm: false } }), 1],
    ];
    let n = 0;
    for (const [seq, shape, result] of cases) {
      // A distinct trade number per case: the real body with its last digits changed (BCD, still 32 digits).
      const trade = TRADE.slice(0, -4) + String(++n).padStart(4, '0');
      p.write(rawFrame(0x3b, trade + RECORD_BODY.slice(32), seq));
      const m = await r.records.next();
      should(m.payload.tradeNo).equal(trade);
      (r.confirm as unknown as { receive(m: Msg): void }).receive(shape(m));
      should((await r.out.next()).ykc.confirmed).eql({ result, sent: true });
      const ack = await p.next(0x40, (f) => f.body.tradeNo === trade);
      should([ack.body.result, ack.seq]).eql([result, wireSeq(seq)]);
    }
    should(r.gw.counters.recordsRefused).equal(2);
    should(r.gw.counters.recordsConfirmed).equal(1);
  });

  it('pile offline at confirm time: sent:false, then the gateway acknowledges its resend without emitting the record again', async () => {
    const r = await rig(recordFlow());
    const p1 = await r.pile();
    p1.write(record('8001'));
    const m = await r.records.next();
    const gone = nextEvent(r.gw, 'offline');
    p1.close();
    await gone;
    (r.confirm as unknown as { receive(m: Msg): void }).receive(m);
    const out = await r.out.next();
    should(out.ykc.confirmed).eql({ result: 0, sent: false });
    (r.confirm.status as unknown as SinonSpy).calledWithMatch({ fill: 'yellow', shape: 'ring', text: 'ykc-confirm.status.later', sent: false }).should.be.true();

    const p2 = await r.pile();
    const dup = nextEvent<RecordEvent>(r.gw, 'recordDuplicate');
    p2.write(record('0500'));
    const ack = await p2.next(0x40);
    should([ack.body.tradeNo, ack.body.result, ack.seq]).eql([TRADE, 0, wireSeq('0500')]);
    should((await dup).arrival).equal('resend-confirmed');
    await settle(p2, '0600');
    should(r.records.count).equal(1);
    should(r.out.count).equal(1);
  });

  it('resends: absorbed while held (no 0x40, not emitted), acknowledged again once confirmed (not emitted)', async () => {
    const r = await rig(recordFlow());
    const p = await r.pile();
    p.write(record('8001'));
    const m = await r.records.next();
    const pending = nextEvent<RecordEvent>(r.gw, 'recordDuplicate');
    p.write(record('8101'));
    should((await pending).arrival).equal('resend-pending');
    await settle(p, '0200');
    has40(p).should.be.false();
    should(r.records.count).equal(1);

    (r.confirm as unknown as { receive(m: Msg): void }).receive(m);
    const ack = await p.next(0x40);
    should(ack.seq).equal(wireSeq('8101')); // it answers the latest copy
    for (const seq of ['8201', '8301']) {
      const again = nextEvent<RecordEvent>(r.gw, 'recordDuplicate');
      p.write(record(seq));
      const a = await p.next(0x40);
      should([a.body.tradeNo, a.body.result, a.seq]).eql([TRADE, 0, wireSeq(seq)]);
      should((await again).arrival).equal('resend-confirmed');
    }
    await settle(p, '0300');
    should(r.records.count).equal(1);
    should(r.out.count).equal(1);
    should(r.gw.counters.recordsDuplicate).equal(3);

    // The same msg through ykc-confirm again (a flow that stores twice): reported, nothing more sent.
    // (next() took every 0x40 so far out of p.frames, so any 0x40 left there would be a new one.)
    (r.confirm as unknown as { receive(m: Msg): void }).receive(m);
    should((await r.out.next()).ykc.confirmed).eql({ result: 0, sent: false, already: true });
    await settle(p, '0400');
    has40(p).should.be.false();
  });

  it('takes the trade number from msg.ykc.tradeNo when a database node replaced the payload, and the pile from msg.ykc', async () => {
    const r = await rig(recordFlow());
    const p = await r.pile();
    p.write(record('8001'));
    await r.records.next();
    (r.confirm as unknown as { receive(m: Msg): void }).receive({ payload: [], ykc: { tradeNo: TRADE.toLowerCase(), pileNo: PILE } });
    should((await r.out.next()).ykc.confirmed).eql({ result: 0, sent: true });
    should((await p.next(0x40)).body.tradeNo).equal(TRADE);
  });

  it('two piles, one trade number: both records reach the flow, each msg confirms its own pile (msg.ykc.pileNo); absorbed resends go to the duplicates group', async () => {
    const OTHER = '32010200000009';
    const flow = recordFlow();
    flow.push({ id: 'in2', z: 't1', type: 'ykc-in', server: 's1', groups: ['duplicates'], wires: [['dup']] }, { id: 'dup', z: 't1', type: 'helper' });
    const r = await rig(flow);
    const dup = new Collector(helper.getNode('dup'));
    const send = (m: Msg) => (r.confirm as unknown as { receive(m: Msg): void }).receive(m);
    const a = await r.pile();
    const b = await r.pile(OTHER);
    a.write(record('8001'));
    const mA = await r.records.next();
    b.write(rawFrame(0x3b, TRADE + OTHER + RECORD_BODY.slice(46), '0700'));
    const mB = await r.records.next();
    should([mA.ykc.pileNo, mA.ykc.tradeNo, mB.ykc.pileNo, mB.ykc.tradeNo]).eql([PILE, TRADE, OTHER, TRADE]);
    should(mB.ykc.record).containEql({ arrival: 'new', held: true });

    // The trade number alone names two held records: refused, nothing sent.
    send({ payload: { tradeNo: TRADE } });
    const c = await r.caught.next();
    should(c.error.code).equal('YKC_INPUT');
    c.error.message.should.match(/name the pile/);

    send(mB);
    should((await r.out.next()).ykc).containEql({ tradeNo: TRADE, confirmed: { result: 0, sent: true } });
    const ackB = await b.next(0x40);
    should([ackB.body.tradeNo, ackB.body.result, ackB.seq]).eql([TRADE, 0, wireSeq('0700')]);
    await settle(a, '0200');
    has40(a).should.be.false("pile A's record is still held");

    a.write(record('8101')); // A resends its record: absorbed, shown in the duplicates group
    const d = await dup.next();
    should(d.topic).equal(`ykc/${PILE}/recordDuplicate`);
    should(d.ykc.record).containEql({ arrival: 'resend-pending', held: true, id: mA.ykc.record.id });
    send(mA);
    should((await r.out.next()).ykc.confirmed).eql({ result: 0, sent: true });
    const ackA = await a.next(0x40);
    should([ackA.body.tradeNo, ackA.seq]).eql([TRADE, wireSeq('8101')]);
    should(r.records.count).equal(2);
  });

  it('a record naming another pile is refused and reported to Catch nodes even after field noise used up YKC_FIELD\'s allowance', async () => {
    const r = await rig(recordFlow());
    // Five piles each send heartbeats naming another pile: 15 YKC_FIELD reports, more than the code's allowance.
    for (let i = 1; i <= 5; i++) {
      const pileNo = `3201020000010${i}`;
      const p = await r.pile(pileNo);
      for (let k = 1; k <= 3; k++) p.write(rawFrame(0x03, `${PILE}0100`, `0${k}00`));
      await p.next(0x04, (f) => f.seq === wireSeq('0300'));
    }
    await new Promise((res) => setTimeout(res, 100));
    const noise = r.caught.msgs.filter((m) => m.error.code === 'YKC_FIELD').length;
    should(noise).be.below(15); // some were held back: the allowance is used up
    const b = await r.pile('32010200000109');
    b.write(rawFrame(0x3b, TRADE + PILE + RECORD_BODY.slice(46), '0900')); // pile 109 sends pile PILE's record
    const ack = await b.next(0x40);
    should([ack.body.tradeNo, ack.body.result]).eql([TRADE, 1]);
    for (;;) {
      const c = await r.caught.next(3000, 'the foreign-record report');
      if (/names pile 18220000000155 in its body/.test(c.error.message)) break;
    }
    should(r.records.count).equal(0);
  });

  it('server in "confirm at once" mode: the record arrives acknowledged, ykc-confirm reports it as already confirmed', async () => {
    const r = await rig(recordFlow({ recordConfirm: 'at-once' }));
    const p = await r.pile();
    p.write(record('8001'));
    const m = await r.records.next();
    should(m.ykc.record).containEql({ arrival: 'new', held: false });
    should(m.ykc.record.id).match(/^[0-9a-f]{16}$/);
    await p.next(0x40);
    (r.confirm as unknown as { receive(m: Msg): void }).receive(m);
    should((await r.out.next()).ykc.confirmed).eql({ result: 0, sent: false, already: true });
    await settle(p, '0200');
    has40(p).should.be.false();
  });

  describe('errors reach a Catch node with a code', () => {
    it('no trade number, a malformed one, a non-boolean msg.confirm → YKC_INPUT; nothing is sent', async () => {
      const r = await rig(recordFlow());
      const send = (m: Msg) => (r.confirm as unknown as { receive(m: Msg): void }).receive(m);
      send({ payload: { pileNo: PILE } });
      const a = await r.caught.next();
      should(a.error.code).equal('YKC_INPUT');
      a.error.message.should.match(/no trade number/);
      send({ payload: { tradeNo: '1234' } });
      should((await r.caught.next()).error.message).match(/msg\.payload\.tradeNo must be the record's 32-digit trade number/);
      send({ payload: { tradeNo: TRADE }, confirm: 'no' });
      const c = await r.caught.next();
      should([c.error.code, /msg\.confirm must be true/.test(c.error.message)]).eql(['YKC_INPUT', true]);
      should(r.out.count).equal(0);
      (r.confirm.status as unknown as SinonSpy).calledWithMatch({ fill: 'red', code: 'YKC_INPUT' }).should.be.true();
      should(r.gw.records.findConfirmed(TRADE)).be.empty();
    });

    it('no server configured → red status at deploy, YKC_OFFLINE per message', async () => {
      const flow = recordFlow().filter((n) => n.id !== 'in1' && n.id !== 'rec');
      const cf = flow.find((n) => n.id === 'cf')!;
      delete cf.server;
      await helper.load([serverNode, confirmNode], flow);
      const caught = new Collector(helper.getNode('hc'));
      const node = helper.getNode('cf');
      (node.status as unknown as SinonSpy).calledWithMatch({ fill: 'red', text: 'ykc-confirm.status.noServer' }).should.be.true();
      (node as unknown as { receive(m: Msg): void }).receive({ payload: { tradeNo: TRADE } });
      should((await caught.next()).error.code).equal('YKC_OFFLINE');
    });
  });

  describe('editor files', () => {
    const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
    const keys = (o: unknown, prefix = ''): string[] =>
      o !== null && typeof o === 'object'
        ? Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
        : [prefix];

    it('catalogues in en-US and zh-CN have the same keys; every key the code uses exists', () => {
      const en = JSON.parse(read('nodes/locales/en-US/ykc-confirm.json'));
      const zh = JSON.parse(read('nodes/locales/zh-CN/ykc-confirm.json'));
      keys(zh).filter((k) => !/\.errors\.YKC_/.test(k)).sort().should.eql(keys(en).sort());
      const used = new Set<string>();
      for (const file of ['nodes/ykc-confirm.ts', 'nodes/ykc-confirm.html']) {
        for (const m of read(file).matchAll(/['"](ykc-confirm\.(?:label|status|errors|paletteLabel)[A-Za-z.]*)['"]/g)) used.add(m[1]);
      }
      // Status keys built in code: ykc-confirm.status.${key}.
      for (const k of ['confirmed', 'refused', 'later', 'already']) used.add(`ykc-confirm.status.${k}`);
      used.size.should.be.above(6);
      for (const k of used) keys(en).should.containEql(k);
      for (const m of read('nodes/ykc-confirm.html').matchAll(/data-i18n="(?:\[[a-z]+\])?((?:ykc-[a-z]+)\.[A-Za-z.]+)"/g)) keys(en).should.containEql(m[1]);
    });

    it('help exists in both languages with data-help-name and the sections in order', () => {
      for (const lang of ['en-US', 'zh-CN']) {
        const help = read(`nodes/locales/${lang}/ykc-confirm.html`);
        help.should.containEql('data-help-name="ykc-confirm"');
        const heads = [...help.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
        heads.should.eql(lang === 'en-US' ? ['Properties', 'Inputs', 'Outputs', 'Details', 'References'] : ['属性', '输入', '输出', '详细', '参考']);
        help.trimStart().split('\n')[1].should.match(/^\s*<p>/);
        if (lang === 'zh-CN') help.should.match(/[\u4e00-\u9fff]{20}/);
      }
    });

    it('the editor registers the type literally, in the ykc category with the pack colour and its icon', () => {
      checkEditorConventions('ykc-confirm');
    });
  });
});
