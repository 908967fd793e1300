import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { Node } from 'node-red';
import type { SinonSpy } from 'sinon';
import { ALL_FRAMES } from '../../src/protocol';
import { rawFrame, hexOf } from '../support/raw';
import { REPO_ROOT } from '../support/repo';
import { checkEditorConventions } from '../support/editor';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const encodeNode = require('../../nodes/ykc-encode');

helper.init(require.resolve('node-red'));

type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PILE = '32010200000001';
/** Heartbeat reply (docs/protocol.md §5.1): pile 7 BCD, gun 1 BCD, reply 1 byte; built without our encoder. */
const HB_REPLY = rawFrame(0x04, `${PILE} 01 00`, '0100');

/** A 0x58 body (docs/protocol.md §5.1 field names): four levels, loss ratio 0, all slots flat. */
const TARIFF = {
  pileNo: PILE, modelCode: '0100',
  sharpElecPrice: 1.2, sharpServicePrice: 0.8, peakElecPrice: 1, peakServicePrice: 0.6,
  flatElecPrice: 0.7, flatServicePrice: 0.5, valleyElecPrice: 0.4, valleyServicePrice: 0.3,
  lossRatio: 0, slots: new Array(48).fill(2),
};

function collect(n: Node, count: number): Promise<Msg[]> {
  return new Promise((resolve) => {
    const got: Msg[] = [];
    n.on('input', (msg: Msg) => {
      got.push(msg);
      if (got.length === count) resolve(got);
    });
  });
}

function settle(): Promise<void> {
  return new Promise((r) => setImmediate(() => setImmediate(r)));
}

function statusSeen(n: Node, match: Record<string, unknown>): boolean {
  return (n.status as unknown as SinonSpy).calledWithMatch(match);
}

function flowWith(cfg: Record<string, unknown>): Flow {
  return [
    { id: 'e1', type: 'ykc-encode', name: 'enc', ...cfg, wires: [['out']] },
    { id: 'out', type: 'helper' },
    { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ];
}

/** Sends one message and resolves with what came out and what was caught, once either arrives. */
async function run(msg: Msg): Promise<{ out: Msg[]; caught: Msg[] }> {
  const out: Msg[] = [];
  const caught: Msg[] = [];
  const first = new Promise<void>((resolve) => {
    helper.getNode('out').on('input', (m: Msg) => (out.push(m), resolve()));
    helper.getNode('caught').on('input', (m: Msg) => (caught.push(m), resolve()));
  });
  helper.getNode('e1').receive(msg as never);
  await first;
  await settle();
  return { out, caught };
}

describe('ykc-encode node', function () {
  afterEach(function () {
    return helper.unload();
  });

  it('loads with its defaults', async function () {
    await helper.load(encodeNode, [{ id: 'e1', type: 'ykc-encode', name: 'enc' }] as Flow);
    helper.getNode('e1').should.have.property('name', 'enc');
  });

  it('encodes a frame object to the exact bytes of a hand-built frame, keeping other properties', async function () {
    await helper.load(encodeNode, flowWith({}));
    const { out } = await run({ payload: { name: 'heartbeatReply', seq: 1, body: { pileNo: PILE, gunNo: 1, reply: 0 } }, topic: 't', keep: [1] });
    Buffer.isBuffer(out[0].payload).should.be.true();
    hexOf(out[0].payload).should.equal(hexOf(HB_REPLY));
    out[0].topic.should.equal('t');
    out[0].keep.should.eql([1]);
    statusSeen(helper.getNode('e1'), { fill: 'green', shape: 'dot', frame: 'heartbeatReply', text: 'ykc-encode.status.frame' }).should.be.true();
  });

  it('takes the type as a number, as "0x04" or as a name, a JSON string, and outputs hex on request', async function () {
    await helper.load(encodeNode, flowWith({ output: 'hex' }));
    const body = { pileNo: PILE, gunNo: 1, reply: 0 };
    const inputs: unknown[] = [
      { type: 4, seq: 1, body },
      { type: '0x04', seq: 1, body },
      { type: 'heartbeatReply', seq: 1, body },
      JSON.stringify({ name: 'heartbeatReply', seq: 1, body }),
    ];
    const got = collect(helper.getNode('out'), inputs.length);
    for (const p of inputs) helper.getNode('e1').receive({ payload: p } as never);
    for (const m of await got) m.payload.should.equal(hexOf(HB_REPLY));
  });

  it('writes prices as exact wire integers (0.00001 yuan)', async function () {
    await helper.load(encodeNode, flowWith({}));
    const { out } = await run({ payload: { name: 'tariffSet', seq: 0, body: TARIFF } });
    const b: Buffer = out[0].payload;
    // body: pile 7 + model 2, then sharp elec price u32 LE at body offset 9 (frame offset 15).
    b.readUInt32LE(15).should.equal(120000);
    b.readUInt32LE(19).should.equal(80000);
    b.readUInt32LE(6 + 9 + 8 * 4 - 4).should.equal(30000);
  });

  it('keeps a high-byte-first CRC when the frame says so', async function () {
    await helper.load(encodeNode, flowWith({ output: 'hex' }));
    const { out } = await run({ payload: { name: 'heartbeatReply', seq: 1, crcOrder: 'hi-first', body: { pileNo: PILE, gunNo: 1, reply: 0 } } });
    out[0].payload.should.equal(hexOf(rawFrame(0x04, `${PILE} 01 00`, '0100', { hiFirst: true })));
  });

  it('with a fixed frame type takes the body from the property and seq from msg.ykc.seq', async function () {
    await helper.load(encodeNode, flowWith({ frameType: 'heartbeatReply', property: 'reply', output: 'hex' }));
    const { out } = await run({ payload: 'untouched', reply: { pileNo: PILE, gunNo: 1, reply: 0 }, ykc: { seq: 1, name: 'heartbeat' } });
    out[0].reply.should.equal(hexOf(HB_REPLY));
    out[0].payload.should.equal('untouched');
    out[0].ykc.should.eql({ seq: 1, name: 'heartbeat' });
    const second = await run({ reply: { pileNo: PILE, gunNo: 1, reply: 0 } });
    second.out[0].reply.should.equal(hexOf(rawFrame(0x04, `${PILE} 01 00`, '0000')));
  });

  it('a field out of range reaches a Catch node with YKC_FIELD and nothing is sent', async function () {
    await helper.load(encodeNode, flowWith({}));
    const { out, caught } = await run({ payload: { name: 'heartbeatReply', seq: 1, body: { pileNo: '320102000000011', gunNo: 1, reply: 0 } }, tag: 'x' });
    out.should.have.length(0);
    caught.should.have.length(1);
    caught[0].error.code.should.equal('YKC_FIELD');
    caught[0].error.message.should.match(/pileNo/);
    caught[0].error.source.id.should.equal('e1');
    caught[0].tag.should.equal('x');
    statusSeen(helper.getNode('e1'), { fill: 'red', shape: 'ring', code: 'YKC_FIELD' }).should.be.true();
  });

  it('a missing required field, a bad seq, an unknown type and a non-object are refused with their codes', async function () {
    await helper.load(encodeNode, flowWith({}));
    const cases: Array<[unknown, string]> = [
      [{ name: 'heartbeatReply', body: { pileNo: PILE, gunNo: 1 } }, 'YKC_FIELD'],
      [{ name: 'heartbeatReply', seq: 70000, body: { pileNo: PILE, gunNo: 1, reply: 0 } }, 'YKC_FIELD'],
      [{ name: 'noSuchFrame', body: {} }, 'YKC_UNKNOWN_TYPE'],
      // Money is exact: a price with more decimals than the wire's 0.00001 yuan is refused, not rounded.
      [{ name: 'tariffSet', body: { ...TARIFF, sharpElecPrice: 1.200001 } }, 'YKC_FIELD'],
      [[1, 2, 3], 'YKC_INPUT'],
      ['{not json', 'YKC_INPUT'],
      [Buffer.from('68', 'hex'), 'YKC_INPUT'],
    ];
    for (const [payload, code] of cases) {
      const { out, caught } = await run({ payload });
      out.should.have.length(0);
      caught.map((m) => m.error.code).should.eql([code], JSON.stringify(payload));
    }
  });

  it('an unknown frame type in the settings does not throw; each message is refused', async function () {
    await helper.load(encodeNode, flowWith({ frameType: 'nope' }));
    const n = helper.getNode('e1');
    statusSeen(n, { fill: 'red', code: 'YKC_UNKNOWN_TYPE' }).should.be.true();
    const { out, caught } = await run({ payload: {} });
    out.should.have.length(0);
    caught[0].error.code.should.equal('YKC_UNKNOWN_TYPE');
  });

  describe('editor files', function () {
    const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');

    it("the dialog's frame list is exactly the protocol's frame set", function () {
      const html = read('nodes/ykc-encode.html');
      const names = [...html.matchAll(/<option value="([A-Za-z0-9]+)">/g)].map((m) => m[1]);
      names.sort().should.eql(ALL_FRAMES.map((s) => s.name).sort());
    });

    for (const type of ['ykc-decode', 'ykc-encode']) {
      it(`${type}: catalogues in en-US and zh-CN have the same keys; every key the code uses exists`, function () {
        const keys = (o: unknown, prefix = ''): string[] =>
          o !== null && typeof o === 'object'
            ? Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
            : [prefix];
        const en = JSON.parse(read(`nodes/locales/en-US/${type}.json`));
        const zh = JSON.parse(read(`nodes/locales/zh-CN/${type}.json`));
        // Code descriptions (errors.YKC_*) are a prefix only languages other than English need.
        const shared = (k: string) => !/\.errors\.YKC_/.test(k);
        keys(zh).filter(shared).sort().should.eql(keys(en).sort());
        for (const k of keys(zh)) (typeof k).should.equal('string');
        const used = new Set<string>();
        for (const file of [`nodes/${type}.ts`, `nodes/${type}.html`]) {
          for (const m of read(file).matchAll(/['"](ykc-(?:de|en)code\.(?:label|status|errors|paletteLabel)[A-Za-z.-]*)['"]/g)) used.add(m[1]);
        }
        used.size.should.be.above(3);
        for (const k of used) keys(en).should.containEql(k);
        for (const m of read(`nodes/${type}.html`).matchAll(/data-i18n="(?:\[[a-z]+\])?((?:ykc-[a-z]+)\.[A-Za-z.]+)"/g)) keys(en).should.containEql(m[1]);
      });

      it(`${type}: help exists in both languages with data-help-name and the sections in order`, function () {
        for (const lang of ['en-US', 'zh-CN']) {
          const help = read(`nodes/locales/${lang}/${type}.html`);
          help.should.containEql(`data-help-name="${type}"`);
          const heads = [...help.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
          heads.should.eql(lang === 'en-US' ? ['Properties', 'Inputs', 'Outputs', 'Details', 'References'] : ['属性', '输入', '输出', '详细', '参考']);
          help.trimStart().split('\n')[1].should.match(/^\s*<p>/); // the summary comes first
          if (lang === 'zh-CN') help.should.match(/[\u4e00-\u9fff]{20}/);
        }
      });

      it(`${type}: the editor registers the type literally, in the ykc category with the pack colour and its icon`, function () {
        checkEditorConventions(type);
      });
    }

    it('there is a 40x60 white-glyph icon for every node the package declares', function () {
      const pkg = JSON.parse(read('package.json'));
      const types = Object.keys(pkg['node-red'].nodes);
      types.length.should.be.above(10);
      for (const t of types) {
        const svg = read(`icons/${t}.svg`);
        svg.should.match(/viewBox="0 0 40 60"/);
        should(svg.match(/(fill|stroke)="#(?!fff")[0-9a-fA-F]{3,6}"/)).equal(null, `${t}: only white`);
      }
    });
  });
});
