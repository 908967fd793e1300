/**
 * What a gun and its charging session are inside the virtual pile, and the frame bodies read off
 * them: 0x13 realtime data and the 0x3B transaction record. Pure functions of the gun's state; the
 * pile brings the session meter up to date (accrue) before it calls them.
 */
import { Body, wallTimeOf } from '../protocol';
import { Car, energyToTarget, packVolts, socAfter } from './car';
import { SessionMeter } from './meter';
import { CardOutcome, GUN_CHARGING, GUN_FAULT, GUN_IDLE, PileSessionInfo, PileType } from './pile-types';

/** A remote start accepted while the gun was not plugged in (0x33 reason 0x05): it goes ahead on plug(). */
export interface PendingStart {
  tradeNo: string;
  seq: number;
  logicalCardNo: string;
  physicalCardNo: string;
  balanceCents: number;
  parallel?: { parallelNo: string; mainAux: number };
}

export interface Session extends PileSessionInfo {
  startSim: number;
  /** Fixed at the start: a time sync during the session does not move its slots or times. */
  wallOffset: number;
  meter: SessionMeter;
  car: Car;
  watts: number;
  sentBms: boolean;
}

export interface Gun {
  no: number;
  plugged: boolean;
  car: Car;
  faultBits: number;
  meter: number;
  session: Session | null;
  pendingStart: PendingStart | null;
  cardWait: { physicalCardNo: string; resolve: (o: CardOutcome) => void } | null;
  lock: { state: number; alarm: number };
  offlineCounter: number;
  lastTradeNo?: string;
}

/** 0x13 gun state. */
export function gunState(g: Gun): number {
  if (g.faultBits) return GUN_FAULT;
  return g.session ? GUN_CHARGING : GUN_IDLE;
}

export function remainingMinutes(s: Session, energy: number): number {
  if (!(s.watts > 0)) return 0;
  return Math.ceil((energyToTarget(s.car, energy) * 360_000) / s.watts / 60_000);
}

/** The 0x13 body of the gun at simulated time `now` (the session meter already accrued). */
export function realtimeBody(pileNo: string, pileType: PileType, g: Gun, now: number): Body {
  const s = g.session;
  const energy = s ? s.meter.energy : 0;
  const amount = s ? s.meter.amount : 0;
  const minutes = s ? Math.floor((now - s.startSim) / 60_000) : 0;
  const soc = s ? socAfter(s.car, energy) : 0;
  let volts = 0;
  let amps = 0;
  if (s) {
    volts = pileType === 'DC' ? packVolts(s.car, soc) : 220;
    amps = Math.round((s.watts / volts) * 10) / 10;
  }
  return {
    tradeNo: s ? s.tradeNo : '0'.repeat(32),
    pileNo,
    gunNo: g.no,
    gunState: gunState(g),
    gunHolstered: g.plugged ? 0 : 1,
    gunPlugged: g.plugged ? 1 : 0,
    outputVoltage: volts,
    outputCurrent: amps,
    gunTemp: s ? 35 + Math.min(20, Math.floor(minutes / 10)) : null,
    gunCableCode: '',
    soc: s && pileType === 'DC' ? Math.floor(soc) : 0,
    batteryMaxTemp: s && pileType === 'DC' ? 25 + Math.min(20, Math.floor(minutes / 6)) : null,
    chargingMinutes: Math.min(65535, minutes),
    remainingMinutes: s && pileType === 'DC' ? Math.min(65535, remainingMinutes(s, energy)) : 0,
    chargedEnergy: energy / 1e4,
    lossEnergy: (s ? s.meter.lossEnergy : 0) / 1e4,
    chargedAmount: amount / 1e4,
    hardwareFault: g.faultBits,
  };
}

export function sessionInfo(s: Session): PileSessionInfo {
  const out: PileSessionInfo = {
    gunNo: s.gunNo,
    tradeNo: s.tradeNo,
    startType: s.startType,
    logicalCardNo: s.logicalCardNo,
    physicalCardNo: s.physicalCardNo,
    balance: s.balance,
    startedAt: s.startedAt,
  };
  if (s.parallelNo) out.parallelNo = s.parallelNo;
  return out;
}

/**
 * The 0x3B body; level blocks, meter readings and totals are the billing library's record fields.
 * `meterJump` (0.0001 kWh) is the fault that inflates the meter end and total energy.
 */
export function recordBody(pileNo: string, pileType: PileType, g: Gun, s: Session, stopReason: number, meterJump: number): Body {
  const end = s.meter.now;
  const fees = { ...s.meter.bill().record };
  const plus = (kwh: number) => (Math.round(kwh * 1e4) + meterJump) / 1e4;
  if (meterJump) Object.assign(fees, { meterEnd: plus(fees.meterEnd), totalEnergy: plus(fees.totalEnergy) });
  return {
    tradeNo: s.tradeNo,
    pileNo,
    gunNo: g.no,
    startTime: s.startedAt,
    endTime: end,
    ...fees,
    vin: s.startType === 2 || s.startType === 4 || pileType === 'AC' ? '' : s.car.vin,
    startType: s.startType,
    tradeTime: end,
    stopReason,
    physicalCardNo: s.physicalCardNo,
  };
}

/** A trade number the pile makes itself for an offline session: pile, gun, wall time, 4-digit counter. */
export function offlineTradeNo(pileNo: string, gunNo: number, wallMs: number, counter: number): string {
  const w = wallTimeOf(new Date(wallMs));
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${pileNo}${p2(gunNo)}${p2(w.year % 100)}${p2(w.month)}${p2(w.day)}${p2(w.hour)}${p2(w.minute)}${p2(w.second)}${String(counter).padStart(4, '0')}`;
}

/** The 0x33 / 0xA3 body answering a remote start (0xA3 carries the parallel fields). */
export function startReplyBody(pileNo: string, gunNo: number, p: { tradeNo: string; parallel?: { parallelNo: string; mainAux: number } }, result: number, reason: number): Body {
  const body: Body = { tradeNo: p.tradeNo, pileNo, gunNo, result, failReason: reason };
  if (p.parallel) {
    body.mainAux = p.parallel.mainAux;
    body.parallelNo = p.parallel.parallelNo;
  }
  return body;
}
