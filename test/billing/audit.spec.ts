import 'should';
import { decodeFrame, encodeFrame } from '../../src/protocol';
import { Tariff } from '../../src/billing/tariff';
import { billSession, MeterSample, toEpochMs } from '../../src/billing/compute';
import { auditRecord, AuditResult, billRecord, recordUnits } from '../../src/billing/audit';
import { loadVectors } from '../support/repo';
import { lambdaTariff, rng, sampleTariffBody } from './helpers';

function vectorBody(type: string, kind: string): Record<string, unknown> {
  const v = loadVectors().find((x) => x.type === type && x.kind === kind);
  if (!v) throw new Error(`no ${type} ${kind} vector`);
  return decodeFrame(v.hex).body;
}

const LEVELS = ['sharp', 'peak', 'flat', 'valley'];
const DECIMALS: Record<string, number> = { Price: 5, Energy: 4, LossEnergy: 4, Amount: 4 };
function decimalsOf(field: string): number {
  for (const [suffix, d] of Object.entries(DECIMALS)) if (field.endsWith(suffix)) return d;
  return 4;
}

/** A full 0x3B body for a session billed by the library, passed through the frame codec. */
function sessionRecord(tariff: Tariff, curve: MeterSample[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const s = billSession(tariff, { curve });
  const fmt = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
  const body = {
    tradeNo: '32010200000001012503011234560001',
    pileNo: '32010200000001',
    gunNo: 1,
    startTime: fmt(toEpochMs(curve[0].time)),
    endTime: fmt(toEpochMs(curve[curve.length - 1].time)),
    ...s.record,
    vin: 'LSVAU2180N2183294',
    startType: 1,
    tradeTime: fmt(toEpochMs(curve[curve.length - 1].time)),
    stopReason: 0x40,
    physicalCardNo: '0000000000000000',
    ...extra,
  };
  return decodeFrame(encodeFrame({ type: 0x3b, body })).body;
}

function flagged(a: AuditResult): string[] {
  return [...a.mismatches.map((m) => m.field), ...a.inconsistencies.map((i) => i.check)];
}

describe('billing/audit', () => {
  it('passes the real 0x3B record (valley 0.89000 × 3.0067 = 2.6759) with nothing to report', () => {
    const a = auditRecord(vectorBody('0x3B', 'captured (test input)'), lambdaTariff());
    a.should.eql({ ok: true, mismatches: [], inconsistencies: [], tariff: { modelCode: lambdaTariff().modelCode, since: null, source: 'given' } });
  });

  it('accepts the tariff as a decoded 0x58 body too', () => {
    auditRecord(vectorBody('0x3B', 'captured (test input)'), lambdaTariff().toBody('18220000000155') as unknown as Record<string, unknown>).ok.should.be.true();
  });

  it('catches the JCPP simulated record\'s 0.14 yuan (0.9 × 0.165 kWh is 0.1485) and its missing meter; its times (weekday bits set) are read', () => {
    const t = Tariff.fromInput({
      modelCode: 1,
      levels: [{ elec: 1, service: 0.5 }, { elec: 1, service: 0.3 }, { elec: 1, service: 0.1 }, { elec: 0.6, service: 0.3 }],
      slots: new Array(48).fill(3),
    });
    const a = auditRecord(vectorBody('0x3B', 'simulated'), t);
    a.ok.should.be.false();
    a.mismatches.should.eql([
      { field: 'valleyAmount', pile: 0.14, computed: 0.1485 },
      { field: 'totalAmount', pile: 0.14, computed: 0.1485 },
    ]);
    // The times carry the day of week (docs/protocol.md §3.2): read as times, not timeMissing.
    a.inconsistencies.map((i) => [i.check, i.severity]).should.eql([['meterMissing', 'warning']]);
  });

  it('audits a 1.7 (0x3D) record: the JCPP vector with no energy is consistent', () => {
    const t = Tariff.fromInput({ modelCode: 1, levels: [0, 1, 2, 3].map(() => ({ elec: 1, service: 0.3 })), slots: new Array(48).fill(2) });
    auditRecord(vectorBody('0x3D', 'simulated'), t).should.containEql({ ok: true, mismatches: [], inconsistencies: [] });
    const wrong = Tariff.fromInput({ modelCode: 1, levels: [0, 1, 2, 3].map(() => ({ elec: 1, service: 0.2 })), slots: new Array(48).fill(2) });
    auditRecord(vectorBody('0x3D', 'simulated'), wrong).mismatches.map((m) => m.field).should.eql(['sharpPrice', 'peakPrice', 'flatPrice', 'valleyPrice']);
  });

  it('catches every injected change to every fee field, on real and generated records (seeded)', function () {
    this.timeout(30_000); // well under 1 s normally
    const r = rng(31337);
    const t = Tariff.fromBody(sampleTariffBody());
    const records: Array<[Record<string, unknown>, Tariff]> = [[vectorBody('0x3B', 'captured (test input)'), lambdaTariff()]];
    for (let n = 0; n < 40; n++) {
      const start = toEpochMs('2025-03-01 00:00:00') + Math.floor(r() * 86_400_000);
      const curve: MeterSample[] = [{ time: start, meterUnits: Math.floor(r() * 1e9) }];
      for (let i = 0; i < 6; i++) {
        curve.push({ time: (curve[i].time as number) + Math.floor(r() * 3 * 3_600_000) + 1000, meterUnits: curve[i].meterUnits! + Math.floor(r() * 300_000) });
      }
      const rec = sessionRecord(t, curve);
      auditRecord(rec, t).should.containEql({ ok: true, mismatches: [], inconsistencies: [] });
      records.push([rec, t]);
    }
    const fields = LEVELS.flatMap((l) => Object.keys(DECIMALS).map((s) => l + s)).concat(['meterStart', 'meterEnd', 'totalEnergy', 'totalLossEnergy', 'totalAmount']);
    let cases = 0;
    for (const [rec, tariff] of records) {
      for (const field of fields) {
        for (const delta of [1, -1, 1 + Math.floor(r() * 50000)]) {
          const d = decimalsOf(field);
          const units = Math.round((rec[field] as number) * 10 ** d) + delta;
          if (units < 0) continue;
          const mutated = { ...rec, [field]: units / 10 ** d };
          const a = auditRecord(mutated, tariff);
          cases++;
          const f = flagged(a);
          // A meter reading off by up to 0.01 kWh is a warning (real piles round their meter), so
          // the record stays ok but the change is still reported; anything else fails the audit.
          const meterOnly = (field === 'meterStart' || field === 'meterEnd') && Math.abs(delta) <= 100;
          if ((a.ok && !meterOnly) || f.length === 0) throw new Error(`${field} ${delta > 0 ? '+' : ''}${delta} units went unnoticed`);
          // the change is reported where it happened
          const level = LEVELS.find((l) => field.startsWith(l));
          const expected =
            field.endsWith('Price') || field.endsWith('Amount') || field === 'totalLossEnergy' ? field
            : field.endsWith('LossEnergy') ? field
            : field.endsWith('Energy') && level ? 'totalEnergy'
            : field === 'totalEnergy' ? 'totalEnergy'
            : 'meter';
          if (!f.includes(expected)) throw new Error(`${field} ${delta}: expected ${expected} among ${f.join(', ')}`);
          if (field.endsWith('Amount')) {
            // an amount alone is reported alone, with the value it should have had
            a.mismatches.should.eql([{ field, pile: units / 10 ** d, computed: rec[field] }]);
          }
        }
      }
    }
    cases.should.be.above(2000);
  });

  it('audits the 5-tier variant: deep valley amount from its own price, included in the totals, flagged as outside the tariff', () => {
    const t = lambdaTariff();
    const base = vectorBody('0x3B', 'captured (test input)');
    const body = {
      ...base,
      deepValleyPrice: 0.3,
      deepValleyEnergy: 1.5,
      deepValleyLossEnergy: 0,
      deepValleyAmount: 0.45,
      meterEnd: 4.5077,
      totalEnergy: 4.5067,
      totalAmount: 3.1259,
    };
    const rec = decodeFrame(encodeFrame({ type: 0x3b, body })).body;
    rec.variant!.should.equal('5-tier');
    recordUnits(rec).levels.length.should.equal(5);
    const a = auditRecord(rec, t);
    a.mismatches.should.eql([]);
    a.ok.should.be.true();
    a.inconsistencies.map((i) => i.check).should.eql(['extraLevel']);
    a.inconsistencies[0].detail.should.match(/deep valley 深谷.*1\.5000 kWh.*0\.4500 yuan/);
    const bad = auditRecord({ ...rec, deepValleyAmount: 0.4501 }, t);
    bad.mismatches.should.eql([{ field: 'deepValleyAmount', pile: 0.4501, computed: 0.45 }]);
    auditRecord({ ...rec, totalAmount: 2.6759 }, t).mismatches.should.eql([{ field: 'totalAmount', pile: 2.6759, computed: 3.1259 }]);
  });

  describe('inconsistencies', () => {
    const t = lambdaTariff();
    const real = () => vectorBody('0x3B', 'captured (test input)');
    const checks = (patch: Record<string, unknown>, opts = {}) =>
      auditRecord({ ...real(), ...patch }, t, opts).inconsistencies.map((i) => `${i.check}:${i.severity}`);

    it('meter readings that disagree with the energy, or run backwards', () => {
      checks({ meterEnd: 3.0078 }).should.eql(['meter:warning']); // 0.0001 kWh: meter rounding
      checks({ meterEnd: 3.0177 }).should.eql(['meter:warning']); // 0.0100 kWh: still one meter digit
      checks({ meterEnd: 3.0178 }).should.eql(['meter:error']); // 0.0101 kWh
      checks({ meterEnd: 3.0078 }, { meterWarningUnits: 0 }).should.eql(['meter:error']);
      auditRecord({ ...real(), meterEnd: 3.0078 }, t, { meterToleranceUnits: 1 }).inconsistencies.should.be.empty();
      checks({ meterStart: 4, meterEnd: 3 }).should.eql(['meter:error']);
      auditRecord({ ...real(), meterEnd: 3.0078 }, t).inconsistencies[0].detail.should.match(/3\.0068 kWh but totalEnergy is 3\.0067 kWh/);
    });
    it('end before start, trade time before start or end', () => {
      checks({ endTime: '2025-10-23 22:00:00' }).should.eql(['timeOrder:error']);
      checks({ endTime: '2025-10-23 22:00:00', tradeTime: '2025-10-23 22:00:00' }).should.eql(['timeOrder:error', 'tradeTime:warning']);
      checks({ tradeTime: '2025-10-23 22:00:00' }).should.eql(['tradeTime:warning']);
      checks({ tradeTime: '2025-10-23 23:00:00' }).should.eql(['tradeTime:warning']);
      checks({ startTime: null }).should.eql(['timeMissing:warning']);
      checks({ endTime: 'cp56:FFFFFFFFFFFFFF' }).should.eql(['timeMissing:warning']);
    });
    it('a start-failure stop reason with energy is an error; with no energy it is fine', () => {
      checks({ stopReason: 0x4a }).should.eql(['stopReason:error']);
      checks({ stopReason: 0x6e }).should.eql([]);
      const failed: Record<string, unknown> = { ...real(), stopReason: 0x4e };
      for (const k of ['valleyEnergy', 'valleyAmount', 'totalEnergy', 'totalAmount']) failed[k] = 0;
      failed.meterEnd = failed.meterStart;
      auditRecord(failed, t).should.containEql({ ok: true, mismatches: [], inconsistencies: [] });
    });
    it('sessions beyond 24 h and implausible power are warnings', () => {
      checks({ startTime: '2025-10-22 22:28:53' }).should.eql(['duration:warning']);
      checks({ startTime: '2025-10-22 22:28:53' }, { maxSessionHours: 48 }).should.eql([]);
      checks({ startTime: '2025-10-23 23:21:30' }).should.eql(['power:warning']); // 3.0067 kWh in 4 s
      checks({ startTime: '2025-10-23 23:21:34' }).should.eql(['power:warning']);
    });
    it('energy at a level the tariff never applies during the session (pile tariff or clock differs)', () => {
      const rec = { ...real(), flatEnergy: 1, flatAmount: 2, totalEnergy: 4.0067, totalAmount: 4.6759, meterEnd: 4.0077 };
      const a = auditRecord(rec, t);
      a.mismatches.should.eql([]);
      a.inconsistencies.map((i) => i.check).should.eql(['levelOutsideSession']);
      a.ok.should.be.false();
      // flat ends at 22:00; a session from 22:03 is within the 5-minute clock slack, one from 22:06 is not
      auditRecord({ ...rec, startTime: '2025-10-23 22:03:00' }, t).ok.should.be.true();
      auditRecord({ ...rec, startTime: '2025-10-23 22:06:00' }, t).ok.should.be.false();
      auditRecord({ ...rec, startTime: '2025-10-23 22:06:00' }, t, { clockToleranceMinutes: 10 }).ok.should.be.true();
    });
    it('times in the future when `now` is given', () => {
      checks({}, { now: '2025-10-23 23:00:00' }).should.eql(['futureTime:warning', 'futureTime:warning']);
      checks({}, { now: '2025-10-23 23:30:00' }).should.eql([]);
    });
    it('loss ratio > 0: amounts are on the loss-adjusted energy; a loss energy below the energy is a warning', () => {
      const lt = Tariff.from({ ...lambdaTariff().toBody(), lossRatio: 5 });
      const a = auditRecord(real(), lt);
      a.mismatches.should.eql([
        { field: 'valleyAmount', pile: 2.6759, computed: 0 },
        { field: 'totalAmount', pile: 2.6759, computed: 0 },
      ]);
      a.inconsistencies.map((i) => i.check).should.eql(['lossEnergy']);
      const ok = { ...real(), valleyLossEnergy: 3.157, totalLossEnergy: 3.157, valleyAmount: 2.8097, totalAmount: 2.8097 }; // 0.89 × 3.157 = 2.80973
      auditRecord(ok, lt).should.containEql({ ok: true, mismatches: [], inconsistencies: [] });
    });
    it('loss energy equal to the energy is accepted with ratio 0 (as JCPP sends); other values are not', () => {
      auditRecord({ ...real(), valleyLossEnergy: 3.0067, totalLossEnergy: 3.0067 }, t).ok.should.be.true();
      auditRecord({ ...real(), valleyLossEnergy: 3.0066, totalLossEnergy: 3.0066 }, t).mismatches.should.eql([
        { field: 'valleyLossEnergy', pile: 3.0066, computed: 3.0067 },
      ]);
    });
  });

  it('refuses a record without its fee fields (YKC_INPUT, field named)', () => {
    const rec = vectorBody('0x3B', 'captured (test input)');
    delete rec.peakAmount;
    (() => auditRecord(rec, lambdaTariff())).should.throw({ code: 'YKC_INPUT', message: /peakAmount/ });
    (() => auditRecord({ ...vectorBody('0x3B', 'captured (test input)'), totalEnergy: 1.00001 }, lambdaTariff())).should.throw({ code: 'YKC_INPUT', message: /totalEnergy/ });
    (() => auditRecord(null as never, lambdaTariff())).should.throw({ code: 'YKC_INPUT' });
    (() => auditRecord(vectorBody('0x3B', 'captured (test input)'), { modelCode: 'x' })).should.throw({ code: 'YKC_TARIFF' });
  });

  it('billRecord: the bill with the electricity/service split, and the audit', () => {
    const b = billRecord(vectorBody('0x3B', 'captured (test input)'), lambdaTariff());
    b.audit.ok.should.be.true();
    b.numbers.totalAmount.should.equal(2.6759);
    b.numbers.totalElecFee.should.equal(1.5033);
    b.numbers.totalServiceFee.should.equal(1.1726);
    b.numbers.levels[3].should.containDeep({ name: 'valley', zh: '谷', unitPrice: 0.89, energy: 3.0067, lossEnergy: 0, amount: 2.6759 });
    b.bill.totalAmount.should.equal(26759);
  });
});
