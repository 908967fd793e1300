/**
 * Fuzz regressions. bench/fuzz.ts (`npm run fuzz`, 1,000,000 frames) keeps what it finds in
 * test/fixtures/fuzz/*.json; each fixture is replayed here with the very checks of the long run.
 * Then the first cases of the long run's default seed are replayed through the same engine, so a
 * change that breaks the codec on them fails here in well under a second.
 *
 * (test/protocol/fuzz.spec.ts is the protocol's own bounded random test with its own generator;
 * this one pins the long fuzz run: its findings and its opening cases.)
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import { checkFrame, checkStream, fuzzRun, newStreamTally, streamSplitter, TRADEOFF_KINDS } from '../../bench/fuzz';
import { FrameSplitter } from '../../src/protocol';
import { REPO_ROOT } from '../support/repo';

interface Fixture {
  kind: string;
  /** "tradeoff": a documented behaviour, checked to stay reported and bounded; otherwise a fixed bug. */
  expect?: 'tradeoff';
  detail: string;
  hex?: string;
  parts?: string[];
  chunks?: number[];
  embedded?: string;
}

const DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'fuzz');
const FIXTURES: Array<{ file: string; fx: Fixture }> = fs.existsSync(DIR)
  ? fs
      .readdirSync(DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((file) => ({ file, fx: JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as Fixture }))
  : [];

const hexes = (a: Buffer[]) => a.map((b) => b.toString('hex').toUpperCase());

describe('protocol: fuzz regressions (bench/fuzz.ts findings, opening cases of its seed)', function () {
  this.timeout(10_000);

  it('the fixtures are there and well formed', () => {
    should(FIXTURES.length).be.above(0);
    for (const { file, fx } of FIXTURES) {
      should(fx.kind).be.a.String();
      should(!!fx.hex || (Array.isArray(fx.parts) && Array.isArray(fx.chunks))).be.true(`${file}: needs hex, or parts and chunks`);
    }
  });

  for (const { file, fx } of FIXTURES) {
    if (fx.hex) {
      it(`${file}: only YkcError, and lossless when it decodes`, () => {
        should(checkFrame(Buffer.from(fx.hex!, 'hex'))).be.null();
      });
    } else if (fx.expect === 'tradeoff') {
      it(`${file}: whole, every frame comes out; cut at the fatal byte, the loss is reported and nothing stalls`, () => {
        const parts = fx.parts!.map((h) => Buffer.from(h, 'hex'));
        const total = parts.reduce((n, p) => n + p.length, 0);
        // Read in one piece: exactly the frames sent (and the good frame after them).
        const whole = streamSplitter();
        should(checkStream(whole, parts, [total + 64])).be.null();
        // Read in the fixture's pieces: either the splitter has learned to keep the frame, or it
        // gives it up as documented — never silently, never stalling, never holding more than a frame.
        const tally = newStreamTally();
        const cut = streamSplitter(tally);
        const f = checkStream(cut, parts, fx.chunks!, tally);
        if (f === null) return;
        should(TRADEOFF_KINDS.has(f.kind)).be.true(`${f.kind}: ${f.detail}`);
        should(tally.errors.YKC_LENGTH ?? 0).be.above(0);
        if (fx.embedded) should(hexes(cut.out)).containEql(fx.embedded);
        should(cut.s.buffered).equal(0);
      });
    } else {
      it(`${file}: the splitter passes every stream check`, () => {
        should(checkStream(streamSplitter(), fx.parts!.map((h) => Buffer.from(h, 'hex')), fx.chunks!)).be.null();
      });
    }
  }

  it('the first 600 cases of seed 8 (the long run\'s start): no defect, and every path exercised', () => {
    const r = fuzzRun(8, 600);
    const defects = r.findings.filter((f) => !TRADEOFF_KINDS.has(f.kind));
    should(defects.map((f) => `${f.kind} @${f.case}: ${f.detail.slice(0, 200)}`)).be.empty();
    // The run really reached decoders, encoders and every splitter path (so this test can fail).
    should(r.tally.frames).equal(600);
    should(r.tally.roundTrips).be.above(300);
    should(Object.keys(r.tally.refused)).containEql('YKC_LENGTH').and.containEql('YKC_CRC');
    should(r.stally.wholeStreams).be.above(20);
    should(Object.keys(r.stally.errors)).containEql('YKC_GARBAGE').and.containEql('YKC_CRC');
    should(r.splitterStats.hiFirstCrc).be.above(0);
  });

  it('the stream check fails a splitter that holds the good frame back (it can fail)', () => {
    const deaf = { s: { push: () => {}, buffered: 0 } as unknown as FrameSplitter, out: [], thrown: null };
    should(checkStream(deaf, [], [5])?.kind).equal('stall');
  });
});
