/**
 * Fee computation in integer units (docs/protocol.md §7).
 *
 * Rules we apply, and why:
 * - A level's amount is unit price × energy truncated to 0.0001 yuan, computed once per level on
 *   the level's total energy, as real 0x3B records do (0.89000 × 3.0067 = 2.675963 → 2.6759).
 *   Totals are plain sums of the level figures.
 * - Electricity / service split (the record carries only the sum): electricity fee = electricity
 *   rate × energy, truncated the same way; service fee = amount − electricity fee. So
 *   electricity + service = amount exactly, and the service fee is its own truncated product or
 *   one unit (0.0001 yuan) more.
 * - Loss ratio (计损比例): the document leaves its unit open and every platform sends 0. We read it as
 *   percent: loss-adjusted energy = energy + trunc(energy × ratio / 100), and bill the loss-adjusted
 *   energy when the ratio is non-zero (as §7 says the realtime amount does). With ratio 0 the amount
 *   is on the energy, and the record's loss-adjusted energy is 0 (what the real captured pile sends)
 *   or, on request, equal to the energy.
 * - Meter curves: the meter is interpolated linearly between samples; at each half-hour boundary its
 *   reading is rounded half-up to 0.0001 kWh, and each slot gets reading(end) − reading(start). The
 *   differences telescope, so slot energies sum exactly to last − first reading and are never negative.
 */
import { YkcError } from '../protocol/errors';
import { parseWallTime, instantOf, CHINA_OFFSET_MINUTES } from '../protocol/cp56';
import { amountUnits, AMOUNT_DECIMALS, ENERGY_DECIMALS, fromUnits, PRICE_DECIMALS, toUnits } from './fees';
import { LevelCode, LEVEL_NAMES, LEVEL_ZH, SLOT_COUNT, SLOT_MINUTES, Tariff } from './tariff';

const MAX_U32 = 0xffffffff;
const MAX_U40 = 2 ** 40 - 1;
const SLOT_MS = SLOT_MINUTES * 60_000;
/** A bound on work per curve: 1 000 000 half hours is 57 years. */
const MAX_SLOTS = 1_000_000;
/** Below this, integer products, quotients and remainders are exact doubles. */
const FAST_LIMIT = 2 ** 52;

export interface LevelBill {
  level: LevelCode;
  name: (typeof LEVEL_NAMES)[number];
  zh: string;
  /** 0.00001 yuan/kWh */
  elecPrice: number;
  servicePrice: number;
  unitPrice: number;
  /** 0.0001 kWh */
  energy: number;
  lossEnergy: number;
  /** 0.0001 yuan */
  amount: number;
  elecFee: number;
  serviceFee: number;
}

/** A bill in integer units (prices 0.00001 yuan/kWh, energy 0.0001 kWh, money 0.0001 yuan). */
export interface Bill {
  modelCode: string;
  lossRatio: number;
  levels: LevelBill[];
  totalEnergy: number;
  totalLossEnergy: number;
  totalAmount: number;
  totalElecFee: number;
  totalServiceFee: number;
}

export interface BillOptions {
  /** Loss-adjusted energies per level (0.0001 kWh); by default derived from the tariff's loss ratio. */
  lossEnergies?: readonly number[];
  /** Loss-adjusted energy reported when the loss ratio is 0: 'zero' (default, as real piles send) or 'energy'. */
  lossEnergyWhenNoRatio?: 'zero' | 'energy';
}

function inputError(field: string, value: unknown, why: string): YkcError {
  return new YkcError('YKC_INPUT', `${field} ${why} (got ${String(value)})`, { field, value });
}

function energyArg(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw inputError(field, v, 'must be a non-negative integer of 0.0001 kWh');
  return v;
}

/** Loss-adjusted energy for a loss ratio read as percent (see the module note). */
export function lossEnergyUnits(energyUnits: number, lossRatio: number, whenNoRatio: 'zero' | 'energy' = 'zero'): number {
  energyArg('energyUnits', energyUnits);
  if (!Number.isInteger(lossRatio) || lossRatio < 0) throw inputError('lossRatio', lossRatio, 'must be a non-negative integer');
  if (lossRatio === 0) return whenNoRatio === 'energy' ? energyUnits : 0;
  return energyUnits + Number((BigInt(energyUnits) * BigInt(lossRatio)) / 100n);
}

/** The energy a level's amount is computed on: loss-adjusted when the loss ratio is non-zero. */
export function billedEnergy(energyUnits: number, lossEnergyUnits_: number, lossRatio: number): number {
  return lossRatio > 0 ? lossEnergyUnits_ : energyUnits;
}

/** Bill four level energies (0.0001 kWh, index = level code) at a tariff. */
export function billLevels(tariff: Tariff, energies: readonly number[], opts: BillOptions = {}): Bill {
  if (!(tariff instanceof Tariff)) throw inputError('tariff', tariff, 'must be a Tariff (use Tariff.from)');
  if (!Array.isArray(energies) || energies.length !== 4) throw inputError('energies', energies, 'must list 4 energies (sharp, peak, flat, valley)');
  if (opts.lossEnergies !== undefined && (!Array.isArray(opts.lossEnergies) || opts.lossEnergies.length !== 4)) {
    throw inputError('lossEnergies', opts.lossEnergies, 'must list 4 energies (sharp, peak, flat, valley)');
  }
  const levels: LevelBill[] = [];
  for (let i = 0; i < 4; i++) {
    const level = i as LevelCode;
    const energy = energyArg(`energies[${i}]`, energies[i]);
    const lossEnergy =
      opts.lossEnergies !== undefined
        ? energyArg(`lossEnergies[${i}]`, opts.lossEnergies[i])
        : lossEnergyUnits(energy, tariff.lossRatio, opts.lossEnergyWhenNoRatio);
    const base = billedEnergy(energy, lossEnergy, tariff.lossRatio);
    const elecPrice = tariff.elecPrice(level);
    const servicePrice = tariff.servicePrice(level);
    const unitPrice = elecPrice + servicePrice;
    const amount = amountUnits(unitPrice, base);
    const elecFee = amountUnits(elecPrice, base);
    levels.push({
      level,
      name: LEVEL_NAMES[level],
      zh: LEVEL_ZH[level],
      elecPrice,
      servicePrice,
      unitPrice,
      energy,
      lossEnergy,
      amount,
      elecFee,
      serviceFee: amount - elecFee,
    });
  }
  const sum = (k: 'energy' | 'lossEnergy' | 'amount' | 'elecFee' | 'serviceFee'): number => levels.reduce((s, l) => s + l[k], 0);
  return {
    modelCode: tariff.modelCode,
    lossRatio: tariff.lossRatio,
    levels,
    totalEnergy: sum('energy'),
    totalLossEnergy: sum('lossEnergy'),
    totalAmount: sum('amount'),
    totalElecFee: sum('elecFee'),
    totalServiceFee: sum('serviceFee'),
  };
}

/** A bill as numbers in real units (yuan/kWh, kWh, yuan), each the exact rendering of its integer. */
export interface BillNumbers {
  modelCode: string;
  lossRatio: number;
  /** The same fields as LevelBill, in real units instead of wire units. */
  levels: LevelBill[];
  totalEnergy: number;
  totalLossEnergy: number;
  totalAmount: number;
  totalElecFee: number;
  totalServiceFee: number;
}

export function billToNumbers(bill: Bill): BillNumbers {
  const p = (u: number) => fromUnits(u, PRICE_DECIMALS);
  const e = (u: number) => fromUnits(u, ENERGY_DECIMALS);
  const a = (u: number) => fromUnits(u, AMOUNT_DECIMALS);
  return {
    modelCode: bill.modelCode,
    lossRatio: bill.lossRatio,
    levels: bill.levels.map((l) => ({
      level: l.level,
      name: l.name,
      zh: l.zh,
      elecPrice: p(l.elecPrice),
      servicePrice: p(l.servicePrice),
      unitPrice: p(l.unitPrice),
      energy: e(l.energy),
      lossEnergy: e(l.lossEnergy),
      amount: a(l.amount),
      elecFee: a(l.elecFee),
      serviceFee: a(l.serviceFee),
    })),
    totalEnergy: e(bill.totalEnergy),
    totalLossEnergy: e(bill.totalLossEnergy),
    totalAmount: a(bill.totalAmount),
    totalElecFee: a(bill.totalElecFee),
    totalServiceFee: a(bill.totalServiceFee),
  };
}

/** The fee fields of a 0x3B / 0x3D body, as decoded numbers. */
export interface RecordFeeFields {
  sharpPrice: number;
  sharpEnergy: number;
  sharpLossEnergy: number;
  sharpAmount: number;
  peakPrice: number;
  peakEnergy: number;
  peakLossEnergy: number;
  peakAmount: number;
  flatPrice: number;
  flatEnergy: number;
  flatLossEnergy: number;
  flatAmount: number;
  valleyPrice: number;
  valleyEnergy: number;
  valleyLossEnergy: number;
  valleyAmount: number;
  meterStart: number;
  meterEnd: number;
  totalEnergy: number;
  totalLossEnergy: number;
  totalAmount: number;
}

function checkWire(field: string, units: number, max: number): number {
  if (units > max) {
    throw new YkcError('YKC_INPUT', `${field} = ${units} units does not fit its ${max === MAX_U32 ? 4 : 5}-byte record field`, { field, value: units });
  }
  return units;
}

/** A bill's record fields (meter readings in 0.0001 kWh). Throws YKC_INPUT when a figure does not fit the record. */
export function billToRecordFields(bill: Bill, meterStartUnits: number, meterEndUnits: number): RecordFeeFields {
  const out: Record<string, number> = {};
  for (const l of bill.levels) {
    out[`${l.name}Price`] = fromUnits(checkWire(`${l.name}Price`, l.unitPrice, MAX_U32), PRICE_DECIMALS);
    out[`${l.name}Energy`] = fromUnits(checkWire(`${l.name}Energy`, l.energy, MAX_U32), ENERGY_DECIMALS);
    out[`${l.name}LossEnergy`] = fromUnits(checkWire(`${l.name}LossEnergy`, l.lossEnergy, MAX_U32), ENERGY_DECIMALS);
    out[`${l.name}Amount`] = fromUnits(checkWire(`${l.name}Amount`, l.amount, MAX_U32), AMOUNT_DECIMALS);
  }
  out.meterStart = fromUnits(checkWire('meterStart', energyArg('meterStart', meterStartUnits), MAX_U40), ENERGY_DECIMALS);
  out.meterEnd = fromUnits(checkWire('meterEnd', energyArg('meterEnd', meterEndUnits), MAX_U40), ENERGY_DECIMALS);
  out.totalEnergy = fromUnits(checkWire('totalEnergy', bill.totalEnergy, MAX_U32), ENERGY_DECIMALS);
  out.totalLossEnergy = fromUnits(checkWire('totalLossEnergy', bill.totalLossEnergy, MAX_U32), ENERGY_DECIMALS);
  out.totalAmount = fromUnits(checkWire('totalAmount', bill.totalAmount, MAX_U32), AMOUNT_DECIMALS);
  return out as unknown as RecordFeeFields;
}

// ---- time ------------------------------------------------------------------------------------

/** Epoch milliseconds, a Date, an ISO time with zone, or a wall time "YYYY-MM-DD HH:mm[:ss[.SSS]]" in China time. */
export type TimeInput = number | string | Date;

export interface TimeOptions {
  /** Offset of the pile's wall clock from UTC in minutes; China is +480 (the default). */
  offsetMinutes?: number;
}

const ZONED_RE = /(Z|[+-]\d{2}:?\d{2})$/;

/** Epoch milliseconds of a time input; wall times are read at `offsetMinutes` (China time by default). */
export function toEpochMs(t: TimeInput, opts: TimeOptions = {}, field = 'time'): number {
  const offset = opts.offsetMinutes ?? CHINA_OFFSET_MINUTES;
  let ms: number;
  if (typeof t === 'number') ms = t;
  else if (t instanceof Date) ms = t.getTime();
  else if (typeof t === 'string' && ZONED_RE.test(t.trim())) ms = Date.parse(t.trim());
  else if (typeof t === 'string') {
    const w = parseWallTime(t);
    ms = w ? instantOf(w, offset).getTime() : NaN;
  } else ms = NaN;
  if (!Number.isSafeInteger(ms)) {
    throw inputError(field, typeof t === 'string' ? JSON.stringify(t) : t, 'must be epoch milliseconds (integer), a Date, or a time "YYYY-MM-DD HH:mm:ss" (China time)');
  }
  return ms;
}

/** Index 0–47 of the half-hour slot (wall clock) holding an instant. */
export function slotIndexAt(t: TimeInput, opts: TimeOptions = {}): number {
  const local = toEpochMs(t, opts) + (opts.offsetMinutes ?? CHINA_OFFSET_MINUTES) * 60_000;
  return mod(Math.floor(local / SLOT_MS), SLOT_COUNT);
}

/** The tariff level in force at an instant. */
export function levelAtTime(tariff: Tariff, t: TimeInput, opts: TimeOptions = {}): LevelCode {
  return tariff.slots[slotIndexAt(t, opts)];
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

// ---- splitting energy into slots --------------------------------------------------------------

export interface MeterSample {
  time: TimeInput;
  /** Meter reading in 0.0001 kWh; or give meterKWh. */
  meterUnits?: number;
  /** Meter reading in kWh, at most 4 decimals (number or decimal string). */
  meterKWh?: number | string;
}

/** Energy of one half-hour slot (or the part of it inside the session). Times are epoch ms. */
export interface SlotEnergy {
  from: number;
  to: number;
  /** Wall-clock slot index 0–47. */
  slot: number;
  level: LevelCode;
  /** 0.0001 kWh */
  energy: number;
}

export interface SlotSplit {
  start: number;
  end: number;
  /** 0.0001 kWh */
  meterStart: number;
  meterEnd: number;
  totalEnergy: number;
  /** Per level code, 0.0001 kWh; sums to totalEnergy exactly. */
  levelEnergies: number[];
  slots: SlotEnergy[];
}

/** round(num / den) half-up for num ≥ 0, den > 0, exact for any size. */
function roundDiv(num: number, den: number): number {
  const twice = 2 * num + den;
  if (twice < FAST_LIMIT && 2 * den < FAST_LIMIT) {
    let q = Math.floor(twice / (2 * den));
    const r = twice - q * 2 * den;
    if (r < 0) q -= 1;
    else if (r >= 2 * den) q += 1;
    return q;
  }
  return Number((2n * BigInt(num) + BigInt(den)) / (2n * BigInt(den)));
}

/** dm × x / dt rounded half-up, with the product done in BigInt when it leaves the safe range. */
function interpolate(dm: number, x: number, dt: number): number {
  const p = dm * x;
  if (p < FAST_LIMIT / 4) return roundDiv(p, dt);
  return Number((2n * BigInt(dm) * BigInt(x) + BigInt(dt)) / (2n * BigInt(dt)));
}

function meterOf(s: MeterSample, i: number): number {
  if (!s || typeof s !== 'object') throw inputError(`samples[${i}]`, s, 'must be { time, meterUnits | meterKWh }');
  let units: number;
  if (s.meterUnits !== undefined) units = s.meterUnits;
  else if (s.meterKWh !== undefined) {
    try {
      units = toUnits(s.meterKWh, ENERGY_DECIMALS, `samples[${i}].meterKWh`);
    } catch (e) {
      throw inputError(`samples[${i}].meterKWh`, s.meterKWh, 'must be a reading in kWh with at most 4 decimals');
    }
  } else throw inputError(`samples[${i}]`, JSON.stringify(s), 'needs meterUnits (0.0001 kWh) or meterKWh');
  if (typeof units !== 'number' || !Number.isSafeInteger(units) || units < 0) {
    throw inputError(`samples[${i}].meterUnits`, units, 'must be a non-negative integer of 0.0001 kWh');
  }
  return units;
}

class SlotAccumulator {
  readonly slots: SlotEnergy[] = [];
  readonly levelEnergies = [0, 0, 0, 0];
  constructor(
    private readonly tariff: Tariff,
    private readonly offsetMs: number,
  ) {}

  add(from: number, to: number, energy: number): void {
    const slot = mod(Math.floor((from + this.offsetMs) / SLOT_MS), SLOT_COUNT);
    const level = this.tariff.slots[slot];
    if (this.slots.length >= MAX_SLOTS) throw inputError('samples', `${MAX_SLOTS}+ slots`, 'span too long a time');
    this.slots.push({ from, to, slot, level, energy });
    this.levelEnergies[level] += energy;
  }
}

/**
 * Splits a meter curve into half-hour slots and tariff levels (see the module note for the
 * rounding). Samples must be in time order with readings that never go down; two samples at the
 * same instant are a step, billed to the slot that starts at that instant.
 */
export function splitMeterCurve(tariff: Tariff, samples: readonly MeterSample[], opts: TimeOptions = {}): SlotSplit {
  if (!(tariff instanceof Tariff)) throw inputError('tariff', tariff, 'must be a Tariff (use Tariff.from)');
  if (!Array.isArray(samples) || samples.length === 0) throw inputError('samples', samples, 'must be a non-empty array of { time, meterUnits | meterKWh }');
  const offsetMs = (opts.offsetMinutes ?? CHINA_OFFSET_MINUTES) * 60_000;
  const times = samples.map((s, i) => toEpochMs(s?.time as TimeInput, opts, `samples[${i}].time`));
  const meters = samples.map((s, i) => meterOf(s, i));
  for (let i = 1; i < samples.length; i++) {
    if (times[i] < times[i - 1]) throw inputError(`samples[${i}].time`, new Date(times[i]).toISOString(), 'is earlier than the sample before it (sort the curve by time)');
    if (meters[i] < meters[i - 1]) throw inputError(`samples[${i}]`, meters[i], `has a meter reading below the one before it (${meters[i - 1]} units)`);
  }
  const start = times[0];
  const end = times[times.length - 1];
  if (Math.ceil((end - start) / SLOT_MS) > MAX_SLOTS) throw inputError('samples', `${end - start} ms`, 'span too long a time');
  const acc = new SlotAccumulator(tariff, offsetMs);
  let cutTime = start;
  let cutMeter = meters[0];
  for (let i = 1; i < samples.length; i++) {
    const ta = times[i - 1];
    const tb = times[i];
    if (tb === ta) continue; // a step at one instant accrues to the slot in progress at that instant
    const ma = meters[i - 1];
    const dm = meters[i] - ma;
    const dt = tb - ta;
    // Boundaries B with ta < B ≤ tb, in local (wall-clock) milliseconds.
    for (let b = (Math.floor((ta + offsetMs) / SLOT_MS) + 1) * SLOT_MS - offsetMs; b <= tb; b += SLOT_MS) {
      const meterAtB = ma + (b === tb ? dm : interpolate(dm, b - ta, dt));
      acc.add(cutTime, b, meterAtB - cutMeter);
      cutTime = b;
      cutMeter = meterAtB;
    }
  }
  const meterEnd = meters[meters.length - 1];
  if (end > cutTime || meterEnd > cutMeter || acc.slots.length === 0) acc.add(cutTime, end, meterEnd - cutMeter);
  return {
    start,
    end,
    meterStart: meters[0],
    meterEnd,
    totalEnergy: meterEnd - meters[0],
    levelEnergies: acc.levelEnergies,
    slots: acc.slots,
  };
}

export interface EnergyIncrement {
  time: TimeInput;
  /** 0.0001 kWh delivered at (or up to) that time, billed to the slot holding the time. */
  energy: number;
}

/**
 * Attributes energy increments to slots by their time. Consecutive increments in the same
 * half hour merge into one SlotEnergy spanning that half hour (clipped to the first and last time).
 */
export function splitIncrements(tariff: Tariff, meterStartUnits: number, increments: readonly EnergyIncrement[], opts: TimeOptions = {}): SlotSplit {
  if (!(tariff instanceof Tariff)) throw inputError('tariff', tariff, 'must be a Tariff (use Tariff.from)');
  energyArg('meterStart', meterStartUnits);
  if (!Array.isArray(increments)) throw inputError('increments', increments, 'must be an array of { time, energy }');
  const offsetMs = (opts.offsetMinutes ?? CHINA_OFFSET_MINUTES) * 60_000;
  const slots: SlotEnergy[] = [];
  const levelEnergies = [0, 0, 0, 0];
  let total = 0;
  let start = NaN;
  let end = NaN;
  increments.forEach((inc, i) => {
    if (!inc || typeof inc !== 'object') throw inputError(`increments[${i}]`, inc, 'must be { time, energy }');
    const t = toEpochMs(inc.time, opts, `increments[${i}].time`);
    const e = energyArg(`increments[${i}].energy`, inc.energy);
    if (t < end) throw inputError(`increments[${i}].time`, new Date(t).toISOString(), 'is earlier than the increment before it');
    if (Number.isNaN(start)) start = t;
    end = t;
    const abs = Math.floor((t + offsetMs) / SLOT_MS);
    const slot = mod(abs, SLOT_COUNT);
    const level = tariff.slots[slot];
    const last = slots[slots.length - 1];
    if (last && Math.floor((last.from + offsetMs) / SLOT_MS) === abs) {
      last.to = t;
      last.energy += e;
    } else {
      slots.push({ from: t, to: t, slot, level, energy: e });
    }
    levelEnergies[level] += e;
    total += e;
  });
  if (Number.isNaN(start)) start = end = 0;
  return { start, end, meterStart: meterStartUnits, meterEnd: meterStartUnits + total, totalEnergy: total, levelEnergies, slots };
}

// ---- a session's record ---------------------------------------------------------------------

export type SessionEnergy =
  | { curve: readonly MeterSample[] }
  | { meterStart: number; increments: readonly EnergyIncrement[] }
  | { meterStart: number; levelEnergies: readonly number[] };

export interface SessionBill {
  bill: Bill;
  split?: SlotSplit;
  meterStart: number;
  meterEnd: number;
  /** The fee fields of the 0x3B body for this session, as decoded numbers. */
  record: RecordFeeFields;
}

/**
 * Everything a pile needs to fill a 0x3B record's level blocks and totals: from a meter curve,
 * from timed energy increments, or from per-level energies. Meter readings in 0.0001 kWh.
 */
export function billSession(tariff: Tariff, session: SessionEnergy, opts: TimeOptions & BillOptions = {}): SessionBill {
  if (!(tariff instanceof Tariff)) throw inputError('tariff', tariff, 'must be a Tariff (use Tariff.from)');
  if (!session || typeof session !== 'object') throw inputError('session', session, 'must be { curve } or { meterStart, increments } or { meterStart, levelEnergies }');
  let split: SlotSplit | undefined;
  let energies: readonly number[];
  let meterStart: number;
  if ('curve' in session) {
    split = splitMeterCurve(tariff, session.curve, opts);
    energies = split.levelEnergies;
    meterStart = split.meterStart;
  } else if ('increments' in session) {
    split = splitIncrements(tariff, session.meterStart, session.increments, opts);
    energies = split.levelEnergies;
    meterStart = split.meterStart;
  } else if ('levelEnergies' in session) {
    energies = session.levelEnergies;
    meterStart = energyArg('meterStart', session.meterStart);
  } else {
    throw inputError('session', JSON.stringify(session), 'must be { curve } or { meterStart, increments } or { meterStart, levelEnergies }');
  }
  const bill = billLevels(tariff, energies, opts);
  const meterEnd = meterStart + bill.totalEnergy;
  return { bill, split, meterStart, meterEnd, record: billToRecordFields(bill, meterStart, meterEnd) };
}
