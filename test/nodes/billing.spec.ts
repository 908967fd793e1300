/**
 * ykc-billing through a real Node-RED runtime (node-red-node-test-helper): the real 0x3B record billed
 * and audited, an injected mismatch routed to the second output, tariff precedence (msg.tariff, the
 * node's own, the gateway's for the pile), the 5-tier and 1.7 records, and errors with codes.
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { SinonSpy } from 'sinon';
import { decodeFrame } from '../../src/protocol';
import { Tariff } from '../../src/billing';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { loadVectors, REPO_ROOT } from '../support/repo';
import { checkEditorConventions } from '../support/editor';
import { operationFixtures } from '../protocol/hand/operations';
import { handFrame } from '../protocol/hand/support';
import { capturedLevels } from '../billing/helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const billingNode = require('../../nodes/ykc-billing');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const serverNode = require('../../nodes/ykc-server');

helper.init(require.resolve('node-red'));

type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const REAL_PILE = '18220000000155';

function vectorBody(type: string, kind: string): Record<string, unknown> {
  const v = loadVectors().find((x) => x.type === type && x.kind === kind);
  if (!v) throw new Error(`no ${type} ${kind} vector`);
  return decodeFrame(v.hex).body;
}

/** The real captured record: 3.0067 kWh in the valley at 0.89000 yuan/kWh, 2.6759 yuan. */
const realRecord = () => vectorBody('0x3B', 'captured (test input)');

/** 48 slots: valley 00:00–08:00, flat 08:00–22:00, valley 22:00–24:00 (the captured pile's model). */
const SLOTS = '3'.repeat(16) + '2'.repeat(28) + '3'.repeat(4);

/** The captured pile's model with a chosen valley electricity price (service 0.39 everywhere in the valley). */
function tariff(valleyElec: number, code = '0062'): Tariff {
  return Tariff.fromInput({
    modelCode: code,
    levels: capturedLevels(valleyElec),
    slots: SLOTS.split('').map(Number),
  });
}

/** The node's own tariff in the editor's form fields: valley 0.60 + 0.39 = 0.99 yuan/kWh. */
const FORM = {
  tariffMode: 'form',
  modelCode: '0070',
  sharpElecPrice: '1.2',
  sharpServicePrice: '0.8',
  peakElecPrice: '1.20000',
  peakServicePrice: '0.80000',
  flatElecPrice: '1.2',
  flatServicePrice: '0.8',
  valleyElecPrice: '0.60000',
  valleyServicePrice: '0.39',
  lossRatio: '0',
  slots: SLOTS,
};

function flow(billing: Record<string, unknown> = {}, server: Record<string, unknown> | null = null): Flow {
  return [
    { id: 't1', type: 'tab', label: 'billing' },
    ...(server ? [{ id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false, ...server }] : []),
    { id: 'b1', z: 't1', type: 'ykc-billing', wires: [['ok'], ['bad']], ...(server ? { server: 's1' } : {}), ...billing },
    { id: 'ok', z: 't1', type: 'helper' },
    { id: 'bad', z: 't1', type: 'helper' },
    { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
    { id: 'hc', z: 't1', type: 'helper' },
  ];
}

/** Sends msg into the billing node; resolves with the output it left by (0 ok, 1 failed, 'error') and the msg. */
function run(msg: Msg, timeoutMs = 2000): Promise<{ port: 0 | 1 | 'error'; msg: Msg }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no output within timeout')), timeoutMs);
    const once = (port: 0 | 1 | 'error') => (m: Msg) => {
      clearTimeout(t);
      for (const id of ['ok', 'bad', 'hc']) helper.getNode(id).removeAllListeners('input');
      resolve({ port, msg: m });
    };
    helper.getNode('ok').on('input', once(0));
    helper.getNode('bad').on('input', once(1));
    helper.getNode('hc').on('input', once('error'));
    helper.getNode('b1').receive(msg as never);
  });
}

const statusSpy = (id: string) => helper.getNode(id).status as unknown as SinonSpy;

describe('nodes: ykc-billing', function () {
  this.timeout(10_000);
  afterEach(() => helper.unload());

  it('bills the real 0x3B record to the 0.0001 yuan, with the electricity/service split, and passes its audit (output 1)', async () => {
    await helper.load(billingNode, flow());
    const rec = realRecord();
    const { port, msg } = await run({ topic: `ykc/${REAL_PILE}/transactionRecord`, payload: rec, tariff: tariff(0.5).toBody(), ykc: { pileNo: REAL_PILE, type: 0x3b } });
    port.should.equal(0);
    const bill = msg.payload.bill;
    // 0.89000 × 3.0067 = 2.675963 → 2.6759; electricity 0.50000 × 3.0067 = 1.50335 → 1.5033; service 2.6759 − 1.5033.
    should(bill).containEql({ modelCode: '0062', tariffSource: 'msg', totalEnergy: 3.0067, totalAmount: 2.6759, totalElecFee: 1.5033, totalServiceFee: 1.1726 });
    should(bill.levels[3]).containEql({ name: 'valley', zh: '谷', elecPrice: 0.5, servicePrice: 0.39, unitPrice: 0.89, energy: 3.0067, amount: 2.6759, elecFee: 1.5033, serviceFee: 1.1726 });
    for (const l of bill.levels.slice(0, 3)) should(l).containEql({ energy: 0, amount: 0, elecFee: 0, serviceFee: 0 });
    should(bill.units).containEql({ totalAmount: 26759, totalElecFee: 15033, totalServiceFee: 11726, totalEnergy: 30067 });
    should(msg.payload.audit).eql({ ok: true, mismatches: [], inconsistencies: [], tariff: { modelCode: '0062', since: null, source: 'msg' } });
    // The record's own fields are kept; the trade number is copied to msg.ykc for nodes after a database write.
    should(msg.payload).containEql({ tradeNo: rec.tradeNo, totalAmount: 2.6759, valleyEnergy: 3.0067 });
    should(msg.ykc).containEql({ pileNo: REAL_PILE, tradeNo: '18220000000155021673797553635328', type: 0x3b });
    should(rec).not.have.property('bill'); // the input body was not changed
    statusSpy('b1').calledWithMatch({ fill: 'green', shape: 'dot', text: 'ykc-billing.status.ok', ok: true, tradeNo: rec.tradeNo }).should.be.true();
  });

  it('routes a record with an injected mismatch to output 2 and names the field, the pile value and the computed value', async () => {
    await helper.load(billingNode, flow());
    const { port, msg } = await run({ payload: { ...realRecord(), valleyAmount: 2.676 }, tariff: tariff(0.5).toBody() });
    port.should.equal(1);
    should(msg.payload.audit.ok).be.false();
    should(msg.payload.audit.mismatches).eql([{ field: 'valleyAmount', pile: 2.676, computed: 2.6759 }]);
    should(msg.payload.bill.totalAmount).equal(2.6759);
    statusSpy('b1').calledWithMatch({ fill: 'yellow', ok: false, text: 'ykc-billing.status.failed' }).should.be.true();

    const priced = await run({ payload: realRecord(), tariff: tariff(0.51).toBody() });
    priced.port.should.equal(1);
    should(priced.msg.payload.audit.mismatches).eql([
      { field: 'valleyPrice', pile: 0.89, computed: 0.9 },
      { field: 'valleyAmount', pile: 2.6759, computed: 2.706 }, // 0.90000 × 3.0067 = 2.70603
      { field: 'totalAmount', pile: 2.6759, computed: 2.706 },
    ]);
    // Half a kWh more on the meter than in the bill: the figures cannot all be right.
    const meter = await run({ payload: { ...realRecord(), meterEnd: 3.5077 }, tariff: tariff(0.5).toBody() });
    meter.port.should.equal(1);
    should(meter.msg.payload.audit.inconsistencies.map((i: Msg) => [i.check, i.severity])).eql([['meter', 'error']]);
  });

  it('tariff precedence: msg.tariff, then the node’s own, then the gateway’s for the pile', async () => {
    await helper.load([serverNode, billingNode], flow(FORM, {}));
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    s.gateway!.setTariff(REAL_PILE, tariff(0.4).toBody());

    const byMsg = await run({ payload: realRecord(), tariff: tariff(0.5).toBody() });
    should([byMsg.port, byMsg.msg.payload.bill.tariffSource, byMsg.msg.payload.bill.totalAmount]).eql([0, 'msg', 2.6759]);

    const byNode = await run({ payload: realRecord() });
    // 0.99 × 3.0067 = 2.976633 → 2.9766; the pile charged 0.89 so the audit fails.
    should([byNode.port, byNode.msg.payload.bill.tariffSource, byNode.msg.payload.bill.modelCode, byNode.msg.payload.bill.totalAmount]).eql([1, 'node', '0070', 2.9766]);
  });

  it('without a tariff of its own the node uses the gateway’s tariff for the pile, then the gateway default', async () => {
    const dflt = tariff(0.3, '0001').toBody();
    await helper.load([serverNode, billingNode], flow({}, { tariff: JSON.stringify(dflt) }));
    const s = helper.getNode('s1') as unknown as YkcServerNode;
    await s.ready;
    // Default: 0.69 × 3.0067 = 2.074623 → 2.0746.
    const byDefault = await run({ payload: realRecord() });
    should([byDefault.msg.payload.bill.tariffSource, byDefault.msg.payload.bill.modelCode, byDefault.msg.payload.bill.totalAmount]).eql(['server', '0001', 2.0746]);
    s.gateway!.setTariff(REAL_PILE, tariff(0.4).toBody());
    // The pile's own: 0.79 × 3.0067 = 2.375293 → 2.3752.
    const byPile = await run({ payload: realRecord() });
    should([byPile.msg.payload.bill.tariffSource, byPile.msg.payload.bill.modelCode, byPile.msg.payload.bill.totalAmount]).eql(['server', '0062', 2.3752]);
    // The pile number comes from the record; msg.ykc.pileNo is used when the body has none.
    const { pileNo: _drop, ...noPile } = realRecord();
    const byYkc = await run({ payload: noPile, ykc: { pileNo: REAL_PILE } });
    should(byYkc.msg.payload.bill.totalAmount).equal(2.3752);
  });

  it('accepts its own tariff as JSON (a decoded 0x58 body or the friendlier shape)', async () => {
    await helper.load(billingNode, flow({ tariffMode: 'json', tariffJson: JSON.stringify(tariff(0.5).toBody()) }));
    const a = await run({ payload: realRecord() });
    should([a.port, a.msg.payload.bill.tariffSource, a.msg.payload.bill.totalAmount]).eql([0, 'node', 2.6759]);
    await helper.unload();
    const friendly = { modelCode: 62, levels: [0, 1, 2].map(() => ({ elec: '1.2', service: '0.8' })).concat([{ elec: '0.5', service: '0.39' }]), periods: [{ from: '08:00', to: '22:00', level: 'flat' }, { from: '22:00', to: '08:00', level: '谷' }] };
    await helper.load(billingNode, flow({ tariffMode: 'json', tariffJson: JSON.stringify(friendly) }));
    const b = await run({ payload: realRecord() });
    should([b.port, b.msg.payload.bill.totalAmount, b.msg.payload.audit.ok]).eql([0, 2.6759, true]);
  });

  it('bills a whole decoded frame (ykc decode output), the 1.7 record 0x3D and the 5-tier variant', async () => {
    await helper.load(billingNode, flow());
    const v = loadVectors().find((x) => x.type === '0x3B' && x.kind === 'captured (test input)')!;
    const frame = decodeFrame(v.hex);
    const f = await run({ payload: frame, tariff: tariff(0.5).toBody() });
    should([f.port, f.msg.payload.type, f.msg.payload.body.tradeNo, f.msg.payload.bill.totalAmount, f.msg.ykc.tradeNo]).eql([0, 0x3b, frame.body.tradeNo, 2.6759, frame.body.tradeNo]);

    const flat13 = Tariff.fromInput({ modelCode: 1, levels: [0, 1, 2, 3].map(() => ({ elec: 1, service: 0.3 })), slots: new Array(48).fill(2) });
    const v17 = await run({ payload: vectorBody('0x3D', 'simulated'), tariff: flat13.toBody(), ykc: { type: 0x3d } });
    should([v17.port, v17.msg.payload.audit.ok]).eql([0, true]);

    // The 5-tier record of the hand fixtures (bytes from docs/protocol.md §9): sharp 1.0000 kWh at 1.20, peak 2.5000 at
    // 0.95, valley 3.0067 at 0.89, deep valley 1.5000 at 0.30 (0.4500 yuan), total 6.7009, between 11:06 and 12:36.
    const fx = operationFixtures.find((x) => x.title.startsWith('0x3B 5-tier'))!;
    const five = decodeFrame(handFrame(0x3b, fx.body)).body;
    should(five.variant).equal('5-tier');
    const slots = new Array(48).fill(2);
    slots[22] = 0; // 11:00–11:30 sharp
    slots[23] = 1; // 11:30–12:00 peak
    slots[24] = 3; // 12:00–12:30 valley
    const t5 = new Tariff({ modelCode: '0005', elec: [100000, 75000, 50000, 69000], service: [20000, 20000, 20000, 20000], slots });
    const r5 = await run({ payload: five, tariff: t5.toBody() });
    r5.port.should.equal(0);
    should(r5.msg.payload.audit).containEql({ ok: true, mismatches: [] });
    should(r5.msg.payload.audit.inconsistencies.map((i: Msg) => i.check)).eql(['extraLevel']);
    // The bill covers the tariff's four levels: 1.2000 + 2.3750 + 2.6759; electricity 1.0000 + 1.8750 + 2.0746.
    should(r5.msg.payload.bill).containEql({ totalAmount: 6.2509, totalElecFee: 4.9496, totalServiceFee: 1.3013, totalEnergy: 6.5067 });
  });

  describe('errors reach a Catch node with a code, and nothing is sent', () => {
    it('no tariff anywhere → YKC_TARIFF', async () => {
      await helper.load(billingNode, flow());
      const r = await run({ payload: realRecord() });
      r.port.should.equal('error');
      should(r.msg.error.code).equal('YKC_TARIFF');
      r.msg.error.message.should.match(/no tariff for pile 18220000000155/);
      // The trade number is on msg.ykc already, so a flow can store the record from the Catch node and confirm it.
      should(r.msg.ykc).containEql({ tradeNo: '18220000000155021673797553635328', pileNo: REAL_PILE });
      should(r.msg.payload).not.have.property('bill');
      statusSpy('b1').calledWithMatch({ fill: 'red', code: 'YKC_TARIFF' }).should.be.true();
    });

    it('a server without a tariff for the pile → YKC_TARIFF', async () => {
      await helper.load([serverNode, billingNode], flow({}, {}));
      await (helper.getNode('s1') as unknown as YkcServerNode).ready;
      const r = await run({ payload: realRecord() });
      should([r.port, r.msg.error.code]).eql(['error', 'YKC_TARIFF']);
      r.msg.error.message.should.match(/holds none/);
    });

    it('a malformed msg.tariff → YKC_TARIFF naming the field', async () => {
      await helper.load(billingNode, flow(FORM));
      const body = tariff(0.5).toBody();
      const r = await run({ payload: realRecord(), tariff: { ...body, slots: body.slots.slice(1) } });
      should([r.port, r.msg.error.code]).eql(['error', 'YKC_TARIFF']);
      r.msg.error.message.should.match(/slots must have exactly 48 entries/);
    });

    it('malformed records → YKC_INPUT: a missing fee field, a payload that is no object, another frame type', async () => {
      await helper.load(billingNode, flow(FORM));
      const { valleyAmount: _v, ...missing } = realRecord();
      const a = await run({ payload: missing });
      should([a.port, a.msg.error.code]).eql(['error', 'YKC_INPUT']);
      a.msg.error.message.should.match(/valleyAmount/);
      const b = await run({ payload: 'hello' });
      should([b.port, b.msg.error.code]).eql(['error', 'YKC_INPUT']);
      const c = await run({ payload: { pileNo: REAL_PILE, gunNo: 1 }, ykc: { type: 0x13, name: 'realtime' } });
      should([c.port, c.msg.error.code]).eql(['error', 'YKC_INPUT']);
      c.msg.error.message.should.match(/realtime frame, not a transaction record/);
      const d = await run({ payload: { ...realRecord(), valleyEnergy: 3.00671 } });
      should([d.port, d.msg.error.code]).eql(['error', 'YKC_INPUT']);
      statusSpy('b1').calledWithMatch({ fill: 'red', code: 'YKC_INPUT' }).should.be.true();
    });

    it('an invalid own tariff: red status at deploy, each record refused with YKC_TARIFF, msg.tariff still works', async () => {
      await helper.load(billingNode, flow({ ...FORM, valleyElecPrice: '0.123456' }));
      statusSpy('b1').calledWithMatch({ fill: 'red', code: 'YKC_TARIFF' }).should.be.true();
      const r = await run({ payload: realRecord() });
      should([r.port, r.msg.error.code]).eql(['error', 'YKC_TARIFF']);
      r.msg.error.message.should.match(/valleyElecPrice has more than 5 decimals/);
      const m = await run({ payload: realRecord(), tariff: tariff(0.5).toBody() });
      should(m.port).equal(0);
      await helper.unload();
      await helper.load(billingNode, flow({ tariffMode: 'json', tariffJson: '{"modelCode": "01",' }));
      const j = await run({ payload: realRecord() });
      should([j.port, j.msg.error.code]).eql(['error', 'YKC_TARIFF']);
      j.msg.error.message.should.match(/does not parse/);
    });
  });

  describe('editor files', () => {
    const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
    editorChecks('ykc-billing', read);
  });
});

/** The style guide's checks for one node type (docs/style.md), as test/nodes/ykc-encode.spec.ts has them for decode/encode. */
function editorChecks(type: string, read: (rel: string) => string): void {
  const keys = (o: unknown, prefix = ''): string[] =>
    o !== null && typeof o === 'object'
      ? Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
      : [prefix];

  it(`${type}: catalogues in en-US and zh-CN have the same keys; every key the code uses exists`, () => {
    const en = JSON.parse(read(`nodes/locales/en-US/${type}.json`));
    const zh = JSON.parse(read(`nodes/locales/zh-CN/${type}.json`));
    const shared = (k: string) => !/\.errors\.YKC_/.test(k);
    keys(zh).filter(shared).sort().should.eql(keys(en).sort());
    const used = new Set<string>();
    const re = new RegExp(`['"\`](${type.replace('-', '\\-')}\\.(?:label|status|errors|paletteLabel)[A-Za-z.]*)['"\`]`, 'g');
    for (const file of [`nodes/${type}.ts`, `nodes/${type}.html`]) for (const m of read(file).matchAll(re)) used.add(m[1]);
    used.size.should.be.above(3);
    for (const k of used) {
      if (k.endsWith('.')) continue; // a key built in code: checked below
      keys(en).should.containEql(k);
    }
    for (const m of read(`nodes/${type}.html`).matchAll(/data-i18n="(?:\[[a-z]+\])?((?:ykc-[a-z]+)\.[A-Za-z.]+)"/g)) keys(en).should.containEql(m[1]);
    // Every YKC_ code the zh-CN catalogue describes is one the runtime can produce.
    for (const k of keys(zh).filter((x) => /\.errors\.YKC_/.test(x))) k.should.match(/YKC_(TARIFF|INPUT|OFFLINE|INTERNAL)$/);
  });

  it(`${type}: help exists in both languages with data-help-name and the sections in order`, () => {
    for (const lang of ['en-US', 'zh-CN']) {
      const help = read(`nodes/locales/${lang}/${type}.html`);
      help.should.containEql(`data-help-name="${type}"`);
      const heads = [...help.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
      heads.should.eql(lang === 'en-US' ? ['Properties', 'Inputs', 'Outputs', 'Details', 'References'] : ['属性', '输入', '输出', '详细', '参考']);
      help.trimStart().split('\n')[1].should.match(/^\s*<p>/);
      if (lang === 'zh-CN') help.should.match(/[\u4e00-\u9fff]{20}/);
    }
  });

  it(`${type}: the editor registers the type literally, in the ykc category with the pack colour and its icon`, () => {
    checkEditorConventions(type);
  });
}
