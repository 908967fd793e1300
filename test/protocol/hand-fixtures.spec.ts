/**
 * One or more hand-checked frames per frame type. The bytes are written from the docs/protocol.md
 * tables (see each fixture's `source`), framed by hand with an independent bit-by-bit CRC, and
 * never produced by our encoder; the decoded body must match field by field and re-encode to the
 * same bytes.
 */
import should from 'should';
import { ALL_FRAMES, crc16Modbus, decodeBodyWith, decodeFrame, encodeFrame, schemaForType, YkcError } from '../../src/protocol';
import { operationFixtures } from './hand/operations';
import { realtimeFixtures } from './hand/realtime';
import { registrationFixtures } from './hand/registration';
import { settingFixtures } from './hand/settings';
import { crcBitwise, handFrame, HandFixture, hexOf, prng } from './hand/support';

const FIXTURES: HandFixture[] = [...registrationFixtures, ...realtimeFixtures, ...operationFixtures, ...settingFixtures];

/** docs/protocol.md §4 catalogue: body length, or [fixed, per item] for the card lists; 0x3D, 0x3F and 0x39 from §9 (the last two inferred). */
const BODY_LENGTH: Record<number, number | [number, number]> = {
  0x01: 30, 0x02: 8, 0x03: 9, 0x04: 9, 0x05: 9, 0x06: 10, 0x09: 7, 0x0a: 90,
  0x12: 8, 0x13: 60, 0x15: 73, 0x17: 45, 0x19: 39, 0x1b: 32, 0x1d: 28, 0x21: 28, 0x23: 44, 0x25: 31,
  0x31: 51, 0x32: 38, 0x33: 26, 0x34: 44, 0x35: 10, 0x36: 8, 0x39: 156, 0x3b: 158, 0x3d: 201, 0x3f: 156,
  0x40: 17, 0x41: 16, 0x42: 20, 0x43: 9, 0x44: [8, 16], 0x45: [7, 10], 0x46: [8, 8], 0x47: [7, 9], 0x48: [8, 8],
  0x51: 8, 0x52: 9, 0x55: 14, 0x56: 14, 0x57: 8, 0x58: 90, 0x61: 16, 0x62: 13, 0x63: 13,
  0x91: 8, 0x92: 8, 0x93: 8, 0x94: 94, 0xa1: 58, 0xa2: 44, 0xa3: 33, 0xa4: 50,
};

const hx = (t: number): string => '0x' + t.toString(16).toUpperCase().padStart(2, '0');

describe('protocol: hand-checked frames (docs/protocol.md tables, independent CRC)', () => {
  it('the independent CRC and the codec CRC agree: check value and 2000 random inputs', () => {
    should(crcBitwise(Buffer.from('123456789'))).equal(0x4b37);
    should(crc16Modbus(Buffer.from('123456789'))).equal(0x4b37);
    // docs/protocol.md §2.1: the official 0x02 example's CRC over the 12 covered bytes is 0x4CDA.
    should(crcBitwise(Buffer.from('0000000255031412782305' + '00', 'hex'))).equal(0x4cda);
    const rnd = prng(7);
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(Math.floor(rnd() * 260));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(rnd() * 256);
      should(crc16Modbus(b)).equal(crcBitwise(b));
    }
  });

  it('covers all 51 frame types of §4 plus 0x3D, 0x3F and 0x39, each with at least one fixture', () => {
    const spec = Object.keys(BODY_LENGTH).map(Number).sort((a, b) => a - b);
    should(spec.length).equal(54);
    should(ALL_FRAMES.map((s) => s.type)).deepEqual(spec);
    const covered = new Set(FIXTURES.map((f) => f.type));
    should(spec.filter((t) => !covered.has(t)).map(hx)).deepEqual([]);
    should(FIXTURES.some((f) => f.expect.variant === '5-tier')).be.true();
  });

  it('schemas follow the odd-up / even-down rule of §2 and name their replies both ways', () => {
    for (const s of ALL_FRAMES) {
      should(s.dir).equal(s.type % 2 ? 'up' : 'down', `${hx(s.type)} direction`);
      if (s.reply !== undefined) should(schemaForType(s.reply)).be.ok();
      if (s.answers !== undefined) should(schemaForType(s.answers)?.reply).equal(s.type, `${hx(s.answers)} → ${hx(s.type)}`);
      should(s.zh).match(/[\u4e00-\u9fff]/);
      should(s.en).be.a.String().and.not.be.empty();
    }
  });

  for (const fx of FIXTURES) {
    describe(`${hx(fx.type)} ${fx.title}`, () => {
      const hex = handFrame(fx.type, fx.body, { seq: fx.seq });
      const bodyLen = hexOf(fx.body).length / 2;

      it(`body length agrees with the §4 catalogue (${fx.source})`, () => {
        const spec = BODY_LENGTH[fx.type];
        if (Array.isArray(spec)) {
          should((bodyLen - spec[0]) % spec[1]).equal(0);
          should((bodyLen - spec[0]) / spec[1]).equal((fx.expect.cards as unknown[]).length);
        } else if (fx.expect.variant === '5-tier') {
          should(bodyLen).equal(spec + 16);
        } else {
          should(bodyLen).equal(spec + (typeof fx.expect.extra === 'string' ? fx.expect.extra.length / 2 : 0));
        }
      });

      it('decodes field by field', () => {
        const f = decodeFrame(hex);
        should(f.type).equal(fx.type);
        should(f.name).equal(fx.name);
        should(f.encrypted).be.false();
        should(f.crcOrder).equal('lo-first');
        should(f.seq).equal(parseInt((fx.seq ?? '0100').slice(2, 4) + (fx.seq ?? '0100').slice(0, 2), 16));
        should(f).not.have.property('crcValid');
        should(f.body).deepEqual(fx.expect);
        // The compiled decoder gives exactly what the field-by-field reference gives, key order included.
        const buf = Buffer.from(hex, 'hex');
        const reference = decodeBodyWith(schemaForType(fx.type)!, buf, 6, buf.length - 8, false, true);
        should(JSON.stringify(f.body)).equal(JSON.stringify(reference));
      });

      it('encode(decode(bytes)) gives the same bytes, and so does encoding the expected object', () => {
        const f = decodeFrame(hex);
        should(encodeFrame(f).toString('hex').toUpperCase()).equal(hex);
        const fromExpect = encodeFrame({ type: fx.type, seq: f.seq, body: JSON.parse(JSON.stringify(fx.expect)) });
        should(fromExpect.toString('hex').toUpperCase()).equal(hex);
      });

      it('also decodes from a Buffer, and with the CRC sent high byte first', () => {
        const hi = handFrame(fx.type, fx.body, { seq: fx.seq, hiFirst: true });
        const f = decodeFrame(Buffer.from(hi, 'hex'));
        // A CRC whose two bytes are equal reads the same both ways; that is then lo-first.
        const crcSym = hi.slice(-4, -2) === hi.slice(-2);
        should(f.crcOrder).equal(crcSym ? 'lo-first' : 'hi-first');
        should(f.body).deepEqual(fx.expect);
        should(encodeFrame(f).toString('hex').toUpperCase()).equal(hi);
      });
    });
  }

  it('a vendor byte after a fixed layout is kept as `extra`; strict decoding refuses it with YKC_LENGTH', () => {
    const fx = registrationFixtures.find((f) => f.expect.extra !== undefined)!;
    const hex = handFrame(fx.type, fx.body);
    should(decodeFrame(hex).body.extra).equal('55');
    should(() => decodeFrame(hex, { strict: true }))
      .throw(YkcError)
      .and.throw({ code: 'YKC_LENGTH' });
    try {
      decodeFrame(hex, { strict: true });
    } catch (e) {
      should((e as Error).message).match(/0x03 heartbeat/).and.match(/10 bytes/).and.match(/9/);
    }
  });

  it('a body one byte short of its layout is refused with YKC_LENGTH naming the frame', () => {
    const hex = handFrame(0x13, '00'.repeat(59));
    should(() => decodeFrame(hex)).throw({ code: 'YKC_LENGTH', message: /0x13 realtime.*59.*60/ });
  });

  it('an encrypted body (flag 0x01) stays raw hex and round-trips', () => {
    const hex = handFrame(0x13, '0123456789ABCDEF', { flag: 1 });
    const f = decodeFrame(hex);
    should(f).containDeep({ type: 0x13, name: 'realtime', encrypted: true, body: { raw: '0123456789ABCDEF' } });
    should(encodeFrame(f).toString('hex').toUpperCase()).equal(hex);
  });

  it('an unknown frame type decodes to a raw body and round-trips', () => {
    const hex = handFrame(0x76, '3201020000000101');
    const f = decodeFrame(hex);
    should(f).containDeep({ type: 0x76, name: 'unknown', encrypted: false, body: { raw: '3201020000000101' } });
    should(encodeFrame(f).toString('hex').toUpperCase()).equal(hex);
  });

  it('an odd encryption flag value (0x02) is kept in `encryptFlag` and round-trips', () => {
    const hex = handFrame(0x09, '32010200000001', { flag: 2 });
    const f = decodeFrame(hex);
    should(f.encryptFlag).equal(2);
    should(f.encrypted).be.false();
    should(f.body).deepEqual({ pileNo: '32010200000001' });
    should(encodeFrame(f).toString('hex').toUpperCase()).equal(hex);
  });

  it('non-BCD bytes in BCD fields decode to hex digits and still round-trip', () => {
    const hex = handFrame(0x03, ['32 01 02 0A 00 00 01', '1F', '00']);
    const f = decodeFrame(hex);
    should(f.body).deepEqual({ pileNo: '3201020A000001', gunNo: '1F', gunState: 0, gunStateName: 'normal' });
    should(encodeFrame(f).toString('hex').toUpperCase()).equal(hex);
  });
});
