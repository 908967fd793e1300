/** Encoding refuses what does not fit the wire, with a stable code and a message naming frame, field and value. */
import should from 'should';
import { decodeFrame, encodeFrame, FrameInput, YkcError } from '../../src/protocol';

const PILE = '32010200000001';
const TARIFF = {
  pileNo: PILE,
  modelCode: '0100',
  sharpElecPrice: 1.2,
  sharpServicePrice: 0.4,
  peakElecPrice: 1,
  peakServicePrice: 0.4,
  flatElecPrice: 0.7,
  flatServicePrice: 0.4,
  valleyElecPrice: 0.3,
  valleyServicePrice: 0.4,
  lossRatio: 0,
  slots: new Array(48).fill(2),
};

function err(f: FrameInput): YkcError {
  try {
    encodeFrame(f);
  } catch (e) {
    should(e).be.instanceOf(YkcError);
    return e as YkcError;
  }
  throw new Error(`encoding ${JSON.stringify(f).slice(0, 80)} did not fail`);
}

/** The error has the code, and its message names the frame, the field and the offending value. */
function expectFieldError(f: FrameInput, code: string, frame: RegExp, field: string, value: string): YkcError {
  const e = err(f);
  should(e.code).equal(code);
  should(e.message).match(frame);
  should(e.message).containEql(field);
  should(e.message).containEql(value);
  should(e.toJSON()).have.properties({ code, message: e.message });
  return e;
}

describe('protocol: encoder validation', () => {
  it('a 15-digit pile number → YKC_FIELD naming frame, field and value', () => {
    const e = expectFieldError({ type: 0x01, body: { pileNo: '320102000000011' } }, 'YKC_FIELD', /0x01 login/, 'pileNo', '320102000000011');
    should(e.details).have.properties({ field: 'pileNo', value: '320102000000011' });
    should(e.message).match(/more than 14 digits/);
  });

  it('a pile number with a letter → YKC_FIELD', () => {
    expectFieldError({ type: 0x03, body: { pileNo: '3201020000000X', gunNo: 1, gunState: 0 } }, 'YKC_FIELD', /0x03 heartbeat/, 'pileNo', '3201020000000X');
  });

  it('a shorter pile number → YKC_FIELD (padded it would name another pile); other BCD numbers are left-padded', () => {
    for (const pileNo of ['1', '3201020000000', 3201020000000]) {
      const e = expectFieldError({ type: 0x09, body: { pileNo } }, 'YKC_FIELD', /0x09 billingModelRequest/, 'pileNo', String(pileNo));
      should(e.message).match(/exactly 14 digits/);
    }
    const b = encodeFrame({ type: 0x40, body: { tradeNo: '123', result: 0 } });
    should(b.subarray(6, 22).toString('hex')).equal('123'.padStart(32, '0'));
  });

  it('a body key no field of the frame knows → YKC_FIELD naming it; decoded bodies (…Name, flags, reserved, extra, variant) still encode', () => {
    expectFieldError({ type: 0x36, body: { pileNo: PILE, gunNo: 1, gun: 2 } }, 'YKC_FIELD', /0x36 remoteStop/, 'gun', '2');
    expectFieldError({ type: 0x44, body: { pileNo: PILE, cards: [{ logicalCardNo: '1', physicalCardNo: '1', pin: '1234' }] } }, 'YKC_FIELD', /0x44 cardSync/, 'cards[0].pin', '1234');
    // constructor / __proto__ as own keys are unknown too.
    expectFieldError({ type: 0x36, body: JSON.parse(`{"pileNo":"${PILE}","gunNo":1,"constructor":1}`) }, 'YKC_FIELD', /0x36/, 'constructor', '1');
    // A decoded body with every optional key encodes back.
    const f = decodeFrame(encodeFrame({ type: 0x56, seq: 1, body: { pileNo: PILE, time: '2024-01-01 00:00:00', timeWeekday: 1, timeSummerTime: true } }));
    should(Object.keys(f.body)).containDeep(['timeWeekday', 'timeSummerTime']);
    should(encodeFrame(f).length).equal(22);
  });

  it('a price with 6 decimals → YKC_FIELD (prices have 5)', () => {
    for (const price of [1.000001, 1.234561, 42949.672951, 2.00000000001]) {
      const e = expectFieldError({ type: 0x58, body: { ...TARIFF, sharpElecPrice: price } }, 'YKC_FIELD', /0x58 tariffSet/, 'sharpElecPrice', String(price));
      should(e.message).match(/more than 5 decimals/);
    }
  });

  it('float noise of an exact decimal is not "more decimals": 0.1 + 0.2 encodes as 0.3', () => {
    const f = decodeFrame(encodeFrame({ type: 0x58, body: { ...TARIFF, sharpElecPrice: 0.1 + 0.2, flatElecPrice: 1.1 * 3 } }));
    should(f.body.sharpElecPrice).equal(0.3);
    should(f.body.flatElecPrice).equal(3.3);
  });

  it('energy with 5 decimals on a 4-decimal field → YKC_FIELD, even for large meter readings', () => {
    const rec = decodeFrame(
      '68A28001003B18220000000155021673797553635328182200000001550208CF1C16170A19D0841517170A19400D0300000000000000000000000000400D0300000000000000000000000000400D0300000000000000000000000000A85B01007375000000000000876800000A000000007D75000000737500000000000087680000000000000000000000000000000000000001D0841517170A19450000000000000000A5B3',
    );
    expectFieldError({ ...rec, body: { ...rec.body, meterEnd: 12345678.12345 } }, 'YKC_FIELD', /0x3B transactionRecord/, 'meterEnd', '12345678.12345');
    // The largest 5-byte reading fits, one unit more does not.
    should(decodeFrame(encodeFrame({ ...rec, body: { ...rec.body, meterEnd: 109951162.7775 } })).body.meterEnd).equal(109951162.7775);
    expectFieldError({ ...rec, body: { ...rec.body, meterEnd: 109951162.7776 } }, 'YKC_FIELD', /0x3B/, 'meterEnd', '109951162.7776');
  });

  it('a price that does not fit 4 bytes → YKC_FIELD "out of range"', () => {
    const e = expectFieldError({ type: 0x58, body: { ...TARIFF, peakElecPrice: 42949.67296 } }, 'YKC_FIELD', /0x58/, 'peakElecPrice', '42949.67296');
    should(e.message).match(/out of range 0…42949\.67295/);
  });

  it('a negative value → YKC_FIELD "out of range"', () => {
    expectFieldError(
      { type: 0x34, body: { tradeNo: '1', pileNo: PILE, gunNo: 1, logicalCardNo: '1', physicalCardNo: 'D14B0A54', balance: -1 } },
      'YKC_FIELD',
      /0x34 remoteStart/,
      'balance',
      '-1',
    );
  });

  it('offsets bound the range: BMS current below −400 A, temperature below −50 °C → YKC_FIELD', () => {
    const ids = { tradeNo: '32010200000001012510101106330001', pileNo: PILE, gunNo: 1 };
    const demand = {
      ...ids,
      demandVoltage: 700.8,
      demandCurrent: -343.2,
      chargeMode: 2,
      measuredVoltage: 661.9,
      measuredCurrent: -338.9,
      maxCellVoltage: 3.45,
      maxCellGroup: 5,
      soc: 95,
      remainingMinutes: 6,
      chargerOutputVoltage: 664.1,
      chargerOutputCurrent: -343.4,
      chargingMinutes: 48,
    };
    should(decodeFrame(encodeFrame({ type: 0x23, body: demand })).body).containDeep(demand);
    expectFieldError({ type: 0x23, body: { ...demand, demandCurrent: -400.1 } }, 'YKC_FIELD', /0x23 bmsDemand/, 'demandCurrent', '-400.1');
    expectFieldError({ type: 0x23, body: { ...demand, maxCellVoltage: 40.96 } }, 'YKC_FIELD', /0x23/, 'maxCellVoltage', '40.96');
    expectFieldError({ type: 0x23, body: { ...demand, maxCellGroup: 16 } }, 'YKC_FIELD', /0x23/, 'maxCellGroup', '16');
    expectFieldError({ type: 0x19, body: { ...ids, finalSoc: 1, minCellVoltage: 3, maxCellVoltage: 3, minBatteryTemp: -51, maxBatteryTemp: 20, chargingMinutes: 1, outputEnergy: 1, chargerNo: 1 } }, 'YKC_FIELD', /0x19 chargeEnd/, 'minBatteryTemp', '-51');
  });

  it('too many offline cards → YKC_FIELD (0x44 ≤ 15, 0x46 ≤ 24, 0x48 ≤ 26) or YKC_LENGTH (frame full)', () => {
    const syncCard = { logicalCardNo: '10000001', physicalCardNo: 'D14B0A54' };
    const card = { physicalCardNo: 'D14B0A54' };
    should(encodeFrame({ type: 0x44, body: { pileNo: PILE, cards: new Array(15).fill(syncCard) } }).length).equal(8 + 8 + 15 * 16);
    expectFieldError({ type: 0x44, body: { pileNo: PILE, cards: new Array(16).fill(syncCard) } }, 'YKC_FIELD', /0x44 cardSync/, 'cards', '16');
    should(encodeFrame({ type: 0x46, body: { pileNo: PILE, cards: new Array(24).fill(card) } }).length).equal(8 + 8 + 24 * 8);
    expectFieldError({ type: 0x46, body: { pileNo: PILE, cards: new Array(25).fill(card) } }, 'YKC_FIELD', /0x46 cardClear/, 'cards', '25');
    expectFieldError({ type: 0x48, body: { pileNo: PILE, cards: new Array(27).fill(card) } }, 'YKC_FIELD', /0x48 cardQuery/, 'cards', '27');
    // Replies have no count byte: only the frame size limits them.
    const e = err({ type: 0x45, body: { pileNo: PILE, cards: new Array(25).fill({ physicalCardNo: '1', result: 1, failReason: 0 }) } });
    should(e.code).equal('YKC_LENGTH');
    should(e.message).match(/0x45.*257.*251/);
  });

  it('cards must be an array of objects → YKC_FIELD', () => {
    expectFieldError({ type: 0x48, body: { pileNo: PILE, cards: 'D14B0A54' } }, 'YKC_FIELD', /0x48/, 'cards', 'D14B0A54');
    expectFieldError({ type: 0x48, body: { pileNo: PILE, cards: [42] } }, 'YKC_FIELD', /0x48/, 'cards[0]', '42');
    expectFieldError({ type: 0x48, body: { pileNo: PILE, cards: [{ physicalCardNo: 'XYZ' }] } }, 'YKC_FIELD', /0x48 cardQuery cards\[0\]/, 'physicalCardNo', 'XYZ');
  });

  it('a 47-slot tariff → YKC_FIELD naming slots', () => {
    const e = expectFieldError({ type: 0x58, body: { ...TARIFF, slots: new Array(47).fill(0) } }, 'YKC_FIELD', /0x58 tariffSet/, 'slots', '47');
    should(e.message).match(/48/);
    expectFieldError({ type: 0x0a, body: { ...TARIFF, slots: [...new Array(47).fill(0), 'x'] } }, 'YKC_FIELD', /0x0A billingModel/, 'slots[47]', '"x"');
  });

  it('an unknown frame name → YKC_UNKNOWN_TYPE naming it', () => {
    const e = err({ name: 'chargeNow', body: {} });
    should(e.code).equal('YKC_UNKNOWN_TYPE');
    should(e.message).containEql('chargeNow');
    const e2 = err({ type: 'chargeNow', body: {} });
    should(e2.code).equal('YKC_UNKNOWN_TYPE');
    should(e2.message).containEql('chargeNow');
  });

  it('an unknown type number without body.raw → YKC_UNKNOWN_TYPE; with body.raw it is sent as is', () => {
    const e = err({ type: 0x76, body: { pileNo: PILE } });
    should(e.code).equal('YKC_UNKNOWN_TYPE');
    should(e.message).match(/0x76/);
    should(encodeFrame({ type: 0x76, body: { raw: 'ABCD' } }).toString('hex').toUpperCase()).match(/^680600000076ABCD[0-9A-F]{4}$/);
    should(err({ type: 300, body: {} }).code).equal('YKC_UNKNOWN_TYPE');
  });

  it('a frame may be named by type number, "0x.." string, decimal string or name', () => {
    const a = encodeFrame({ type: 0x09, body: { pileNo: PILE } });
    should(encodeFrame({ type: '0x09', body: { pileNo: PILE } })).deepEqual(a);
    should(encodeFrame({ type: '9', body: { pileNo: PILE } })).deepEqual(a);
    should(encodeFrame({ type: 'billingModelRequest', body: { pileNo: PILE } })).deepEqual(a);
    should(encodeFrame({ name: 'billingModelRequest', body: { pileNo: PILE } })).deepEqual(a);
  });

  it('seq outside 0–65535 → YKC_FIELD; a non-object frame or body → YKC_INPUT', () => {
    should(err({ type: 0x09, seq: 65536, body: { pileNo: PILE } }).code).equal('YKC_FIELD');
    should(err({ type: 0x09, seq: -1, body: { pileNo: PILE } }).code).equal('YKC_FIELD');
    should(err(null as unknown as FrameInput).code).equal('YKC_INPUT');
    should(err({ type: 0x09, body: [] as unknown as Record<string, unknown> }).code).equal('YKC_INPUT');
  });

  it('gun numbers: BCD 1–99 (10 → 0x10), BIN in 0x61–0x63 (10 → 0x0A); 100 → YKC_FIELD', () => {
    should(encodeFrame({ type: 0x12, body: { pileNo: PILE, gunNo: 10 } })[13]).equal(0x10);
    should(encodeFrame({ type: 0x62, body: { pileNo: PILE, gunNo: 10, action: 0x55 } })[13]).equal(0x0a);
    expectFieldError({ type: 0x12, body: { pileNo: PILE, gunNo: 100 } }, 'YKC_FIELD', /0x12 readRealtime/, 'gunNo', '100');
    expectFieldError({ type: 0x12, body: { pileNo: PILE } }, 'YKC_FIELD', /0x12/, 'gunNo', 'undefined');
  });

  it('required numbers, text width, enumeration names, bit fields and times are checked', () => {
    expectFieldError({ type: 0x03, body: { pileNo: PILE, gunNo: 1 } }, 'YKC_FIELD', /0x03/, 'gunState', 'undefined');
    expectFieldError({ type: 0x03, body: { pileNo: PILE, gunNo: 1, gunState: 'broken' } }, 'YKC_FIELD', /0x03/, 'gunState', 'broken');
    should(encodeFrame({ type: 0x03, body: { pileNo: PILE, gunNo: 1, gunState: 'fault' } })[14]).equal(1);
    const login = { pileNo: PILE, pileType: 0, gunCount: 1, protocolVersion: 1.5, firmwareVersion: 'V4.1.50', networkType: 0, iccid: '0', carrier: 0 };
    expectFieldError({ type: 0x01, body: { ...login, firmwareVersion: 'V4.1.50-beta' } }, 'YKC_FIELD', /0x01 login/, 'firmwareVersion', 'V4.1.50-beta');
    expectFieldError({ type: 0x01, body: { ...login, protocolVersion: 1.55 } }, 'YKC_FIELD', /0x01/, 'protocolVersion', '1.55');
    const abort = { tradeNo: '1', pileNo: PILE, gunNo: 1, stopReason: { socReached: 4 }, faultReason: 0, errorReason: 0 };
    expectFieldError({ type: 0x1d, body: abort }, 'YKC_FIELD', /0x1D bmsAbort/, 'stopReason.socReached', '4');
    expectFieldError({ type: 0x56, body: { pileNo: PILE, time: '2020-02-30 10:00:00' } }, 'YKC_FIELD', /0x56 timeSync/, 'time', '2020-02-30');
    expectFieldError({ type: 0x56, body: { pileNo: PILE, time: 'cp56:1234' } }, 'YKC_FIELD', /0x56/, 'time', 'cp56:1234');
    const realtime = {
      tradeNo: '0', pileNo: PILE, gunNo: 1, gunState: 2, gunHolstered: 1, gunPlugged: 0, outputVoltage: 0, outputCurrent: 0, gunTemp: null,
      gunCableCode: '', soc: 0, batteryMaxTemp: null, chargingMinutes: 0, remainingMinutes: 0, chargedEnergy: 0, lossEnergy: 0, chargedAmount: 0,
    };
    should(decodeFrame(encodeFrame({ type: 0x13, body: { ...realtime, hardwareFaults: ['doorOpen', 'emergencyStop'] } })).body.hardwareFault).equal(0x1001);
    expectFieldError({ type: 0x13, body: { ...realtime, hardwareFaults: ['lightning'] } }, 'YKC_FIELD', /0x13/, 'hardwareFaults', 'lightning');
  });

  it('times: China wall time, an ISO instant with zone, a Date and epoch ms all give the same CP56 bytes', () => {
    const enc = (time: unknown) => encodeFrame({ type: 0x56, body: { pileNo: PILE, time } }).subarray(13, 20).toString('hex');
    const want = '98b70e11100314'; // 2020-03-16 17:14:47, docs/protocol.md §3.2
    should(enc('2020-03-16 17:14:47')).equal(want);
    should(enc('2020-03-16T09:14:47Z')).equal(want);
    should(enc('2020-03-16T17:14:47+08:00')).equal(want);
    should(enc(new Date('2020-03-16T09:14:47Z'))).equal(want);
    should(enc(Date.parse('2020-03-16T09:14:47Z'))).equal(want);
    should(enc(null)).equal('00000000000000');
  });

  it('the 5-tier record layout is chosen by the presence of deepValleyPrice', () => {
    const body = {
      tradeNo: '1', pileNo: PILE, gunNo: 1, startTime: null, endTime: null,
      sharpPrice: 0, sharpEnergy: 0, sharpLossEnergy: 0, sharpAmount: 0, peakPrice: 0, peakEnergy: 0, peakLossEnergy: 0, peakAmount: 0,
      flatPrice: 0, flatEnergy: 0, flatLossEnergy: 0, flatAmount: 0, valleyPrice: 0, valleyEnergy: 0, valleyLossEnergy: 0, valleyAmount: 0,
      meterStart: 0, meterEnd: 0, totalEnergy: 0, totalLossEnergy: 0, totalAmount: 0, vin: '', startType: 1, tradeTime: null, stopReason: 0x40, physicalCardNo: '',
    };
    should(encodeFrame({ type: 0x3b, body })[1]).equal(0xa2);
    const five = encodeFrame({ type: 0x3b, body: { ...body, deepValleyPrice: 0.3, deepValleyEnergy: 0, deepValleyLossEnergy: 0, deepValleyAmount: 0 } });
    should(five[1]).equal(0xb2);
    should(decodeFrame(five).body).containDeep({ variant: '5-tier', deepValleyPrice: 0.3 });
  });
});
