/**
 * Seeded, bounded random test: mutated real frames and random bytes through FrameSplitter and
 * decodeFrame. Nothing may throw except YkcError, the splitter's buffer stays ≤ 259 bytes, and any
 * frame that decodes re-encodes to the very same bytes (lossless for every byte pattern).
 */
import should from 'should';
import { decodeBodyWith, decodeFrame, encodeFrame, FrameSplitter, schemaForType, YkcError } from '../../src/protocol';
import { loadVectors } from '../support/repo';
import { crcBitwise, prng } from './hand/support';

const SEED = 20251126;
const ROUNDS = 1000;
/** The test stops early (after at least MIN_ROUNDS) rather than run past this on a loaded machine. */
const BUDGET_MS = 1500;
const MIN_ROUNDS = 200;

/** Recomputes the CRC (low byte first) so mutated frames reach the body decoders too. */
function fixCrc(b: Buffer): Buffer {
  if (b.length >= 8 && b[0] === 0x68 && b[1] + 4 === b.length) {
    const c = crcBitwise(b.subarray(2, b.length - 2));
    b[b.length - 2] = c & 0xff;
    b[b.length - 1] = c >>> 8;
  }
  return b;
}

describe('protocol: seeded random frames (splitter + decoder)', function () {
  this.timeout(10_000);

  it(`up to ${ROUNDS} rounds of mutated vectors and random bytes: only YkcError, bounded buffer, lossless when decoded`, () => {
    const rnd = prng(SEED);
    const int = (n: number): number => Math.floor(rnd() * n);
    const seeds = loadVectors()
      .filter((v) => v.length_ok)
      .map((v) => Buffer.from(v.hex, 'hex'));
    const started = Date.now();
    const tally = { frames: 0, decoded: 0, refused: {} as Record<string, number> };
    let done = 0;

    const tryDecode = (frame: Buffer): void => {
      for (const strict of [false, true]) {
        try {
          const f = decodeFrame(frame, { verifyCrc: false, strict });
          tally.decoded++;
          if (f.crcValid !== false) {
            should(encodeFrame(f).equals(frame)).be.true(`not lossless: ${frame.toString('hex')}`);
          }
          // The compiled decoder and the field-by-field reference agree, key order included.
          const schema = schemaForType(frame[5]);
          if (schema && frame[4] !== 1) {
            const reference = decodeBodyWith(schema, frame, 6, frame.length - 8, strict, true);
            should(JSON.stringify(f.body)).equal(JSON.stringify(reference));
          }
          // A JSON trip (what flows carry) must encode too: same bytes up to the CRC.
          const again = encodeFrame(JSON.parse(JSON.stringify(f)));
          should(again.subarray(0, -2).equals(frame.subarray(0, -2))).be.true(`JSON trip: ${frame.toString('hex')}`);
        } catch (e) {
          if (!(e instanceof YkcError)) throw new Error(`non-YkcError on ${frame.toString('hex')}: ${(e as Error).stack}`);
          tally.refused[e.code] = (tally.refused[e.code] ?? 0) + 1;
        }
      }
    };

    const splitter = new FrameSplitter(
      (f) => {
        tally.frames++;
        tryDecode(Buffer.from(f));
      },
      (e) => should(e).be.instanceOf(YkcError),
      { maxGarbage: 1 << 30 },
    );

    for (let round = 0; round < ROUNDS; round++) {
      const parts: Buffer[] = [];
      for (let k = 1 + int(3); k > 0; k--) {
        const kind = int(10);
        if (kind === 0) {
          // Random bytes, sometimes salted with start bytes.
          const g = Buffer.alloc(int(300));
          for (let i = 0; i < g.length; i++) g[i] = rnd() < 0.05 ? 0x68 : int(256);
          parts.push(g);
          continue;
        }
        const b = Buffer.from(seeds[int(seeds.length)]);
        const mutations = int(4);
        for (let m = 0; m < mutations; m++) {
          const at = int(b.length);
          switch (int(4)) {
            case 0:
              b[at] ^= 1 << int(8); // flip a bit
              break;
            case 1:
              b[at] = int(256); // replace a byte
              break;
            case 2:
              if (at > 6) b[at] = 0x00; // zero a body byte
              break;
            default:
              b[5] = int(256); // another type byte: a body meets a foreign layout
          }
        }
        // Usually keep the frame well formed so the body decoders see the mutation.
        const body = rnd() < 0.8 ? fixCrc(b) : b;
        tryDecode(body);
        parts.push(body);
      }
      // Feed the stream in random chunk sizes.
      const stream = Buffer.concat(parts);
      let o = 0;
      while (o < stream.length) {
        const n = 1 + int(rnd() < 0.3 ? 8 : 200);
        splitter.push(stream.subarray(o, o + n));
        should(splitter.buffered).be.belowOrEqual(259);
        o += n;
      }
      done = round + 1;
      if (Date.now() - started > BUDGET_MS && done >= MIN_ROUNDS) break;
    }
    // The test really exercised both outcomes.
    should(tally.frames).be.above(done / 2);
    should(tally.decoded).be.above(done);
    should(Object.keys(tally.refused)).containEql('YKC_LENGTH');
  });

  it('random hex text and odd inputs to decodeFrame fail with YKC_INPUT / YKC_START / YKC_LENGTH', () => {
    const codeOf = (input: unknown): string => {
      try {
        decodeFrame(input as string);
      } catch (e) {
        should(e).be.instanceOf(YkcError);
        return (e as YkcError).code;
      }
      return 'none';
    };
    should(codeOf('68 0G')).equal('YKC_INPUT');
    should(codeOf('680')).equal('YKC_INPUT');
    should(codeOf(42)).equal('YKC_INPUT');
    should(codeOf('')).equal('YKC_LENGTH');
    should(codeOf('69 0B 00 00 00 09 32 01 02 00 00 00 01 00 00')).equal('YKC_START');
    should(codeOf('68 03 00 00 00')).equal('YKC_LENGTH');
    should(codeOf('68 02 00 00 00 09 00 00')).equal('YKC_LENGTH');
  });
});
