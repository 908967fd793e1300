/**
 * The codec against frames not in the reference vectors (test/fixtures/external-frames.json, checked against test/fixtures/vectors.json): real
 * pile and platform logs and the test inputs of third-party YKC decoders, each with its source.
 * Every CRC-valid frame must decode with its stated type and CRC order, re-encode byte for byte,
 * agree with the values its source states (and differ exactly where the fixture shows the source
 * wrong), and be internally consistent by the protocol's own rules (record totals, meter span,
 * trade-number rule) — a layout shifted by one byte fails those. Broken frames are refused with
 * the code that names what is broken.
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import { decodeFrame, DecodedFrame, encodeFrame, splitAll, YkcError } from '../../src/protocol';
import { loadVectors, REPO_ROOT } from '../support/repo';

type Kind = 'device-capture' | 'fixture' | 'doc';
type Consistency = 'tierSums' | 'meterSpan' | 'tradeNoPrefix' | 'tradeTimeIsEnd';

interface ExternalFrame {
  id: string;
  type: string;
  direction: string;
  kind: Kind;
  source: string;
  hex: string;
  seqBytes: string;
  /** 'decode', or the error code a decoder must refuse the frame with. */
  expect: 'decode' | 'YKC_CRC' | 'YKC_LENGTH';
  crcOrder?: 'lo-first' | 'hi-first';
  frame?: { seq?: number; seqLowByte?: number };
  decoded?: Record<string, unknown>;
  decodedPrefix?: Record<string, string>;
  sourceWrong?: Array<{ field: string; source: unknown; ours: unknown; why: string }>;
  consistency?: Consistency[];
  extraHex?: string;
  pairWith?: string;
  lengthFix?: number;
  decodedAfterFix?: Record<string, unknown>;
  /** The code the stream splitter reports, when it sees a different fault first. */
  streamExpect?: string;
  notes: string;
}

const FRAMES: ExternalFrame[] = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'external-frames.json'), 'utf8'));
const VALID = FRAMES.filter((f) => f.expect === 'decode');
const REFUSED = FRAMES.filter((f) => f.expect !== 'decode');
const bytesOf = (f: ExternalFrame): Buffer => Buffer.from(f.hex, 'hex');
const hexUp = (b: Buffer): string => b.toString('hex').toUpperCase();

/** Quantities in the wire's integer units, so sums are exact. */
const units = (v: unknown, scale = 10_000): number => {
  should(v).be.a.Number();
  return Math.round((v as number) * scale);
};

function thrown(fn: () => unknown): YkcError {
  try {
    fn();
  } catch (e) {
    should(e).be.instanceOf(YkcError);
    return e as YkcError;
  }
  throw new Error('expected a YkcError, nothing was thrown');
}

const TIERS = ['sharp', 'peak', 'flat', 'valley', 'deepValley'];

const CONSISTENCY: Record<Consistency, (b: DecodedFrame['body']) => void> = {
  tierSums(b) {
    const present = TIERS.filter((t) => b[`${t}Energy`] !== undefined);
    should(present.length).be.aboveOrEqual(4);
    const sum = (suffix: string) => present.reduce((s, t) => s + units(b[`${t}${suffix}`]), 0);
    should(sum('Energy')).equal(units(b.totalEnergy), 'Σ tier energies = total energy');
    should(sum('LossEnergy')).equal(units(b.totalLossEnergy), 'Σ tier loss-adjusted energies = total');
    should(sum('Amount')).equal(units(b.totalAmount), 'Σ tier amounts = total amount');
  },
  meterSpan(b) {
    should(units(b.meterEnd) - units(b.meterStart)).equal(units(b.totalEnergy), 'meter end − meter start = total energy');
  },
  tradeNoPrefix(b) {
    // docs/protocol.md 3.1: pile (14) + gun (2) + … — where a platform follows the rule it pins the offsets.
    should(String(b.tradeNo).slice(0, 16)).equal(`${b.pileNo}${String(b.gunNo).padStart(2, '0')}`);
  },
  tradeTimeIsEnd(b) {
    should(b.tradeTime).equal(b.endTime);
    should(String(b.startTime) <= String(b.endTime)).be.true('start ≤ end');
  },
};

describe('protocol: external frames (real piles, third-party decoders; not in test/fixtures/vectors.json)', function () {
  it('is external and well described: no frame is in test/fixtures/vectors.json, every entry names its source', () => {
    const shared = new Set(loadVectors().map((v) => v.hex.toUpperCase()));
    const ids = new Set<string>();
    for (const f of FRAMES) {
      should(shared.has(f.hex)).be.false(`${f.id} is already in test/fixtures/vectors.json`);
      should(ids.has(f.id)).be.false(`duplicate id ${f.id}`);
      ids.add(f.id);
      should(['device-capture', 'fixture', 'doc']).containEql(f.kind);
      should(f.source.length).be.above(20);
      should(f.notes.length).be.above(20);
      should(f.hex).match(/^([0-9A-F]{2})+$/);
      should(f.hex.slice(4, 8)).equal(f.seqBytes);
    }
    should(VALID.length).be.aboveOrEqual(18);
    should(FRAMES.filter((f) => f.kind === 'device-capture').length).be.aboveOrEqual(4);
  });

  for (const f of VALID) {
    describe(`${f.id} (${f.type}, ${f.kind})`, () => {
      it(`decodes as ${f.type} with CRC ${f.crcOrder} and re-encodes byte for byte`, () => {
        const d = decodeFrame(f.hex);
        should(d.type).equal(parseInt(f.type, 16));
        should(d.crcOrder).equal(f.crcOrder);
        should(d.encrypted).be.false();
        should(d.body).not.have.property('raw');
        should(hexUp(encodeFrame(d))).equal(f.hex);
        // Through JSON too: what a flow or the CLI hands back must encode to the same bytes.
        should(hexUp(encodeFrame(JSON.parse(JSON.stringify(d))))).equal(f.hex);
        if (f.extraHex) should(d.body.extra).equal(f.extraHex);
        else should(d.body).not.have.property('extra');
      });

      const stated = { ...f.decoded, ...f.decodedPrefix, ...f.frame };
      if (Object.keys(stated).length) {
        it(`agrees with what the source states: ${Object.keys(stated).join(', ')}`, () => {
          const d = decodeFrame(f.hex);
          if (f.decoded) should(d.body).containEql(f.decoded);
          for (const [k, prefix] of Object.entries(f.decodedPrefix ?? {})) should(String(d.body[k])).startWith(prefix);
          if (f.frame?.seq !== undefined) should(d.seq).equal(f.frame.seq);
          if (f.frame?.seqLowByte !== undefined) should(d.seq & 0xff).equal(f.frame.seqLowByte);
        });
      }

      if (f.sourceWrong?.length) {
        it(`differs from the source where it is shown wrong: ${f.sourceWrong.map((w) => w.field).join(', ')}`, () => {
          const d = decodeFrame(f.hex);
          for (const w of f.sourceWrong!) {
            should(d.body[w.field]).not.eql(w.source, `${w.field}: ${w.why}`);
            should(d.body[w.field]).eql(w.ours, `${w.field}: ${w.why}`);
          }
        });
      }

      if (f.consistency?.length) {
        it(`is consistent by the protocol's rules: ${f.consistency.join(', ')}`, () => {
          const b = decodeFrame(f.hex).body;
          for (const c of f.consistency!) CONSISTENCY[c](b);
        });
      }
    });
  }

  for (const f of REFUSED) {
    it(`refuses ${f.id} (${f.type}, ${f.kind}) with ${f.expect}`, () => {
      const e = thrown(() => decodeFrame(f.hex));
      should(e.code).equal(f.expect);
      should(e.message.length).be.above(10);
      if (f.lengthFix !== undefined) {
        // Only the length byte is wrong: the CRC does not cover it, so corrected it decodes.
        const fixed = bytesOf(f);
        fixed[1] = f.lengthFix;
        should(thrown(() => decodeFrame(bytesOf(f))).code).equal('YKC_LENGTH');
        should(decodeFrame(fixed).body).containEql(f.decodedAfterFix!);
      }
    });
  }

  it('a CRC-valid external frame with a wrong body length is refused as YKC_LENGTH, not guessed, even with strict off', () => {
    for (const f of REFUSED.filter((x) => x.expect === 'YKC_LENGTH' && x.lengthFix === undefined)) {
      const b = bytesOf(f);
      if (b[1] + 4 !== b.length) continue; // a framing error, covered above
      should(thrown(() => decodeFrame(b, { strict: false })).code).equal('YKC_LENGTH');
    }
  });

  it('the real pile answers the real platform 0x34 with a 0x33 of the same sequence bytes and trade number', () => {
    const pairs = VALID.filter((f) => f.pairWith);
    should(pairs.length).be.aboveOrEqual(1);
    for (const reply of pairs) {
      const req = FRAMES.find((x) => x.id === reply.pairWith)!;
      const a = decodeFrame(req.hex);
      const r = decodeFrame(reply.hex);
      should(reply.seqBytes).equal(req.seqBytes);
      should(r.seq).equal(a.seq);
      should(r.type).equal(a.type - 1);
      should(r.body).containEql({ tradeNo: a.body.tradeNo, pileNo: a.body.pileNo, gunNo: a.body.gunNo, result: 1 });
    }
  });

  it('the splitter cuts all valid external frames back out of one stream, with their CRC orders', () => {
    const stream = Buffer.concat(VALID.map(bytesOf));
    const { frames, orders, errors, rest } = splitAll(stream);
    should(errors).be.empty();
    should(rest).equal(0);
    should(frames.map(hexUp)).eql(VALID.map((f) => f.hex));
    should(orders).eql(VALID.map((f) => f.crcOrder));
  });

  it('the splitter reports CRC-broken external frames (as YKC_CRC unless a worse fault shows first) and loses none of the good frames around them', () => {
    for (const bad of REFUSED.filter((f) => f.expect === 'YKC_CRC')) {
      const before = VALID[0];
      const after = VALID[VALID.length - 1];
      const { frames, errors } = splitAll(Buffer.concat([bytesOf(before), bytesOf(bad), bytesOf(after)]));
      should(frames.map(hexUp)).eql([before.hex, after.hex], bad.id);
      should(errors.map((e) => e.code)).containEql(bad.streamExpect ?? 'YKC_CRC');
    }
  });
});
