import 'should';
import { decodeFrame } from '../../src/protocol';
import { Tariff } from '../../src/billing/tariff';
import {
  billLevels, billSession, billToNumbers, billToRecordFields, levelAtTime, lossEnergyUnits, MeterSample, slotIndexAt, splitIncrements,
  splitMeterCurve, toEpochMs,
} from '../../src/billing/compute';
import { loadVectors } from '../support/repo';
import { lambdaTariff, rng, sampleTariffBody } from './helpers';

// ---- an independent reference: decimal strings in, decimal strings out -----------------------

/** "1.23" → digits scaled to `d` decimals as BigInt (no float anywhere). */
function dec(s: string, d: number): bigint {
  const [i, f = ''] = s.split('.');
  return BigInt(i + f.padEnd(d, '0'));
}
function str(n: bigint, d: number): string {
  const s = n.toString().padStart(d + 1, '0');
  return `${s.slice(0, s.length - d)}.${s.slice(s.length - d)}`;
}
/** price "x.xxxxx" × energy "y.yyyy" = 9 decimals; keep 4 by cutting the last 5 digits off. */
function refAmount(price: string, energy: string): string {
  const full = str(dec(price, 5) * dec(energy, 4), 9);
  return full.slice(0, full.length - 5);
}
function randDec(r: () => number, maxInt: number, d: number): string {
  const i = Math.floor(r() * (maxInt + 1));
  const f = Math.floor(r() * 10 ** d).toString().padStart(d, '0');
  return `${i}.${f}`;
}

function realRecord(): Record<string, unknown> {
  const v = loadVectors().find((x) => x.type === '0x3B' && x.kind === 'captured (test input)');
  if (!v) throw new Error('real 0x3B vector missing');
  return decodeFrame(v.hex).body;
}

const FEE_FIELDS = ['sharp', 'peak', 'flat', 'valley'].flatMap((l) => [`${l}Price`, `${l}Energy`, `${l}LossEnergy`, `${l}Amount`])
  .concat(['meterStart', 'meterEnd', 'totalEnergy', 'totalLossEnergy', 'totalAmount']);

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = o[k];
  return out;
}

const H = 3_600_000;

describe('billing/compute', () => {
  describe('billLevels', () => {
    it('bills the real 0x3B record: valley 0.89000 × 3.0067 kWh = 2.6759 yuan, split 1.5033 + 1.1726', () => {
      const bill = billLevels(lambdaTariff(), [0, 0, 0, 30067]);
      const v = bill.levels[3];
      v.unitPrice.should.equal(89000);
      v.amount.should.equal(26759);
      v.elecFee.should.equal(15033); // 0.5 × 3.0067 = 1.50335 → 1.5033
      v.serviceFee.should.equal(11726); // 2.6759 − 1.5033 (0.39 × 3.0067 = 1.172613 → 1.1726)
      bill.totalAmount.should.equal(26759);
      (bill.totalElecFee + bill.totalServiceFee).should.equal(bill.totalAmount);
      bill.levels[0].amount.should.equal(0);
      billToNumbers(bill).levels[3].should.containDeep({ unitPrice: 0.89, energy: 3.0067, amount: 2.6759, elecFee: 1.5033, serviceFee: 1.1726 });
    });

    it('reproduces the real record\'s fee fields exactly from its level energies and meter start', () => {
      const rec = realRecord();
      const s = billSession(lambdaTariff(), { meterStart: 10, levelEnergies: [0, 0, 0, 30067] });
      s.record.should.eql(pick(rec, FEE_FIELDS));
      s.meterEnd.should.equal(30077);
    });

    it('service fee is the remainder: one unit above its own truncation when the fractions add up', () => {
      // elec 0.55555 × 1.0001 = 0.555605555 → 0.5556; service 0.44445 × 1.0001 = 0.444494445 → 0.4444;
      // unit 1.00000 × 1.0001 = 1.0001 → amount 1.0001 = 0.5556 + 0.4445
      const t = Tariff.fromInput({ modelCode: 1, levels: [0, 1, 2, 3].map(() => ({ elec: 0.55555, service: 0.44445 })), slots: new Array(48).fill(0) });
      const b = billLevels(t, [10001, 0, 0, 0]).levels[0];
      b.amount.should.equal(10001);
      b.elecFee.should.equal(5556);
      b.serviceFee.should.equal(4445);
    });

    it('matches a decimal-string reference on 5 000 seeded random tariffs × energies', function () {
      this.timeout(30_000); // ~1 s normally; generous for loaded CI machines
      const r = rng(0x3b);
      for (let n = 0; n < 5000; n++) {
        const elec = [0, 1, 2, 3].map(() => randDec(r, r() < 0.1 ? 20000 : 5, 5));
        const service = [0, 1, 2, 3].map(() => randDec(r, r() < 0.1 ? 20000 : 3, 5));
        const energies = [0, 1, 2, 3].map(() => (r() < 0.2 ? '0.0000' : randDec(r, r() < 0.1 ? 40000 : 200, 4)));
        const t = Tariff.fromInput({ modelCode: n % 10000, levels: elec.map((e, i) => ({ elec: e, service: service[i] })), slots: new Array(48).fill(n % 4) });
        const units = energies.map((e) => Number(dec(e, 4)));
        const bill = billLevels(t, units);
        let totalAmount = 0n;
        let totalElec = 0n;
        let totalEnergy = 0n;
        for (let i = 0; i < 4; i++) {
          const unit = str(dec(elec[i], 5) + dec(service[i], 5), 5);
          const amount = refAmount(unit, energies[i]);
          const elecFee = refAmount(elec[i], energies[i]);
          const l = bill.levels[i];
          const ctx = `case ${n} level ${i}: ${unit} × ${energies[i]}`;
          if (String(l.amount) !== String(dec(amount, 4))) throw new Error(`${ctx}: amount ${l.amount}, reference ${amount}`);
          if (String(l.elecFee) !== String(dec(elecFee, 4))) throw new Error(`${ctx}: elecFee ${l.elecFee}, reference ${elecFee}`);
          const svc = dec(amount, 4) - dec(elecFee, 4);
          if (String(l.serviceFee) !== String(svc)) throw new Error(`${ctx}: serviceFee ${l.serviceFee}`);
          const svcTrunc = dec(refAmount(service[i], energies[i]), 4);
          if (svc !== svcTrunc && svc !== svcTrunc + 1n) throw new Error(`${ctx}: service fee ${svc} not within 1 unit of ${svcTrunc}`);
          totalAmount += dec(amount, 4);
          totalElec += dec(elecFee, 4);
          totalEnergy += dec(energies[i], 4);
        }
        if (BigInt(bill.totalAmount) !== totalAmount || BigInt(bill.totalElecFee) !== totalElec || BigInt(bill.totalEnergy) !== totalEnergy) {
          throw new Error(`case ${n}: totals differ`);
        }
        if (bill.totalElecFee + bill.totalServiceFee !== bill.totalAmount) throw new Error(`case ${n}: split does not reconcile`);
        // The record rendering is the decimal string read as a number, nothing else.
        if (bill.totalAmount <= 0xffffffff && bill.levels.every((l) => l.amount <= 0xffffffff && l.unitPrice <= 0xffffffff)) {
          const rec = billToRecordFields(bill, 0, bill.totalEnergy) as unknown as Record<string, number>;
          if (rec.totalAmount !== Number(str(totalAmount, 4))) throw new Error(`case ${n}: totalAmount rendering ${rec.totalAmount}`);
          if (rec.valleyAmount !== Number(refAmount(str(dec(elec[3], 5) + dec(service[3], 5), 5), energies[3]))) throw new Error(`case ${n}: valleyAmount rendering`);
        }
      }
    });

    it('loss ratio: 0 reports 0 (or the energy, on request); non-zero adds that percent and bills the adjusted energy', () => {
      lossEnergyUnits(30067, 0).should.equal(0);
      lossEnergyUnits(30067, 0, 'energy').should.equal(30067);
      lossEnergyUnits(30067, 5).should.equal(31570); // 30067 + trunc(1503.35)
      const t = Tariff.fromBody({ ...sampleTariffBody(), lossRatio: 5 });
      const b = billLevels(t, [0, 0, 0, 30067]);
      b.levels[3].lossEnergy.should.equal(31570);
      b.levels[3].amount.should.equal(23151); // 0.73333 × 3.1570 = 2.31512281 → 2.3151
      b.totalLossEnergy.should.equal(31570);
      billLevels(lambdaTariff(), [0, 0, 0, 30067], { lossEnergyWhenNoRatio: 'energy' }).totalLossEnergy.should.equal(30067);
      billLevels(t, [0, 0, 0, 30067], { lossEnergies: [0, 0, 0, 30100] }).levels[3].amount.should.equal(22073); // 0.73333 × 3.01
    });

    it('refuses bad energies with YKC_INPUT', () => {
      const t = lambdaTariff();
      (() => billLevels(t, [0, 0, 0])).should.throw({ code: 'YKC_INPUT' });
      (() => billLevels(t, [0, 0, 0, -1])).should.throw({ code: 'YKC_INPUT', message: /energies\[3\]/ });
      (() => billLevels(t, [0, 0, 0, 1.5])).should.throw({ code: 'YKC_INPUT' });
      (() => billLevels({} as Tariff, [0, 0, 0, 0])).should.throw({ code: 'YKC_INPUT', message: /Tariff/ });
      (() => billSession(t, { meterStart: 0, levelEnergies: [0, 0, 0, 0x100000000] })).should.throw({ code: 'YKC_INPUT', message: /valleyEnergy .*4-byte/ });
    });
  });

  describe('time', () => {
    it('reads wall times as China time, epoch ms, Dates and zoned ISO strings alike', () => {
      const ms = Date.UTC(2025, 9, 23, 14, 28, 53); // 22:28:53 in China
      toEpochMs('2025-10-23 22:28:53').should.equal(ms);
      toEpochMs('2025-10-23T22:28:53').should.equal(ms);
      toEpochMs('2025-10-23T14:28:53Z').should.equal(ms);
      toEpochMs('2025-10-23T22:28:53+08:00').should.equal(ms);
      toEpochMs(new Date(ms)).should.equal(ms);
      toEpochMs(ms).should.equal(ms);
      toEpochMs('2025-10-23 22:28:53', { offsetMinutes: 0 }).should.equal(ms + 8 * H);
      slotIndexAt('2025-10-23 22:28:53').should.equal(44);
      slotIndexAt(ms, { offsetMinutes: 0 }).should.equal(28);
      levelAtTime(lambdaTariff(), '2025-10-23 21:59:59').should.equal(2);
      levelAtTime(lambdaTariff(), '2025-10-23 22:00:00').should.equal(3);
      (() => toEpochMs('yesterday')).should.throw({ code: 'YKC_INPUT' });
      (() => toEpochMs(1.5)).should.throw({ code: 'YKC_INPUT' });
      (() => toEpochMs('2025-02-30 00:00:00')).should.throw({ code: 'YKC_INPUT' });
    });
  });

  describe('meter curves', () => {
    const t = Tariff.fromBody(sampleTariffBody()); // valley <08:00 and ≥23:00, peak 08–11 and 18–21, sharp 11–12, flat else

    it('splits the real session 22:28:53 → 23:21:34 (meter 0.0010 → 3.0077) into two valley slots and reproduces the record', () => {
      const rec = realRecord();
      const s = billSession(lambdaTariff(), { curve: [{ time: rec.startTime as string, meterKWh: 0.001 }, { time: rec.endTime as string, meterKWh: 3.0077 }] });
      s.record.should.eql(pick(rec, FEE_FIELDS));
      const split = s.split!;
      split.slots.map((x) => x.slot).should.eql([44, 45, 46]);
      // 22:28:53→23:21:34 is 3161 s; slot 44 holds 67 s, 45 1800 s, 46 1294 s of it
      split.slots.map((x) => x.energy).should.eql([Math.round((30067 * 67) / 3161), Math.round((30067 * 1867) / 3161) - Math.round((30067 * 67) / 3161), 30067 - Math.round((30067 * 1867) / 3161)]);
    });

    it('constant 10 kW from 07:45 to 08:15 gives 2.5 kWh valley and 2.5 kWh peak', () => {
      const split = splitMeterCurve(t, [{ time: '2025-03-01 07:45:00', meterKWh: 100 }, { time: '2025-03-01 08:15:00', meterKWh: '105.0000' }]);
      split.levelEnergies.should.eql([0, 25000, 0, 25000]);
      split.slots.should.eql([
        { from: toEpochMs('2025-03-01 07:45:00'), to: toEpochMs('2025-03-01 08:00:00'), slot: 15, level: 3, energy: 25000 },
        { from: toEpochMs('2025-03-01 08:00:00'), to: toEpochMs('2025-03-01 08:15:00'), slot: 16, level: 1, energy: 25000 },
      ]);
      const bill = billLevels(t, split.levelEnergies);
      bill.levels[3].amount.should.equal(18333); // 0.73333 × 2.5 = 1.833325
      bill.levels[1].amount.should.equal(50000);
      bill.totalAmount.should.equal(68333);
    });

    it('crosses midnight (23:40 → 00:20, slots 47 then 0) and the flat→valley change at 23:00', () => {
      const a = splitMeterCurve(t, [{ time: '2025-03-01 23:40:00', meterUnits: 0 }, { time: '2025-03-02 00:20:00', meterUnits: 40000 }]);
      a.slots.map((x) => [x.slot, x.level, x.energy]).should.eql([[47, 3, 20000], [0, 3, 20000]]);
      const b = splitMeterCurve(t, [{ time: '2025-03-01 22:50:00', meterUnits: 7 }, { time: '2025-03-01 23:10:00', meterUnits: 20007 }]);
      b.levelEnergies.should.eql([0, 0, 10000, 10000]);
      b.meterStart.should.equal(7);
      b.meterEnd.should.equal(20007);
    });

    it('sessions longer than 24 h: 36 h at 2 kW from midnight put each level\'s hours × 2 kWh in place', () => {
      const split = splitMeterCurve(t, [{ time: '2025-01-01 00:00:00', meterUnits: 0 }, { time: '2025-01-02 12:00:00', meterUnits: 36 * 20000 }]);
      split.slots.length.should.equal(72);
      // day 1: valley 9 h, peak 6 h, sharp 1 h, flat 8 h; then 00:00–12:00: valley 8 h, peak 3 h, sharp 1 h
      split.levelEnergies.should.eql([2 * 20000, 9 * 20000, 8 * 20000, 17 * 20000]);
      split.totalEnergy.should.equal(36 * 20000);
    });

    it('puts a step at an instant in the slot that starts at that instant', () => {
      const at = '2025-03-01 08:00:00';
      const split = splitMeterCurve(t, [
        { time: '2025-03-01 07:50:00', meterUnits: 0 },
        { time: at, meterUnits: 100 },
        { time: at, meterUnits: 600 },
        { time: '2025-03-01 08:10:00', meterUnits: 700 },
      ]);
      split.levelEnergies.should.eql([0, 600, 0, 100]);
      const endStep = splitMeterCurve(t, [{ time: '2025-03-01 07:50:00', meterUnits: 0 }, { time: at, meterUnits: 100 }, { time: at, meterUnits: 150 }]);
      endStep.slots.map((x) => [x.slot, x.energy, x.to - x.from]).should.eql([[15, 100, 600000], [16, 50, 0]]);
      const single = splitMeterCurve(t, [{ time: at, meterUnits: 5 }]);
      single.totalEnergy.should.equal(0);
      single.slots.length.should.equal(1);
    });

    it('rounds each boundary reading half-up and never loses or creates energy (1 unit over an hour)', () => {
      const s = splitMeterCurve(t, [{ time: '2025-03-01 07:30:00', meterUnits: 0 }, { time: '2025-03-01 08:30:00', meterUnits: 1 }]);
      s.slots.map((x) => x.energy).should.eql([1, 0]); // 0.5 at 08:00 rounds up
      const s3 = splitMeterCurve(t, [{ time: '2025-03-01 07:30:00', meterUnits: 0 }, { time: '2025-03-01 09:00:00', meterUnits: 2 }]);
      s3.slots.map((x) => x.energy).should.eql([1, 0, 1]); // 0.667 → 1, 1.333 → 1
    });

    it('keeps exactness with 5-byte meters and week-long gaps (BigInt path) and matches an exact-fraction reference on 2 000 random curves', function () {
      this.timeout(30_000); // ~1 s normally; generous for loaded CI machines
      const r = rng(424242);
      const t0 = toEpochMs('2025-06-01 00:00:00');
      for (let n = 0; n < 2000; n++) {
        const samples: MeterSample[] = [];
        let time = t0 + Math.floor(r() * 86_400_000);
        let meter = Math.floor(r() * 2 ** 40 * (n % 10 === 0 ? 1 : 1e-6));
        const count = 1 + Math.floor(r() * 8);
        for (let i = 0; i < count; i++) {
          samples.push({ time, meterUnits: meter });
          time += r() < 0.1 ? 0 : Math.floor(r() * (n % 7 === 0 ? 7 * 86_400_000 : 5 * H));
          meter += r() < 0.1 ? 0 : Math.floor(r() * (n % 5 === 0 ? 2 ** 32 : 2_000_000));
          if (meter > 2 ** 40 - 1) meter = 2 ** 40 - 1;
        }
        const split = splitMeterCurve(t, samples);
        const ts = samples.map((x) => x.time as number);
        const ms = samples.map((x) => BigInt(x.meterUnits!));
        const first = samples[0].meterUnits!;
        const last = samples[samples.length - 1].meterUnits!;
        const sum = split.slots.reduce((s, x) => s + x.energy, 0);
        if (sum !== last - first || split.levelEnergies.reduce((a, b) => a + b, 0) !== last - first) throw new Error(`case ${n}: energy not conserved`);
        split.slots.forEach((x, j) => {
          if (x.energy < 0) throw new Error(`case ${n}: negative slot`);
          // level from an independent wall-clock reading of the slot start
          const wall = new Date(x.from + 8 * H);
          const k = wall.getUTCHours() * 2 + (wall.getUTCMinutes() >= 30 ? 1 : 0);
          if (k !== x.slot || t.slots[k] !== x.level) throw new Error(`case ${n}: slot ${x.slot} level ${x.level} at ${wall.toISOString()}`);
          // each slot holds the exact integral of the linear curve over [from, to] within ±1 unit
          // (a step at an instant belongs to the slot starting there: readings are left limits, except the session's last)
          const isLast = j === split.slots.length - 1;
          const hi = isLast ? { num: BigInt(last), den: 1n } : exactMeter(ts, ms, x.to);
          const lo = exactMeter(ts, ms, x.from);
          const num = hi.num * lo.den - lo.num * hi.den;
          const den = hi.den * lo.den;
          const diff = BigInt(x.energy) * den - num;
          if ((diff < 0n ? -diff : diff) > den) throw new Error(`case ${n}: slot energy ${x.energy} too far from ${num}/${den}`);
        });
      }
    });

    it('refuses unsorted times, falling meters, bad readings and bad times with YKC_INPUT', () => {
      (() => splitMeterCurve(t, [])).should.throw({ code: 'YKC_INPUT' });
      (() => splitMeterCurve(t, [{ time: '2025-03-01 08:00:00', meterUnits: 0 }, { time: '2025-03-01 07:00:00', meterUnits: 1 }]))
        .should.throw({ code: 'YKC_INPUT', message: /samples\[1\]\.time .*earlier/ });
      (() => splitMeterCurve(t, [{ time: '2025-03-01 07:00:00', meterUnits: 5 }, { time: '2025-03-01 08:00:00', meterUnits: 4 }]))
        .should.throw({ code: 'YKC_INPUT', message: /samples\[1\] has a meter reading below/ });
      (() => splitMeterCurve(t, [{ time: '2025-03-01 07:00:00', meterKWh: 1.00001 }])).should.throw({ code: 'YKC_INPUT', message: /samples\[0\]\.meterKWh/ });
      (() => splitMeterCurve(t, [{ time: '2025-03-01 07:00:00' }])).should.throw({ code: 'YKC_INPUT', message: /meterUnits/ });
      (() => splitMeterCurve(t, [{ time: 'soon', meterUnits: 1 }])).should.throw({ code: 'YKC_INPUT', message: /samples\[0\]\.time/ });
      (() => splitMeterCurve(t, [{ time: 0, meterUnits: 0 }, { time: 2e12, meterUnits: 1 }])).should.throw({ code: 'YKC_INPUT', message: /too long/ });
    });
  });

  describe('increments', () => {
    const t = Tariff.fromBody(sampleTariffBody());
    it('attributes each increment to the slot holding its time and merges within a half hour', () => {
      const s = splitIncrements(t, 1000, [
        { time: '2025-03-01 07:59:59', energy: 10 },
        { time: '2025-03-01 08:00:00', energy: 20 },
        { time: '2025-03-01 08:29:00', energy: 30 },
        { time: '2025-03-01 11:00:00', energy: 5 },
      ]);
      s.levelEnergies.should.eql([5, 50, 0, 10]);
      s.slots.map((x) => [x.slot, x.energy]).should.eql([[15, 10], [16, 50], [22, 5]]);
      s.meterEnd.should.equal(1065);
      const rec = billSession(t, { meterStart: 1000, increments: [{ time: '2025-03-01 08:00:00', energy: 30067 }] }).record;
      rec.peakEnergy.should.equal(3.0067);
      rec.peakAmount.should.equal(6.0134);
      rec.meterEnd.should.equal(3.1067);
      rec.valleyPrice.should.equal(0.73333);
      rec.sharpPrice.should.equal(2.3);
      (() => splitIncrements(t, 0, [{ time: '2025-03-01 08:00:00', energy: 1 }, { time: '2025-03-01 07:00:00', energy: 1 }])).should.throw({ code: 'YKC_INPUT' });
      (() => splitIncrements(t, 0, [{ time: '2025-03-01 08:00:00', energy: -1 }])).should.throw({ code: 'YKC_INPUT' });
      splitIncrements(t, 0, []).totalEnergy.should.equal(0);
      (() => billSession(t, {} as never)).should.throw({ code: 'YKC_INPUT' });
    });
  });
});

/** The meter reading at instant x as an exact fraction num/den: the left limit (first sample at or after x). */
function exactMeter(ts: number[], ms: bigint[], x: number): { num: bigint; den: bigint } {
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] === x) return { num: ms[i], den: 1n };
    if (ts[i] > x) {
      const dt = BigInt(ts[i] - ts[i - 1]);
      return { num: ms[i - 1] * dt + (ms[i] - ms[i - 1]) * BigInt(x - ts[i - 1]), den: dt };
    }
  }
  return { num: ms[ms.length - 1], den: 1n };
}
