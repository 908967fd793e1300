/**
 * The vehicle on the other end of the cable: a battery that fills at the delivered energy, and the
 * GB/T 27930 figures a DC pile relays to the platform (0x15 BRM, 0x17 BCP+CML, 0x23 BCL+BCS+CCS,
 * 0x25 BSM, 0x19 BSD+CSD). Plausible, self-consistent numbers; nothing here is billed.
 */
import { Body } from '../protocol';

export interface CarOptions {
  /** 17-character VIN. */
  vin?: string;
  /** Usable battery energy, kWh. Default 60. */
  batteryKwh?: number;
  /** State of charge when plugged in, %. Default 30. */
  soc?: number;
  /** The car stops charging at this SOC (stop reason 0x41 at 100). Default 100. */
  targetSoc?: number;
  /** Nominal pack voltage, V. Default 400. */
  packVoltage?: number;
}

export interface Car {
  vin: string;
  batteryKwh: number;
  startSoc: number;
  targetSoc: number;
  packVoltage: number;
}

export function makeCar(o: CarOptions = {}, fallbackVin = 'LSVAU2180N2000001'): Car {
  const vin = o.vin ?? fallbackVin;
  return {
    vin: vin.slice(0, 17),
    batteryKwh: o.batteryKwh && o.batteryKwh > 0 ? o.batteryKwh : 60,
    startSoc: clamp(o.soc ?? 30, 0, 100),
    targetSoc: clamp(o.targetSoc ?? 100, 1, 100),
    packVoltage: o.packVoltage && o.packVoltage > 0 ? o.packVoltage : 400,
  };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const r1 = (v: number) => Math.round(v * 10) / 10;
const r2 = (v: number) => Math.round(v * 100) / 100;
/** GB/T 27930 currents carry a −400 A offset, so 400 A is the most a BMS frame can say. */
const amps = (v: number) => Math.min(400, r1(v));

/** SOC in % (fractional) after `energyUnits` (0.0001 kWh) went into the battery. */
export function socAfter(car: Car, energyUnits: number): number {
  return Math.min(100, car.startSoc + (energyUnits / 1e4 / car.batteryKwh) * 100);
}

/** Energy (0.0001 kWh) still needed to reach the car's target SOC. */
export function energyToTarget(car: Car, energyUnits: number): number {
  const soc = socAfter(car, energyUnits);
  return Math.max(0, Math.ceil(((car.targetSoc - soc) / 100) * car.batteryKwh * 1e4));
}

/** Pack voltage at a SOC: rises from 92 % to 105 % of nominal over the charge. */
export function packVolts(car: Car, soc: number): number {
  return r1(car.packVoltage * (0.92 + 0.13 * (soc / 100)));
}

export interface ChargeFigures {
  energyUnits: number;
  watts: number;
  minutes: number;
  remainingMinutes: number;
}

type Ids = { tradeNo: string; pileNo: string; gunNo: number };

export function handshakeBody(ids: Ids, car: Car): Body {
  return {
    ...ids,
    bmsProtocolVersion: '010100',
    batteryType: 3,
    ratedCapacity: r1((car.batteryKwh * 1000) / car.packVoltage),
    ratedVoltage: r1(car.packVoltage),
    batteryMaker: 'SIMB',
    batteryPackSerial: '00000001',
    productionYear: 2023,
    productionMonth: 6,
    productionDay: 1,
    chargeCycles: 120,
    ownership: 1,
    reserved: '00',
    vin: car.vin,
    bmsSoftwareVersion: '01010607E7FFFFFF',
  };
}

export function paramsBody(ids: Ids, car: Car, maxWatts: number): Body {
  const v = packVolts(car, car.startSoc);
  const maxA = amps(maxWatts / v);
  return {
    ...ids,
    maxCellVoltage: 4.2,
    maxChargeCurrent: -r1(Math.max(maxA, 1)),
    nominalEnergy: r1(car.batteryKwh),
    maxChargeVoltage: r1(car.packVoltage * 1.1),
    maxTemp: 60,
    soc: r1(car.startSoc),
    batteryVoltage: v,
    chargerMaxVoltage: 750,
    chargerMinVoltage: 200,
    chargerMaxCurrent: -amps(maxWatts / 200),
    chargerMinCurrent: 0,
  };
}

export function demandBody(ids: Ids, car: Car, f: ChargeFigures): Body {
  const soc = socAfter(car, f.energyUnits);
  const v = packVolts(car, soc);
  const a = f.watts > 0 ? amps(f.watts / v) : 0;
  return {
    ...ids,
    demandVoltage: r1(v + 5),
    demandCurrent: -a,
    chargeMode: 2,
    measuredVoltage: v,
    measuredCurrent: -a,
    maxCellVoltage: r2(3.3 + 0.9 * (soc / 100)),
    maxCellGroup: 1,
    soc: Math.floor(soc),
    remainingMinutes: Math.min(600, f.remainingMinutes),
    chargerOutputVoltage: v,
    chargerOutputCurrent: -a,
    chargingMinutes: f.minutes,
  };
}

export function bmsStatusBody(ids: Ids, minutes: number): Body {
  const t = Math.min(45, 25 + Math.floor(minutes / 6));
  return {
    ...ids,
    maxCellVoltageNo: 12,
    maxBatteryTemp: t,
    maxTempProbeNo: 3,
    minBatteryTemp: t - 4,
    minTempProbeNo: 7,
    status: { cellVoltage: 0, soc: 0, overCurrent: 0, overTemp: 0 },
    status2: { insulation: 0, outputConnector: 0, chargingPermitted: 1 },
  };
}

export function chargeEndBody(ids: Ids, car: Car, f: ChargeFigures, chargerNo: number): Body {
  const soc = socAfter(car, f.energyUnits);
  const t = Math.min(45, 25 + Math.floor(f.minutes / 6));
  return {
    ...ids,
    finalSoc: Math.floor(soc),
    minCellVoltage: r2(3.2 + 0.9 * (soc / 100)),
    maxCellVoltage: r2(3.3 + 0.9 * (soc / 100)),
    minBatteryTemp: t - 4,
    maxBatteryTemp: t,
    chargingMinutes: Math.min(600, f.minutes),
    outputEnergy: Math.min(6553.5, Math.floor(f.energyUnits / 1000) / 10),
    chargerNo,
  };
}
