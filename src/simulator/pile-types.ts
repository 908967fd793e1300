/**
 * The virtual pile's public vocabulary: options, faults, timing, events, snapshots, stats and the
 * protocol constants it uses (0x13 gun states, §6.1 stop reasons). Re-exported by pile.ts, so
 * `import { … } from './pile'` keeps working.
 */
import { Clock } from './clock';
import { OtaExpectation, OtaOutcome } from './ota';
import { WireFaults } from './link';
import { Body } from '../protocol';
import { Tariff } from '../billing/tariff';

export type PileType = 'AC' | 'DC';
export type ProtocolVersion = '1.5' | '1.6';

/** Misbehaviour on purpose, to test what the platform tolerates. All can be changed at run time. */
export interface PileFaults extends WireFaults {
  /** Send the CRC high byte first (the JCPP-style quirk of docs/protocol.md §2.1). */
  hiFirstCrc?: boolean;
  /** Leave the old connection open (silent) whenever the pile reconnects, and once right after the first login. */
  staleConnection?: boolean;
  /** The pile's wall clock is off by this many ms (its CP56 times and tariff slots follow it). */
  clockSkewMs?: number;
  /** Originate nothing (no heartbeats, realtime data, BMS frames, records); replies still go out. */
  silence?: boolean;
  /** Do not answer platform commands: true = never, a number = probability. */
  dropReplies?: boolean | number;
  /** Keep finished records to itself (as if lost); clearing the fault sends them. */
  holdRecords?: boolean;
  /** Add this much (0.0001 kWh) to the meter end and total energy of the records it makes. */
  meterJump?: number;
  /** Offline sessions take the gun's previous trade number again instead of a new one. */
  reuseTradeNo?: boolean;
}

export interface PileTiming {
  heartbeatMs: number;
  /** Unanswered heartbeats in a row that count as a lost link. */
  heartbeatMisses: number;
  loginRetryMs: number;
  modelRetryMs: number;
  realtimeIdleMs: number;
  realtimeChargingMs: number;
  /** Base reconnect delay (doubles per failed attempt up to reconnectMaxMs), jittered. */
  reconnectMs: number;
  reconnectMaxMs: number;
  /** Wait after a login was rejected (doubles per rejection up to reconnectMaxMs · 5). */
  loginRejectBackoffMs: number;
  latePlugWindowMs: number;
  cardAuthTimeoutMs: number;
  recordRetryMs: number;
  recordRetries: number;
  recordFinalMs: number;
  rebootMs: number;
  /** ± fraction applied to retry, reconnect and first-heartbeat delays. */
  jitter: number;
}

export const DEFAULT_TIMING: Readonly<PileTiming> = {
  heartbeatMs: 10_000,
  heartbeatMisses: 3,
  loginRetryMs: 10_000,
  modelRetryMs: 10_000,
  realtimeIdleMs: 300_000,
  realtimeChargingMs: 15_000,
  reconnectMs: 5_000,
  reconnectMaxMs: 120_000,
  loginRejectBackoffMs: 60_000,
  latePlugWindowMs: 60_000,
  cardAuthTimeoutMs: 15_000,
  recordRetryMs: 30_000,
  recordRetries: 3,
  recordFinalMs: 300_000,
  rebootMs: 5_000,
  jitter: 0.2,
};

export interface VirtualPileOptions {
  host?: string;
  port: number;
  /** 14 digits. */
  pileNo: string;
  pileType?: PileType;
  guns?: number;
  version?: ProtocolVersion;
  /** ≤ 8 ASCII characters. */
  firmware?: string;
  /** 20-digit SIM ICCID (zeros when absent). */
  iccid?: string;
  /** 0 SIM, 1 LAN, 2 WAN, 3 other. Default 0 when an ICCID is given, else 1. */
  network?: number;
  /** 0 China Mobile, 2 Telecom, 3 Unicom, 4 other. */
  carrier?: number;
  /** Rated power per gun in kW (one number for all guns, or one per gun). Default DC 60, AC 7. */
  powerKw?: number | number[];
  /** The time line; default a ScaledClock with `speed`. */
  clock?: Clock;
  /** Simulated ms per real ms when no clock is given. Default 1. */
  speed?: number;
  seed?: number;
  /** A model the pile already holds (its code goes into 0x05): a Tariff or a decoded 0x0A/0x58 body. Default none ("0000"). */
  tariff?: Tariff | Record<string, unknown> | null;
  /** Offline cards known from the start. */
  offlineCards?: { logicalCardNo: string; physicalCardNo: string }[];
  offlineCardCapacity?: number;
  /** Meter reading of every gun at start, 0.0001 kWh. Default seeded, below 5 000 kWh. */
  meterStart?: number;
  faults?: PileFaults;
  timing?: Partial<PileTiming>;
  /**
   * A 0x94 is served by really downloading the file from the FTP server the frame names (see
   * ota.ts). Set this to skip the download and answer as if it had ended so: 0 ok (then reboot),
   * 2 firmware does not fit, 3 download timed out.
   */
  otaResult?: 0 | 2 | 3;
  /** Firmware string after a successful update; default the file name without extension (≤ 8 characters). */
  otaFirmware?: string;
  /** What the downloaded file must be (size, SHA-256, MD5); a mismatch answers status 2. */
  otaExpect?: OtaExpectation;
  /** The vendor's file name, fetched when the 0x94 path ends in "/" (default `ykc-fw.bin`). */
  otaFileName?: string;
}

/** A remote update's outcome, emitted as 'ota' once the pile has answered 0x93. */
export interface PileOtaEvent extends OtaOutcome {
  ftpHost: string;
  ftpPath: string;
  firmwareBefore: string;
}

export type LinkState = 'offline' | 'connecting' | 'login' | 'online' | 'rebooting' | 'closed';

/** 0x13 gun state. */
export const GUN_FAULT = 1;
export const GUN_IDLE = 2;
export const GUN_CHARGING = 3;

/** §6.1 stop reasons the simulator uses. */
export const STOP = {
  APP: 0x40,
  SOC_FULL: 0x41,
  MANUAL: 0x45,
  NO_BALANCE_AT_START: 0x4e,
  PILOT_LOST: 0x6b,
  BALANCE_EXHAUSTED: 0x6e,
  POWER_MODULE: 0x71,
  EMERGENCY_STOP: 0x72,
  POWER_LOST: 0x83,
} as const;

export interface PileSessionInfo {
  gunNo: number;
  tradeNo: string;
  /** 1 app, 2 card, 4 offline card. */
  startType: number;
  logicalCardNo: string;
  physicalCardNo: string;
  /** Balance in 0.0001 yuan, null = no limit known. */
  balance: number | null;
  /** Simulated epoch ms (pile wall clock). */
  startedAt: number;
  parallelNo?: string;
}

export interface PileSessionEvent extends Partial<PileSessionInfo> {
  event: 'started' | 'ended' | 'refused' | 'expired';
  gunNo: number;
  stopReason?: number;
  /** 0.0001 kWh and 0.0001 yuan. */
  energy?: number;
  amount?: number;
  reason?: string;
}

export interface PileRecordEvent {
  event: 'sent' | 'confirmed' | 'refused' | 'abandoned' | 'stored';
  tradeNo: string;
  attempt: number;
  body: Body;
}

export interface GunSnapshot {
  gunNo: number;
  state: number;
  plugged: boolean;
  faultBits: number;
  /** Meter reading, 0.0001 kWh. */
  meter: number;
  session: (PileSessionInfo & { energy: number; amount: number; soc: number }) | null;
  waitingForPlug: boolean;
}

export interface PileSnapshot {
  pileNo: string;
  link: LinkState;
  modelCode: string;
  disabled: boolean;
  maxPowerPercent: number;
  guns: GunSnapshot[];
  pendingRecords: number;
  offlineCards: number;
}

export interface PileStats {
  connects: number;
  logins: number;
  loginRejected: number;
  reconnects: number;
  heartbeatTimeouts: number;
  reboots: number;
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** TCP write calls (closed connections only; see liveStats()). */
  writes: number;
  repliesDropped: number;
  sessionsStarted: number;
  sessionsEnded: number;
  recordsSent: number;
  recordsConfirmed: number;
  recordsRefused: number;
  recordsAbandoned: number;
  errors: number;
}

export type CardOutcome =
  | { result: 'started'; session: PileSessionInfo }
  | { result: 'stopped'; tradeNo: string }
  | { result: 'refused'; reason: string; failReason?: number };

/** @deprecated use PileRecordEvent (the gateway exports its own RecordEvent). */
export type RecordEvent = PileRecordEvent;
/** @deprecated use PileSessionEvent (the gateway exports its own SessionEvent). */
export type SessionEvent = PileSessionEvent;
/** @deprecated use PileSessionInfo (the gateway exports its own SessionInfo). */
export type SessionInfo = PileSessionInfo;
