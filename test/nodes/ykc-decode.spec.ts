import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { Node } from 'node-red';
import type { SinonSpy } from 'sinon';
import { YkcError } from '../../src/protocol';
import { catalogueDescriber, ErrorThrottle, toNodeError } from '../../nodes/shared/errors';
import { rawFrame } from '../support/raw';
import { loadVectors, REPO_ROOT, Vector } from '../support/repo';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const decodeNode = require('../../nodes/ykc-decode');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const encodeNode = require('../../nodes/ykc-encode');

helper.init(require.resolve('node-red'));

/** Node-RED's own core nodes, from the installed node-red. */
function coreNode(rel: string): unknown {
  const nodesDir = path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [path.dirname(require.resolve('node-red'))] }));
  return require(path.join(nodesDir, 'core', rel)); // eslint-disable-line @typescript-eslint/no-require-imports
}

type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface DecodeNode extends Node {
  sessionCount(): number;
}

/** The test helper wraps Node.prototype.status in a sinon spy. */
function statusSeen(n: Node, match: Record<string, unknown>): boolean {
  return (n.status as unknown as SinonSpy).calledWithMatch(match);
}

/** A device-captured login (jetlinks-official-protocol@e36baaa), checked by hand below. */
const LOGIN_HEX = '6822000300011000100100000101010F312E31302E32330001000000000000000000000465AA';

/** Frames whose CRC is right (either byte order): the ones a pile really sends. */
function crcGood(v: Vector): boolean {
  return v.crc_ok || (v.crc_note ?? '').startsWith('CRC value correct but transmitted high byte first');
}

function isWellFormed(v: Vector): boolean {
  return crcGood(v) && v.length_ok && v.body_len_matches_spec;
}

/** Resolves with the first `count` messages a node receives. */
function collect(n: Node, count: number): Promise<Msg[]> {
  return new Promise((resolve) => {
    const got: Msg[] = [];
    const on = (msg: Msg) => {
      got.push(msg);
      if (got.length === count) {
        n.removeListener('input', on);
        resolve(got);
      }
    };
    n.on('input', on);
  });
}

/** Lets queued deliveries run, so "nothing arrived" means nothing was sent. */
function settle(): Promise<void> {
  return new Promise((r) => setImmediate(() => setImmediate(r)));
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function flowWith(cfg: Record<string, unknown>): Flow {
  return [
    { id: 'd1', type: 'ykc-decode', name: 'dec', ...cfg, wires: [['out']] },
    { id: 'out', type: 'helper' },
    { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ];
}

describe('ykc-decode node', function () {
  afterEach(async function () {
    await helper.unload();
    helper.settings({});
  });

  it('loads with its defaults', async function () {
    await helper.load(decodeNode, [{ id: 'd1', type: 'ykc-decode', name: 'dec' }] as Flow);
    const n = helper.getNode('d1');
    should(n).not.be.null();
    n.should.have.property('name', 'dec');
    n.should.have.property('type', 'ykc-decode');
  });

  it('decodes a captured login frame from hex: payload, topic and msg.ykc', async function () {
    await helper.load(decodeNode, flowWith({ raw: true }));
    const got = collect(helper.getNode('out'), 1);
    helper.getNode('d1').receive({ payload: LOGIN_HEX, foo: { bar: 1 } } as never);
    const [msg] = await got;
    // By hand from the bytes: 68 22 | seq 00 03 (little-endian → 0x0300) | flag 00 | type 01 |
    // BCD 10001001000001 | type 01 | 1 gun | 0F = v1.5 | "1.10.23\0" | network 01 | ICCID 00×10 | carrier 04.
    msg.payload.should.containDeep({ type: 1, name: 'login', seq: 0x0300, encrypted: false, crcOrder: 'lo-first' });
    msg.payload.body.should.containDeep({
      pileNo: '10001001000001',
      pileType: 1,
      gunCount: 1,
      protocolVersion: 1.5,
      firmwareVersion: '1.10.23',
      networkType: 1,
      iccid: '00000000000000000000',
      carrier: 4,
    });
    msg.topic.should.equal('ykc/10001001000001/login');
    msg.ykc.should.containDeep({ pileNo: '10001001000001', type: 1, name: 'login', seq: 0x0300, version: '1.5', raw: LOGIN_HEX });
    msg.ykc.receivedAt.should.be.a.Number();
    msg.foo.should.eql({ bar: 1 }); // other properties pass through
  });

  it('takes a Buffer, a Uint8Array, a byte array, a JSON Buffer and spaced hex alike', async function () {
    await helper.load(decodeNode, flowWith({}));
    const bytes = Buffer.from(LOGIN_HEX, 'hex');
    const inputs: unknown[] = [
      bytes,
      new Uint8Array(bytes),
      Array.from(bytes),
      bytes.toJSON(),
      LOGIN_HEX.replace(/(..)/g, '$1 ').toLowerCase(),
    ];
    const got = collect(helper.getNode('out'), inputs.length);
    for (const p of inputs) helper.getNode('d1').receive({ payload: p } as never);
    for (const m of await got) {
      m.payload.name.should.equal('login');
      m.payload.body.pileNo.should.equal('10001001000001');
    }
  });

  it('decodes every real vector with a good CRC, and ykc-encode gives back the same bytes', async function () {
    const vectors = loadVectors().filter(crcGood);
    const wellFormed = vectors.filter(isWellFormed);
    wellFormed.length.should.be.above(30);
    vectors.length.should.be.above(wellFormed.length); // the sources' own mistakes are in the set too
    await helper.load(
      [decodeNode, encodeNode],
      [
        { id: 'd1', type: 'ykc-decode', wires: [['e1', 'dec']] },
        { id: 'dec', type: 'helper' },
        { id: 'e1', type: 'ykc-encode', output: 'hex', wires: [['enc']] },
        { id: 'enc', type: 'helper' },
        { id: 'c1', type: 'catch', scope: ['d1'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ] as Flow,
    );
    const dec: Msg[] = [];
    const caught: Msg[] = [];
    const all = new Promise<void>((resolve) => {
      const check = () => dec.length + caught.length === vectors.length && resolve();
      helper.getNode('dec').on('input', (m: Msg) => (dec.push(m), check()));
      helper.getNode('caught').on('input', (m: Msg) => (caught.push(m), check()));
    });
    const encoded = new Promise<Msg[]>((resolve) => {
      const got: Msg[] = [];
      helper.getNode('enc').on('input', (m: Msg) => (got.push(m), got.length === dec.length && dec.length + caught.length === vectors.length && resolve(got)));
    });
    vectors.forEach((v, i) => helper.getNode('d1').receive({ payload: Buffer.from(v.hex, 'hex'), i } as never));
    await all;
    const enc = await encoded;
    for (const m of dec) {
      const v = vectors[m.i];
      m.payload.type.should.equal(parseInt(v.type, 16), `${v.type} from ${v.source}`);
      m.payload.seq.should.equal(parseInt(v.seq_bytes.slice(2, 4) + v.seq_bytes.slice(0, 2), 16));
      const pileNo = m.payload.body.pileNo;
      if (pileNo !== undefined) {
        // BCD is the hex digits themselves: the pile number is in the frame's body as written.
        v.hex.slice(12).toUpperCase().should.containEql(pileNo);
        m.topic.should.equal(`ykc/${pileNo}/${m.payload.name}`);
        m.ykc.pileNo.should.equal(pileNo);
      }
    }
    for (const m of enc) m.payload.should.equal(vectors[m.i].hex.toUpperCase(), `${vectors[m.i].type} from ${vectors[m.i].source}`);
    // Every well-formed frame decodes; a malformed one either decodes leniently (and still
    // round-trips, above) or is refused for its length.
    const decodedIdx = new Set(dec.map((m) => m.i as number));
    vectors.forEach((v, i) => {
      if (isWellFormed(v)) decodedIdx.has(i).should.be.true(`${v.type} from ${v.source}`);
    });
    for (const m of caught) {
      isWellFormed(vectors[m.i]).should.be.false();
      m.error.code.should.equal('YKC_LENGTH');
    }
  });

  it('a bad CRC reaches a Catch node with code YKC_CRC and nothing is sent', async function () {
    const bad = loadVectors().find((v) => !crcGood(v) && v.type === '0x03')!;
    await helper.load(decodeNode, flowWith({}));
    const out: Msg[] = [];
    helper.getNode('out').on('input', (m: Msg) => out.push(m));
    const caught = collect(helper.getNode('caught'), 1);
    helper.getNode('d1').receive({ payload: bad.hex, tag: 'x' } as never);
    const [m] = await caught;
    m.error.code.should.equal('YKC_CRC');
    m.error.message.should.match(/0x03/);
    m.error.source.id.should.equal('d1');
    m.tag.should.equal('x');
    await settle();
    out.should.have.length(0);
    const n = helper.getNode('d1') as DecodeNode;
    statusSeen(n, { fill: 'red', shape: 'ring', code: 'YKC_CRC', text: 'ykc-decode.status.error' }).should.be.true();
  });

  it('with "accept bad CRC" decodes the spec example anyway and marks it', async function () {
    const bad = loadVectors().find((v) => !crcGood(v) && v.type === '0x03')!;
    await helper.load(decodeNode, flowWith({ acceptBadCrc: true }));
    const got = collect(helper.getNode('out'), 1);
    helper.getNode('d1').receive({ payload: bad.hex } as never);
    const [m] = await got;
    m.payload.crcValid.should.be.false();
    m.ykc.crcValid.should.be.false();
    m.payload.name.should.equal('heartbeat');
    m.payload.body.pileNo.should.equal('32010200000001');
    should(m.ykc.version).be.null(); // a lone heartbeat does not say which version the pile speaks
  });

  it('strict mode refuses a body longer than its layout (YKC_LENGTH); lenient mode keeps the surplus', async function () {
    // A heartbeat (docs/protocol.md §5.1: pile 7, gun 1, state 1) with one byte too many, CRC right.
    const hb = '32010200000001';
    const longer = rawFrame(0x03, `${hb} 01 00 EE`, '0100');

    await helper.load(decodeNode, flowWith({ strict: true }));
    const caught = collect(helper.getNode('caught'), 1);
    helper.getNode('d1').receive({ payload: longer } as never);
    const [e] = await caught;
    e.error.code.should.equal('YKC_LENGTH');
    await helper.unload();

    await helper.load(decodeNode, flowWith({}));
    const got = collect(helper.getNode('out'), 1);
    helper.getNode('d1').receive({ payload: longer } as never);
    const [m] = await got;
    m.payload.body.pileNo.should.equal(hb);
    m.payload.body.extra.should.equal('EE');
    m.payload.body.gunNo.should.equal(1);
  });

  it('refuses what is not bytes with YKC_INPUT', async function () {
    await helper.load(decodeNode, flowWith({}));
    const inputs: unknown[] = [{ a: 1 }, 42, [1, 256], 'zz', null];
    const caught = collect(helper.getNode('caught'), inputs.length);
    for (const p of inputs) helper.getNode('d1').receive({ payload: p } as never);
    for (const m of await caught) m.error.code.should.equal('YKC_INPUT');
  });

  it('reads and writes a configured property, and can output the body only', async function () {
    await helper.load(decodeNode, flowWith({ property: 'data.frame', output: 'body' }));
    const got = collect(helper.getNode('out'), 1);
    helper.getNode('d1').receive({ payload: 'keep', data: { frame: LOGIN_HEX } } as never);
    const [m] = await got;
    m.payload.should.equal('keep');
    m.data.frame.pileNo.should.equal('10001001000001');
    m.ykc.name.should.equal('login');
  });

  it('sets a green status naming the frame', async function () {
    await helper.load(decodeNode, flowWith({}));
    const got = collect(helper.getNode('out'), 1);
    helper.getNode('d1').receive({ payload: LOGIN_HEX } as never);
    await got;
    const n = helper.getNode('d1') as DecodeNode;
    statusSeen(n, { fill: 'green', shape: 'dot', frame: 'login', text: 'ykc-decode.status.frame' }).should.be.true();
  });

  describe('stream mode', function () {
    const vectors = loadVectors().filter(isWellFormed);

    /** A connection's bytes: real frames with garbage (no 0x68 in it) before, between and after. */
    function connectionBytes(frames: Vector[]): Buffer {
      const parts: Buffer[] = [Buffer.from('0D0A', 'hex')];
      frames.forEach((v, i) => {
        parts.push(Buffer.from(v.hex, 'hex'));
        if (i % 3 === 1) parts.push(Buffer.from('AABBCC', 'hex'));
      });
      parts.push(Buffer.from('FF', 'hex'));
      return Buffer.concat(parts);
    }

    function chunksOf(b: Buffer, rnd: () => number): Buffer[] {
      const out: Buffer[] = [];
      let i = 0;
      while (i < b.length) {
        const n = 1 + Math.floor(rnd() * 40);
        out.push(b.subarray(i, i + n));
        i += n;
      }
      return out;
    }

    it('reassembles two interleaved connections chunked anywhere, one msg per frame, garbage reported', async function () {
      const rnd = mulberry32(20240601);
      const framesA = vectors.slice(0, 12);
      const framesB = vectors.slice(12, 24);
      const chunksA = chunksOf(connectionBytes(framesA), rnd);
      const chunksB = chunksOf(connectionBytes(framesB), rnd);
      await helper.load(decodeNode, flowWith({ mode: 'stream', raw: true }));
      const got = collect(helper.getNode('out'), framesA.length + framesB.length);
      const errors: Msg[] = [];
      helper.getNode('caught').on('input', (m: Msg) => errors.push(m));
      const d = helper.getNode('d1') as DecodeNode;
      let a = 0;
      let b = 0;
      while (a < chunksA.length || b < chunksB.length) {
        if (a < chunksA.length && (b >= chunksB.length || rnd() < 0.5)) {
          d.receive({ payload: chunksA[a++], _session: { type: 'tcp', id: 'A' }, ip: '10.0.0.1' } as never);
        } else {
          d.receive({ payload: chunksB[b++], _session: { type: 'tcp', id: 'B' }, ip: '10.0.0.2' } as never);
        }
      }
      const msgs = await got;
      await settle();
      const fromA = msgs.filter((m) => m._session.id === 'A');
      const fromB = msgs.filter((m) => m._session.id === 'B');
      fromA.map((m) => m.ykc.raw).should.eql(framesA.map((v) => v.hex.toUpperCase()));
      fromB.map((m) => m.ykc.raw).should.eql(framesB.map((v) => v.hex.toUpperCase()));
      for (const m of fromA) {
        m.ip.should.equal('10.0.0.1');
        m._session.type.should.equal('tcp');
      }
      for (const m of fromB) m.ip.should.equal('10.0.0.2');
      errors.length.should.be.above(0);
      for (const e of errors) e.error.code.should.equal('YKC_GARBAGE');
      errors.some((e) => e._session.id === 'A').should.be.true();
      errors.some((e) => e._session.id === 'B').should.be.true();
      d.sessionCount().should.equal(2);
      statusSeen(d, { fill: 'green', text: 'ykc-decode.status.stream' }).should.be.true();
    });

    it('sends every frame of a chunk that holds several, each as its own msg with fresh properties', async function () {
      const frames = vectors.slice(0, 5);
      const chunk = Buffer.concat(frames.map((v) => Buffer.from(v.hex, 'hex')));
      await helper.load(decodeNode, flowWith({ mode: 'stream' }));
      const got = collect(helper.getNode('out'), frames.length);
      helper.getNode('d1').receive({ payload: chunk, _session: { type: 'tcp', id: 7 }, keep: { n: 1 } } as never);
      const msgs = await got;
      msgs.map((m) => m.payload.type).should.eql(frames.map((v) => parseInt(v.type, 16)));
      for (const m of msgs) {
        m.keep.should.eql({ n: 1 });
        m._session.should.eql({ type: 'tcp', id: 7 });
      }
      // Each msg is its own object: changing one does not change the others.
      msgs[0].keep.n = 2;
      msgs[1].keep.n.should.equal(1);
    });

    it('never drops a good frame behind a bad one, and rate-limits the error reports', async function () {
      const good = Buffer.from(LOGIN_HEX, 'hex');
      const bad = Buffer.from(good);
      bad[bad.length - 1] ^= 0xff;
      const parts: Buffer[] = [];
      for (let i = 0; i < 30; i++) parts.push(bad, good);
      await helper.load(decodeNode, flowWith({ mode: 'stream' }));
      const got = collect(helper.getNode('out'), 30);
      const errors: Msg[] = [];
      helper.getNode('caught').on('input', (m: Msg) => errors.push(m));
      helper.getNode('d1').receive({ payload: Buffer.concat(parts) } as never);
      (await got).every((m) => m.payload.name === 'login').should.be.true();
      await settle();
      // 30 bad frames make at least 30 reports; the node lets 10 through per 10 s window.
      errors.length.should.equal(10);
      errors[0].error.code.should.equal('YKC_CRC');
    });

    it('bounds the connections it keeps: least recently used goes first, its lost bytes reported', async function () {
      helper.settings({ ykcDecodeMaxSessions: 2 } as never);
      const half = Buffer.from(LOGIN_HEX, 'hex').subarray(0, 10);
      const rest = Buffer.from(LOGIN_HEX, 'hex').subarray(10);
      await helper.load(decodeNode, flowWith({ mode: 'stream' }));
      const d = helper.getNode('d1') as DecodeNode;
      const caught = collect(helper.getNode('caught'), 1);
      d.receive({ payload: half, _session: { id: 'A' } } as never);
      d.receive({ payload: half, _session: { id: 'B' } } as never);
      d.receive({ payload: half, _session: { id: 'C' } } as never);
      const [e] = await caught;
      e.error.code.should.equal('YKC_LIMIT');
      e._session.id.should.equal('A');
      d.sessionCount().should.equal(2);
      const got = collect(helper.getNode('out'), 2);
      d.receive({ payload: rest, _session: { id: 'B' } } as never);
      d.receive({ payload: rest, _session: { id: 'C' } } as never);
      (await got).map((m) => m._session.id).should.eql(['B', 'C']);
    });

    it('forgets a connection after its idle timeout', async function () {
      helper.settings({ ykcDecodeIdleTimeout: 20 } as never);
      const half = Buffer.from(LOGIN_HEX, 'hex').subarray(0, 10);
      await helper.load(decodeNode, flowWith({ mode: 'stream' }));
      const d = helper.getNode('d1') as DecodeNode;
      d.receive({ payload: half, _session: { id: 'A' } } as never);
      const caught = collect(helper.getNode('caught'), 1);
      await new Promise((r) => setTimeout(r, 40)); // the feature is about elapsed time itself
      d.receive({ payload: half, _session: { id: 'B' } } as never);
      const [e] = await caught;
      e.error.code.should.equal('YKC_LIMIT');
      e._session.id.should.equal('A');
      d.sessionCount().should.equal(1);
    });

    it("drops a connection's state on tcp in's disconnect status event or msg.reset", async function () {
      const half = Buffer.from(LOGIN_HEX, 'hex').subarray(0, 10);
      await helper.load(decodeNode, flowWith({ mode: 'stream' }));
      const d = helper.getNode('d1') as DecodeNode;
      d.receive({ payload: half, _session: { type: 'tcp', id: 'A' } } as never);
      d.receive({ payload: half, _session: { type: 'tcp', id: 'B' } } as never);
      await settle();
      d.sessionCount().should.equal(2);
      d.receive({ status: { text: 'x', event: 'connect', _session: { type: 'tcp', id: 'C' } } } as never);
      d.receive({ status: { text: 'x', event: 'disconnect', _session: { type: 'tcp', id: 'A' } } } as never);
      await settle();
      d.sessionCount().should.equal(1);
      d.receive({ reset: true, _session: { type: 'tcp', id: 'B' } } as never);
      await settle();
      d.sessionCount().should.equal(0);
    });

    it('a redeploy closes the node and clears every connection it held', async function () {
      const bytes = Buffer.from(LOGIN_HEX, 'hex');
      const flow = flowWith({ mode: 'stream' });
      await helper.load(decodeNode, flow);
      const old = helper.getNode('d1') as DecodeNode;
      old.receive({ payload: bytes.subarray(0, 20), _session: { id: 'A' } } as never);
      await settle();
      old.sessionCount().should.equal(1);
      const changed = flow.map((n) => (n.id === 'd1' ? { ...n, name: 'renamed' } : n));
      await helper.setFlows(changed, 'nodes');
      old.sessionCount().should.equal(0);
      const fresh = helper.getNode('d1') as DecodeNode;
      fresh.should.not.equal(old);
      const out: Msg[] = [];
      helper.getNode('out').on('input', (m: Msg) => out.push(m));
      const caught = collect(helper.getNode('caught'), 1);
      fresh.receive({ payload: bytes.subarray(20), _session: { id: 'A' } } as never);
      await caught; // the tail alone is not a frame
      await settle();
      out.should.have.length(0);
    });
  });

  describe('error helpers (nodes/shared/errors)', function () {
    it('keeps the code and details, and prefixes a translated description when there is one', function () {
      const e = new YkcError('YKC_CRC', 'frame 0x03: bad', { type: 3 });
      const plain = toNodeError(e, () => undefined);
      plain.message.should.equal('frame 0x03: bad');
      plain.code.should.equal('YKC_CRC');
      plain.details!.should.eql({ type: 3 });
      const zh = toNodeError(e, (c) => (c === 'YKC_CRC' ? 'CRC 校验错误' : undefined));
      zh.message.should.equal('CRC 校验错误: frame 0x03: bad');
      String(zh).should.equal('YkcError: CRC 校验错误: frame 0x03: bad');
      toNodeError(new TypeError('boom')).code.should.equal('YKC_INTERNAL');
      toNodeError('text').message.should.equal('text');
    });

    it('a catalogue describer ignores missing keys (the key comes back)', function () {
      const fakeRed = { _: (k: string) => (k === 'ykc-decode.errors.YKC_CRC' ? 'CRC 校验错误' : k) };
      const d = catalogueDescriber(fakeRed as never, 'ykc-decode');
      should(d('YKC_CRC')).equal('CRC 校验错误');
      should(d('YKC_FIELD')).be.undefined();
    });

    it('the throttle lets `limit` through per window and counts what it held back', function () {
      let t = 0;
      const th = new ErrorThrottle(3, 1000, () => t);
      [th.admit(), th.admit(), th.admit(), th.admit(), th.admit()].should.eql([0, 0, 0, null, null]);
      t = 1000;
      should(th.admit()).equal(2);
      should(th.admit()).equal(0);
      th.suppressedTotal.should.equal(2);
    });
  });

  describe('example flow examples/decode-encode-tcp.json', function () {
    let pile: net.Server | undefined;
    const sockets = new Set<net.Socket>();

    afterEach(async function () {
      await helper.unload(); // the tcp in client closes first, then the scripted pile
      for (const sock of sockets) sock.destroy();
      sockets.clear();
      if (pile) await new Promise<void>((r) => pile!.close(() => r()));
      pile = undefined;
    });

    it('runs on the real runtime with core tcp in, status, inject and catch nodes', async function () {
      const example: Flow = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'decode-encode-tcp.json'), 'utf8'));
      const types = new Set(example.map((n) => n.type));
      ['tcp in', 'status', 'ykc-decode', 'ykc-encode', 'inject', 'debug', 'catch', 'comment'].forEach((t) => types.has(t).should.be.true(t));
      const tcpIn = example.find((n) => n.type === 'tcp in')!;
      tcpIn.should.containDeep({ server: 'server', port: '18768', datamode: 'stream', datatype: 'buffer' });
      const byName = (name: string) => example.find((n) => n.name === name)!.id;

      // A scripted pile: a login and a heartbeat with line noise before, split at awkward places.
      const heartbeat = rawFrame(0x03, '10001001000001 01 00', '0400');
      const login = Buffer.from(LOGIN_HEX, 'hex');
      const script = [Buffer.from('0D0A', 'hex'), login.subarray(0, 3), login.subarray(3, 30), Buffer.concat([login.subarray(30), heartbeat.subarray(0, 5)]), heartbeat.subarray(5)];
      pile = net.createServer((sock) => {
        sockets.add(sock);
        for (const part of script) sock.write(part);
      });
      await new Promise<void>((r) => pile!.listen(0, '127.0.0.1', () => r()));
      const port = (pile.address() as net.AddressInfo).port;

      // In server mode core tcp in listens on every interface and has no host setting; tests stay on
      // 127.0.0.1, so here it dials the scripted pile instead. What it hands on is the same: raw chunks
      // with msg._session. Debug nodes become helper nodes that tests can listen to.
      const tab = example.find((n) => n.type === 'tab')!.id;
      example.every((n) => n.type === 'tab' || n.z === tab).should.be.true(); // one tab, as an export from the editor has
      const flow: Flow = [
        ...example.map((n) => {
          if (n.id === tcpIn.id) return { ...n, server: 'client', host: '127.0.0.1', port: String(port) };
          if (n.type === 'debug') return { id: n.id, type: 'helper', z: tab, name: n.name, wires: [] };
          return n;
        }),
      ];
      const nodes = [decodeNode, encodeNode, coreNode('network/31-tcpin.js'), coreNode('common/20-inject.js'), coreNode('common/90-comment.js')];
      // Listeners attached right after load are in time: the pile's bytes need a socket event first.
      await helper.load(nodes as never, flow);
      const fromPiles = collect(helper.getNode(byName('frames from piles')), 2);
      const errorCodes: string[] = [];
      helper.getNode(byName('error code')).on('input', (m: Msg) => errorCodes.push(m.error.code));

      const frames = await fromPiles;
      frames.map((m) => m.payload.name).should.eql(['login', 'heartbeat']);
      frames[0].topic.should.equal('ykc/10001001000001/login');
      frames[0].ykc.raw.should.equal(LOGIN_HEX);
      frames[1].payload.body.should.containDeep({ pileNo: '10001001000001', gunNo: 1 });
      frames[0]._session.type.should.equal('tcp');
      frames[1]._session.id.should.equal(frames[0]._session.id);
      // The connection's login told its protocol version; the heartbeat after it carries it too.
      frames.map((m) => m.ykc.version).should.eql(['1.5', '1.5']);

      const decoded = collect(helper.getNode(byName('decoded login')), 1);
      helper.getNode(byName('login frame (hex)')).receive({});
      const [login1] = await decoded;
      login1.payload.body.should.containDeep({ pileNo: '10001001000001', firmwareVersion: '1.10.23', protocolVersion: 1.5 });

      const encoded = collect(helper.getNode(byName('encoded bytes')), 1);
      helper.getNode(byName('heartbeat reply object')).receive({});
      const [reply] = await encoded;
      reply.payload.should.equal(rawFrame(0x04, '10001001000001 01 00', '0100').toString('hex').toUpperCase());

      // The two bytes of noise before the login went to the Catch node with their code.
      await settle();
      errorCodes.should.containEql('YKC_GARBAGE');
    });
  });
});
