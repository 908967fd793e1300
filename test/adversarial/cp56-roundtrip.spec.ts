/**
 * Hostile review (issue 11.3): every 7-byte pattern a pile may put in a CP56Time2a field of a
 * transaction record — weekday 0–7, summer bit, invalid minute/hour/day with weekday bits, IV and
 * reserved bits, leap days, milliseconds — decodes to something that, after a trip through JSON (as
 * a msg crossing MQTT or a file), encodes back to the same bytes. Frames are built by hand (own CRC).
 */
import should from 'should';
import { decodeFrame, encodeFrame } from '../../src/protocol';
import { BASE_BODY } from '../support/record-piles';
import { rawFrame } from '../support/raw';

/** Body offsets of the start and end time in a 0x3B body (docs/protocol.md: trade 16, pile 7, gun 1, then the times). */
const TIMES = [24, 31];

/** xorshift32: reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function roundTrip(cp56: Buffer, at: number): { ok: boolean; decoded: unknown } {
  const body = Buffer.from(BASE_BODY, 'hex');
  cp56.copy(body, at);
  const frame = rawFrame(0x3b, body.toString('hex'), '3412');
  const f = decodeFrame(frame);
  const back = encodeFrame(JSON.parse(JSON.stringify({ type: f.type, seq: f.seq, body: f.body })));
  return { ok: back.equals(frame), decoded: f.body[at === 24 ? 'startTime' : 'endTime'] };
}

describe('adversarial: CP56 odd values round-trip byte for byte through decode, JSON and encode', function () {
  this.timeout(60_000);
  it('hand-picked: weekday 0 and 7, summer bit, weekday bits on an invalid minute / hour / day, IV, 29 February, zero', () => {
    const cases: Array<[string, RegExp | null]> = [
      ['E8030A0C0D0C17', /^2023-12-13 12:10:01$/], // weekday 0
      ['E8030A0CED0C17', /^2023-12-13 12:10:01$/], // weekday 7 (bits 111) on day 13
      ['E8030A8C6D0C17', /^2023-12-13 12:10:01$/], // summer bit + weekday 3
      ['E8033C0C6D0C17', /^cp56:/], // minute 60 with weekday bits
      ['E8030A186D0C17', /^cp56:/], // hour 24
      ['E8030A0C600C17', /^cp56:/], // day 0 with weekday bits
      ['E8038A0C6D0C17', /^cp56:/], // IV bit on the minute
      ['5FEA3B17BD0218', /^2024-02-29 23:59:59.999$/], // Feb 29 of a leap year, weekday 5, 59.999 s
      ['000000001D0217', /^cp56:/], // 29 February 2023
      ['00000000000000', null],
      ['00000000E00000', /^cp56:/], // only weekday bits
      ['0000000080000000'.slice(0, 14), /^cp56:/], // only the summer bit
    ];
    for (const [hex, want] of cases) {
      for (const at of TIMES) {
        const { ok, decoded } = roundTrip(Buffer.from(hex, 'hex'), at);
        should(ok).equal(true, `${hex} at ${at} (decoded ${JSON.stringify(decoded)}) did not round-trip`);
        if (want === null) should(decoded).be.null();
        else should(String(decoded)).match(want, `${hex} decoded as ${JSON.stringify(decoded)}`);
      }
    }
  });

  it('10 000 random patterns (biased towards near-valid times) round-trip', () => {
    const next = rng(0x1c56);
    const bad: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const b = Buffer.alloc(7);
      for (let j = 0; j < 7; j++) b[j] = next() & 0xff;
      if (i % 2 === 0) {
        // Near-valid: small parts, then random flag bits on top.
        b[2] = (next() % 62) | (next() % 8 === 0 ? 0x80 : 0);
        b[3] = next() % 25 | (next() & 0x80);
        b[4] = ((next() % 33) & 0x1f) | ((next() % 8) << 5);
        b[5] = next() % 14;
        b[6] = next() % 130;
      }
      const at = TIMES[i & 1];
      const { ok, decoded } = roundTrip(b, at);
      if (!ok) bad.push(`${b.toString('hex')}→${JSON.stringify(decoded)}`);
    }
    should(bad.slice(0, 10)).eql([]);
  });
});
