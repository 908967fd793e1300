/**
 * The pile's side of billing: the model it was given (0x0A / 0x58), which price level a moment of
 * wall-clock time falls in, and a meter that integrates power over simulated time, split exactly at
 * the half-hour slot boundaries (PROTOCOL.md §7). All quantities are integers in wire units:
 * prices 0.00001 yuan/kWh, energy 0.0001 kWh, amounts 0.0001 yuan.
 */
import { Body, CHINA_OFFSET_MINUTES, YkcError } from '../protocol';
import { amountUnits } from './fees';

export const LEVELS = ['sharp', 'peak', 'flat', 'valley'] as const;
export type Level = (typeof LEVELS)[number];

export interface TariffModel {
  /** 4 BCD digits, e.g. "0100". */
  modelCode: string;
  /** Electricity rate per level (sharp, peak, flat, valley), 0.00001 yuan/kWh. */
  elec: [number, number, number, number];
  /** Service-fee rate per level, 0.00001 yuan/kWh. */
  service: [number, number, number, number];
  lossRatio: number;
  /** 48 half-hour slots, each a level index 0–3. */
  slots: number[];
}

const HALF_HOUR = 30 * 60_000;
const DAY = 24 * 3_600_000;
const OFFSET_MS = CHINA_OFFSET_MINUTES * 60_000;

/** Wire integer of a decoded scaled field (the decoder gives raw / 10^d exactly). */
function units(v: unknown, decimals: number, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new YkcError('YKC_TARIFF', `billing model: ${field} must be a non-negative number, got ${JSON.stringify(v)}`, { field });
  return Math.round(v * 10 ** decimals);
}

/** Reads a decoded 0x0A / 0x58 body. Throws YKC_TARIFF when a slot points at no level. */
export function tariffFromBody(body: Body): TariffModel {
  const slots = body.slots;
  if (!Array.isArray(slots) || slots.length !== 48) throw new YkcError('YKC_TARIFF', 'billing model: slots must be 48 rate levels', { field: 'slots' });
  slots.forEach((s, i) => {
    if (s !== 0 && s !== 1 && s !== 2 && s !== 3) throw new YkcError('YKC_TARIFF', `billing model: slot ${i} has level ${JSON.stringify(s)}, not 0–3`, { field: `slots[${i}]`, value: s });
  });
  const code = String(body.modelCode ?? '');
  if (!/^\d{4}$/.test(code)) throw new YkcError('YKC_TARIFF', `billing model: model code must be 4 digits, got ${JSON.stringify(body.modelCode)}`, { field: 'modelCode' });
  const e = LEVELS.map((l) => units(body[`${l}ElecPrice`], 5, `${l}ElecPrice`)) as TariffModel['elec'];
  const s = LEVELS.map((l) => units(body[`${l}ServicePrice`], 5, `${l}ServicePrice`)) as TariffModel['service'];
  return { modelCode: code, elec: e, service: s, lossRatio: Number(body.lossRatio ?? 0), slots: slots.slice() as number[] };
}

/** The decoded-body shape of a model (for a scripted platform's 0x0A, or the pile's events). */
export function tariffToBody(pileNo: string, m: TariffModel): Body {
  const b: Body = { pileNo, modelCode: m.modelCode, lossRatio: m.lossRatio, slots: m.slots.slice() };
  LEVELS.forEach((l, i) => {
    b[`${l}ElecPrice`] = m.elec[i] / 1e5;
    b[`${l}ServicePrice`] = m.service[i] / 1e5;
  });
  return b;
}

/** Unit price of a level (electricity + service), 0.00001 yuan/kWh, as the record carries it. */
export function levelPrice(m: TariffModel, level: number): number {
  return m.elec[level] + m.service[level];
}

/** Half-hour slot (0–47) of a wall-clock instant in China time. */
export function slotOf(wallMs: number): number {
  const local = (((wallMs + OFFSET_MS) % DAY) + DAY) % DAY;
  return Math.floor(local / HALF_HOUR);
}

/** Wall-clock ms at which the slot containing wallMs ends. */
export function slotEnd(wallMs: number): number {
  const local = (((wallMs + OFFSET_MS) % HALF_HOUR) + HALF_HOUR) % HALF_HOUR;
  return wallMs - local + HALF_HOUR;
}

/**
 * Integrates delivered power over time, per price level. Energy is kept as exact W·ms sums and
 * converted to 0.0001 kWh (= 360 000 W·ms) by truncation, so the record never claims energy the
 * meter has not yet counted; the total is the sum of the level energies, as the record requires.
 */
export class LevelMeter {
  /** W·ms delivered per level. */
  readonly wattMs = [0, 0, 0, 0];

  constructor(private readonly model: TariffModel) {}

  /** Adds `watts` delivered between the wall-clock instants from and to, split at slot boundaries. */
  add(watts: number, fromWall: number, toWall: number): void {
    if (!(toWall > fromWall) || !(watts > 0)) return;
    let t = fromWall;
    while (t < toWall) {
      const end = Math.min(slotEnd(t), toWall);
      this.wattMs[this.model.slots[slotOf(t)]] += watts * (end - t);
      t = end;
    }
  }

  /** Energy per level, 0.0001 kWh. */
  energies(): [number, number, number, number] {
    return this.wattMs.map((w) => Math.floor(w / 360_000)) as [number, number, number, number];
  }

  /** Sum of the level energies, 0.0001 kWh. */
  totalEnergy(): number {
    return this.energies().reduce((a, b) => a + b, 0);
  }

  /** Amount per level, 0.0001 yuan, by the billing library's rule. */
  amounts(): [number, number, number, number] {
    const e = this.energies();
    return e.map((en, i) => amountUnits(levelPrice(this.model, i), en)) as [number, number, number, number];
  }

  totalAmount(): number {
    return this.amounts().reduce((a, b) => a + b, 0);
  }
}

/** A plain model for demos and tests: one rate everywhere, or the document's worked example. */
export function flatTariff(code = '0100', elec = 80000, service = 40000): TariffModel {
  return { modelCode: code, elec: [elec, elec, elec, elec], service: [service, service, service, service], lossRatio: 0, slots: new Array(48).fill(2) };
}
