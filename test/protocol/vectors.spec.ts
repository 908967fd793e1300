/**
 * Every frame of test/fixtures/vectors.json (real piles, official examples, other projects'
 * fixtures and simulators; docs/protocol.md §11): CRC verdicts, length refusals, lossless round trips,
 * and the values each source states about its own frame.
 */
import should from 'should';
import { checkFrameCrc, crc16Modbus, decodeFrame, DecodedFrame, encodeFrame, splitAll, YkcError } from '../../src/protocol';
import { loadVectors, Vector } from '../support/repo';

const VECTORS = loadVectors();
const label = (v: Vector, i: number): string => `#${i} ${v.type} ${v.kind} (${v.source.split(/[:@]/)[0]})`;
const hexUp = (b: Buffer): string => b.toString('hex').toUpperCase();
const isHiFirst = (v: Vector): boolean => !!v.crc_note && /high byte first/.test(v.crc_note);
const crcAccepted = (v: Vector): boolean => v.crc_ok || isHiFirst(v);

/** Replaces the length byte (for spec examples whose length byte is wrong, docs/protocol.md §10 #7). */
function withLength(hex: string, bodyLen: number): string {
  return hex.slice(0, 2) + (bodyLen + 4).toString(16).toUpperCase().padStart(2, '0') + hex.slice(4);
}

function thrown(fn: () => unknown): YkcError {
  try {
    fn();
  } catch (e) {
    should(e).be.instanceOf(YkcError);
    return e as YkcError;
  }
  throw new Error('expected a YkcError, nothing was thrown');
}

/** Decodes an official example whose CRC is wrong (most are, §10 #7): values still come from the bytes. */
const loose = (hex: string): DecodedFrame => decodeFrame(hex, { verifyCrc: false });

/**
 * Checks of the values a source states in `decoded`, keyed by "type kind". Where docs/protocol.md §10
 * says the document's annotation is wrong, the check follows the bytes and says so.
 */
const DECODED_CHECKS: Record<string, (v: Vector) => void> = {
  '0x01 spec-example': (v) => {
    should(loose(v.hex).body).containDeep({
      pileNo: '55031412782305',
      pileType: 0,
      pileTypeName: 'DC',
      gunCount: 2,
      protocolVersion: 1.5,
      // The annotation writes "v4.1.50"; the bytes are 56 34 2E 31 2E 35 30 = "V4.1.50".
      firmwareVersion: 'V4.1.50',
      networkType: 1,
      iccid: '01010101010101010101',
      carrier: 4,
    });
  },
  '0x02 spec-example': (v) => should(decodeFrame(v.hex).body).deepEqual({ pileNo: '55031412782305', result: 0, resultName: 'accepted' }),
  '0x03 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '32010200000001', gunNo: 1, gunState: 0, gunStateName: 'normal' }),
  '0x04 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '55031412782305', gunNo: 1, reply: 0 }),
  '0x05 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '32010200000001', modelCode: '0001' }),
  '0x06 spec-example': (v) => should(decodeFrame(v.hex).body).deepEqual({ pileNo: '55031412782305', modelCode: '0000', result: 0, resultName: 'same' }),
  '0x09 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '55031412782305' }),
  '0x0A spec-example': (v) => {
    const b = loose(v.hex).body;
    should(b).containDeep({ pileNo: '55031412782305', modelCode: '0100', lossRatio: 0, slots: new Array(48).fill(0) });
    // §10 #6: the service-rate bytes 9C 40 00 00 read little-endian are 16540 → 0.16540 yuan/kWh
    // (the 0x58 example annotates them 0.4). Electricity rates follow §7's worked model, peak is 3.0.
    should(b).containDeep({ sharpElecPrice: 2, sharpServicePrice: 0.1654, peakElecPrice: 3, flatElecPrice: 4, valleyElecPrice: 5 });
  },
  '0x12 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '32010200000001', gunNo: 1 }),
  '0x13 spec-example': (v) => {
    const b = loose(v.hex).body;
    should(b).containDeep({
      tradeNo: '00000000000000000000000000000000',
      pileNo: '55031412782305',
      gunNo: 1,
      gunState: 0,
      gunStateName: 'offline',
      gunHolstered: 1,
      gunPlugged: 1,
      outputCurrent: 0,
      chargedEnergy: 0,
      chargedAmount: 0,
      hardwareFault: 0,
      hardwareFaults: [],
    });
    // §10 #13: the annotation says voltage 0, but the bytes are 02 00 → 2 × 0.1 V.
    should(b.outputVoltage).equal(0.2);
    // §10 #13: the temperature byte is 00, annotated "10"; 0 in standby means "n/a".
    should(b.gunTemp).be.null();
  },
  '0x15 test-fixture': (v) => should(loose(v.hex).body).containDeep({ vin: 'WDCDF7BE1GA801178', batteryMaker: 'BYDB' }),
  '0x31 spec-example': (v) =>
    should(loose(v.hex).body).containDeep({
      pileNo: '32010200000001',
      gunNo: 1,
      startMethod: 1,
      startMethodName: 'card',
      passwordRequired: 0,
      physicalCardNo: '00000000D14B0A54',
      vin: '',
    }),
  '0x32 spec-example': (v) =>
    should(decodeFrame(v.hex).body).containDeep({
      tradeNo: '32010200000001012018061219595785',
      gunNo: 1,
      logicalCardNo: '0000000000000000',
      balance: 0,
      result: 0,
      resultName: 'refused',
      failReason: 1,
    }),
  '0x33 spec-example': (v) => should(loose(v.hex).body).containDeep({ gunNo: 1, result: 1, resultName: 'started', failReason: 0 }),
  '0x34 spec-example': (v) =>
    should(loose(v.hex).body).deepEqual({
      tradeNo: '55031412782305012018061914444680',
      pileNo: '55031412782305',
      gunNo: 1,
      logicalCardNo: '0000001000000573',
      physicalCardNo: '00000000D14B0A54',
      balance: 1000,
    }),
  '0x35 spec-example': (v) => should(loose(v.hex).body).containDeep({ gunNo: 1, result: 1, failReason: 0 }),
  '0x36 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '32010200000001', gunNo: 1 }),
  '0x3B spec-example': (v) => {
    const b = loose(v.hex).body;
    should(b).containDeep({
      tradeNo: '55031412782305012018061910262392',
      gunNo: 1,
      startTime: '2020-03-16 17:14:47',
      endTime: '2020-03-16 17:14:47',
      sharpPrice: 1.3,
      peakPrice: 1.3,
      flatPrice: 1.3,
      valleyPrice: 1.3,
      totalEnergy: 0,
      tradeTime: '2020-03-16 17:14:47',
      stopReason: 0,
      stopReasonName: 'none',
      physicalCardNo: '00000000D14B0A54',
    });
    // §10 #5: annotated "app start", but the table says 0x02 = card; we follow the table.
    should(b).containDeep({ startType: 2, startTypeName: 'card' });
  },
  '0x40 spec-example': (v) => should(loose(v.hex).body).deepEqual({ tradeNo: '55031412782305012018061910262392', result: 0, resultName: 'received' }),
  '0x41 spec-example': (v) => {
    // Length byte 0x13 is one short (§10 #7); with the right one the body reads as the table says.
    should(loose(withLength(v.hex, 16)).body).deepEqual({ pileNo: '32010200000001', physicalCardNo: '00000000D14B0A54', result: 1, resultName: 'pile number wrong' });
  },
  '0x42 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '32010200000001', gunNo: 1, physicalCardNo: '00000000D14B0A54', balance: 0 }),
  '0x43 spec-example': (v) => should(loose(v.hex).body).containDeep({ result: 1, resultName: 'stored', failReason: 0 }),
  '0x44 spec-example': (v) => {
    // Length byte 0x2C is wrong (§10 #7): the example holds one card (body 24).
    should(loose(withLength(v.hex, 24)).body).deepEqual({
      pileNo: '32010200000001',
      cards: [{ logicalCardNo: '0000000010000001', physicalCardNo: '00000000D14B0A54' }],
    });
  },
  '0x45 spec-example': (v) => {
    // §10 #8: the example carries 9 bytes per card, the table 10. Even with its length byte
    // repaired the body (25 = 7 + 18) is not 7 + 10n: refused, never decoded wrongly.
    should(thrown(() => loose(withLength(v.hex, 25))).code).equal('YKC_LENGTH');
  },
  '0x46 spec-example': (v) => should(loose(withLength(v.hex, 16)).body).deepEqual({ pileNo: '32010200000001', cards: [{ physicalCardNo: '00000000D14B0A54' }] }),
  '0x47 spec-example': (v) => {
    // Length byte repaired (§10 #7). The annotation writes card 2 as "540A4CE1"; the bytes are
    // E1 4C 0A 54 and physical cards are opaque bytes in reading order (§3.1, §10 #11).
    should(loose(withLength(v.hex, 25)).body).deepEqual({
      pileNo: '32010200000001',
      cards: [
        { physicalCardNo: '00000000D14B0A54', result: 1, resultName: 'stored' },
        { physicalCardNo: '00000000E14C0A54', result: 0, resultName: 'not stored' },
      ],
    });
  },
  '0x48 spec-example': (v) => should(loose(withLength(v.hex, 16)).body).deepEqual({ pileNo: '32010200000001', cards: [{ physicalCardNo: '00000000D14B0A54' }] }),
  '0x51 spec-example': (v) => should(loose(v.hex).body).containDeep({ result: 1, resultName: 'ok' }),
  '0x52 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '32010200000001', workState: 1, workStateName: 'disabled', maxPowerPercent: 0 }),
  '0x55 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '55031412782305', time: '2020-03-16 17:14:47' }),
  '0x56 spec-example': (v) => should(loose(v.hex).body).deepEqual({ pileNo: '55031412782305', time: '2020-03-16 17:14:47' }),
  '0x57 spec-example': (v) => should(loose(v.hex).body).containDeep({ result: 1, resultName: 'ok' }),
  '0x58 spec-example': (v) => {
    // §10 #6: the zero run is printed one byte too long (body 91). Drop one zero of the slots and
    // check the rates against the bytes, not the annotations: peak E0 93 04 00 is 3.00000 (annotated
    // 2) and the service bytes 9C 40 00 00 are 0.16540 (annotated 0.4).
    const fixed = v.hex.slice(0, 12 + 2 * 42) + v.hex.slice(12 + 2 * 43);
    const b = loose(fixed).body;
    should(b).containDeep({ modelCode: '0100', sharpElecPrice: 2, sharpServicePrice: 0.1654, peakElecPrice: 3, flatElecPrice: 4, valleyElecPrice: 5 });
  },
  '0x61 spec-example': (v) => {
    // §10 #7 / vector note: the example omits the lock-state byte (body 15 of 16): refused.
    should(thrown(() => loose(withLength(v.hex, 15))).code).equal('YKC_LENGTH');
  },
  '0x62 spec-example': (v) => should(loose(withLength(v.hex, 13)).body).deepEqual({ pileNo: '32010200000001', gunNo: 1, action: 0x55, actionName: 'raise' }),
  '0x63 spec-example': (v) => should(loose(withLength(v.hex, 13)).body).deepEqual({ pileNo: '32010200000001', gunNo: 1, result: 0, resultName: 'failed' }),
  '0x91 spec-example': (v) => should(loose(v.hex).body).containDeep({ result: 1, resultName: 'ok' }),
  '0x92 spec-example': (v) => should(loose(v.hex).body).containDeep({ runWhen: 1, runWhenName: 'now' }),
  '0x93 spec-example': (v) => should(loose(v.hex).body).containDeep({ status: 1 }),
  '0x94 spec-example': (v) =>
    should(decodeFrame(v.hex).body).deepEqual({
      pileNo: '55031412782305',
      pileModel: 1,
      pileModelName: 'DC',
      pilePower: 15, // bytes 0F 00
      ftpHost: '114.55.114.174',
      ftpPort: 21, // bytes 15 00
      ftpUser: 'sr',
      ftpPassword: 'sr123',
      ftpPath: 'AC-7KW/20180131',
      runWhen: 2,
      runWhenName: 'when idle',
      timeoutMinutes: 60, // 0x3C
    }),
  '0xA1 spec-example': (v) =>
    should(loose(v.hex).body).containDeep({ gunNo: 1, startMethod: 1, physicalCardNo: '00000000D14B0A54', mainAux: 0, mainAuxName: 'main', parallelNo: '201029112801' }),
  '0xA2 spec-example': (v) => {
    // Published as the 0xA2 example with its type byte printed 0x32: as 0x32 the 6 surplus bytes
    // show up as `extra` (and strict decoding refuses them); with type 0xA2 they are the serial.
    should(loose(v.hex).body.extra).equal('201029112801');
    should(thrown(() => decodeFrame(v.hex, { verifyCrc: false, strict: true })).code).equal('YKC_LENGTH');
    const asA2 = v.hex.slice(0, 10) + 'A2' + v.hex.slice(12);
    should(loose(asA2).body).containDeep({ result: 0, resultName: 'refused', failReason: 1, parallelNo: '201029112801' });
  },
  '0xA3 spec-example': (v) => should(loose(v.hex).body).containDeep({ result: 1, failReason: 0, mainAux: 0, parallelNo: '201029112801' }),
  '0xA4 spec-example': (v) =>
    should(loose(v.hex).body).containDeep({ logicalCardNo: '0000001000000573', physicalCardNo: '00000000D14B0A54', balance: 1000, parallelNo: '201029112801' }),
};

describe('protocol: test vectors (test/fixtures/vectors.json)', () => {
  it('holds the frames docs/protocol.md §11 describes', () => {
    should(VECTORS.length).be.above(100);
    should(VECTORS.filter((v) => v.kind === 'device-capture').length).be.above(5);
  });

  VECTORS.forEach((v, i) => {
    describe(label(v, i), () => {
      const buf = Buffer.from(v.hex, 'hex');

      if (!v.length_ok) {
        it('is refused with YKC_LENGTH (its length byte disagrees with its size)', () => {
          const e = thrown(() => decodeFrame(v.hex));
          should(e.code).equal('YKC_LENGTH');
          should(e.message).match(new RegExp(`length byte ${buf[1]}`));
          should(thrown(() => decodeFrame(v.hex, { verifyCrc: false })).code).equal('YKC_LENGTH');
        });
        return;
      }

      it(`CRC verdict matches the source (crc_ok ${v.crc_ok}${isHiFirst(v) ? ', high byte first' : ''})`, () => {
        const crc = crc16Modbus(buf, 2, buf.length - 2);
        const wire = ((crc & 0xff) << 8 | crc >>> 8).toString(16).toUpperCase().padStart(4, '0');
        should(wire).equal(v.crc_expected_wire.toUpperCase());
        should(checkFrameCrc(buf, 0, buf.length)).equal(v.crc_ok ? 'lo-first' : isHiFirst(v) ? 'hi-first' : null);
        if (!crcAccepted(v)) {
          const e = thrown(() => decodeFrame(buf));
          should(e.code).equal('YKC_CRC');
          should(e.message).match(new RegExp(v.crc_expected_wire.toUpperCase()));
        }
      });

      it('a stream splitter agrees: one frame iff the CRC is accepted (and the header is possible)', () => {
        const r = splitAll(buf);
        should(r.rest).be.belowOrEqual(259);
        if (!crcAccepted(v)) {
          should(r.frames.length).equal(0);
        } else if (v.body_len_matches_spec) {
          should(r.frames.length).equal(1);
          should(hexUp(r.frames[0])).equal(v.hex.toUpperCase());
          should(r.orders[0]).equal(v.crc_ok ? 'lo-first' : 'hi-first');
        } else if (r.frames.length === 0) {
          // A body too short for its known type is an impossible header to the splitter.
          should(r.errors.map((e) => e.code)).containEql('YKC_LENGTH');
        }
      });

      if (!v.body_len_matches_spec) {
        it('does not follow its spec layout: refused with YKC_LENGTH, or its surplus shown as `extra` (strict: refused)', () => {
          const e = thrown(() => decodeFrame(buf, { verifyCrc: false, strict: true }));
          should(e.code).equal('YKC_LENGTH');
          should(e.message).match(/bytes|items/);
          let f: DecodedFrame | undefined;
          try {
            f = decodeFrame(buf, { verifyCrc: false });
          } catch (err) {
            should((err as YkcError).code).equal('YKC_LENGTH');
          }
          if (f) should(f.body.extra).be.a.String().and.not.be.empty();
        });
        return;
      }

      it('decodes, and re-encodes to identical bytes (sequence, flag, padding, CRC order)', () => {
        const f = crcAccepted(v) ? decodeFrame(buf) : loose(v.hex);
        should(f.type).equal(buf[5]);
        should(f.seq).equal(buf[2] | (buf[3] << 8));
        should(f.encrypted).equal(buf[4] === 1);
        // Only the 0xA2 example printed with type byte 0x32 carries surplus bytes (checked below).
        if (parseInt(v.type, 16) === buf[5]) should(f.body).not.have.property('extra');
        const again = hexUp(encodeFrame(f));
        if (crcAccepted(v)) {
          should(f.crcOrder).equal(v.crc_ok ? 'lo-first' : 'hi-first');
          should(again).equal(v.hex.toUpperCase());
        } else {
          // A broken CRC cannot be reproduced: everything up to it can, and the new CRC is right.
          should(f.crcValid).be.false();
          should(again.slice(0, -4)).equal(v.hex.toUpperCase().slice(0, -4));
          should(again.slice(-4)).equal(v.crc_expected_wire.toUpperCase());
        }
        // The decoded object survives JSON (what flows and the CLI carry) with the same result.
        should(hexUp(encodeFrame(JSON.parse(JSON.stringify(f))))).equal(again);
      });
    });
  });

  describe('values stated by the sources (`decoded`)', () => {
    VECTORS.forEach((v, i) => {
      if (!v.decoded) return;
      it(`${label(v, i)}: ${JSON.stringify(v.decoded).slice(0, 90)}`, () => {
        const check = DECODED_CHECKS[`${v.type} ${v.kind}`];
        if (!check) throw new Error(`no check written for the values of ${v.type} ${v.kind}`);
        check(v);
      });
    });

    it('every check has its vector', () => {
      const keys = new Set(VECTORS.filter((v) => v.decoded).map((v) => `${v.type} ${v.kind}`));
      should(Object.keys(DECODED_CHECKS).filter((k) => !keys.has(k))).deepEqual([]);
    });
  });
});
