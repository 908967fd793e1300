/**
 * The pile's energy meter for one session. Power is integrated exactly over simulated time
 * (W·ms; 0.0001 kWh = 360 000 W·ms) and the meter is read at the session start, at every
 * half-hour slot boundary it crosses and now — what a real pile snapshots when the tariff period
 * changes. The split into price levels and every amount come from the billing library
 * (billSession on that meter curve), so the pile and the platform share one set of rules.
 */
import { billSession, lossEnergyUnits, SessionBill, MeterSample } from '../billing/compute';
import { Tariff } from '../billing/tariff';
import { CHINA_OFFSET_MINUTES } from '../protocol';

const HALF_HOUR = 30 * 60_000;
const OFFSET_MS = CHINA_OFFSET_MINUTES * 60_000;
/** W·ms in one meter unit (0.0001 kWh). */
export const WATT_MS_PER_UNIT = 360_000;

/** Wall-clock ms at which the half-hour slot containing wallMs ends (China time). */
export function slotEnd(wallMs: number): number {
  const into = (((wallMs + OFFSET_MS) % HALF_HOUR) + HALF_HOUR) % HALF_HOUR;
  return wallMs - into + HALF_HOUR;
}

export class SessionMeter {
  private wattMs = 0;
  private wall: number;
  private readonly curve: MeterSample[];
  private cached: SessionBill | null = null;

  /** meterStart in 0.0001 kWh; startWall in epoch ms on the pile's wall clock. */
  constructor(
    readonly tariff: Tariff,
    readonly meterStart: number,
    readonly startWall: number,
  ) {
    this.wall = startWall;
    this.curve = [{ time: startWall, meterUnits: meterStart }];
  }

  /** Wall-clock time the meter has been brought up to. */
  get now(): number {
    return this.wall;
  }

  /** Meter reading now, 0.0001 kWh (truncated: never more than was delivered). */
  get reading(): number {
    return this.meterStart + Math.floor(this.wattMs / WATT_MS_PER_UNIT);
  }

  /** Energy of the session so far, 0.0001 kWh. */
  get energy(): number {
    return this.reading - this.meterStart;
  }

  /** Adds `watts` delivered from the last reading up to the wall-clock instant `toWall`. */
  add(watts: number, toWall: number): void {
    if (!(toWall > this.wall)) return;
    let t = this.wall;
    while (t < toWall) {
      const boundary = slotEnd(t);
      const end = Math.min(boundary, toWall);
      if (watts > 0) this.wattMs += watts * (end - t);
      // At a slot boundary the pile reads its meter: the reading that splits the levels.
      if (end === boundary) this.curve.push({ time: end, meterUnits: this.reading });
      t = end;
    }
    this.wall = toWall;
    this.cached = null;
  }

  /** The bill so far (levels, amounts, 0x3B fee fields), by the billing library's rules. */
  bill(): SessionBill {
    if (!this.cached) this.cached = billSession(this.tariff, { curve: [...this.curve, { time: this.wall, meterUnits: this.reading }] });
    return this.cached;
  }

  /** Amount so far, 0.0001 yuan. */
  get amount(): number {
    return this.bill().bill.totalAmount;
  }

  /** Loss-adjusted energy for the realtime frame (equal to the energy when the loss ratio is 0, §5.2). */
  get lossEnergy(): number {
    return lossEnergyUnits(this.energy, this.tariff.lossRatio, 'energy');
  }

  /** The meter curve (start, each slot boundary, now). */
  samples(): MeterSample[] {
    return [...this.curve, { time: this.wall, meterUnits: this.reading }];
  }
}
