/**
 * A virtual charging pile: the pile side of YKC 1.5/1.6 over a real TCP connection, driven by a
 * Clock so tests and load runs can compress protocol time. Behaviour follows PROTOCOL.md §8; the
 * choices the document leaves open are listed in docs/simulator.md.
 *
 * An EventEmitter, no Node-RED: 'sent' / 'received' (decoded frame, raw bytes), 'state', 'session',
 * 'record', 'tariff', 'error' (only emitted when someone listens — a pile never crashes its host).
 */
import { EventEmitter } from 'events';
import * as net from 'net';
import { Body, CrcOrder, DecodedFrame, YkcError, decodeFrame, encodeFrame, instantOf, parseWallTime, wallTimeOf } from '../protocol';
import { Clock, ScaledClock, TimerSet } from './clock';
import { OfflineCardStore, normCard } from './cards';
import { downloadUpdate, OtaExpectation, OtaOutcome } from './ota';
import { Car, CarOptions, bmsStatusBody, chargeEndBody, demandBody, energyToTarget, handshakeBody, makeCar, packVolts, paramsBody, socAfter } from './car';
import { PileLink, WireFaults } from './link';
import { Random } from './random';
import { levelAtTime } from '../billing/compute';
import { Tariff } from '../billing/tariff';
import { SessionMeter } from './meter';

export type PileType = 'AC' | 'DC';
export type ProtocolVersion = '1.5' | '1.6';

/** Misbehaviour on purpose, to test what the platform tolerates. All can be changed at run time. */
export interface PileFaults extends WireFaults {
  /** Send the CRC high byte first (the JCPP-style quirk of PROTOCOL.md §2.1). */
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

interface PendingStart {
  tradeNo: string;
  seq: number;
  logicalCardNo: string;
  physicalCardNo: string;
  balanceCents: number;
  parallel?: { parallelNo: string; mainAux: number };
}

interface Session extends PileSessionInfo {
  startSim: number;
  /** Fixed at the start: a time sync during the session does not move its slots or times. */
  wallOffset: number;
  meter: SessionMeter;
  car: Car;
  watts: number;
  sentBms: boolean;
}

interface Gun {
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

interface PendingRecord {
  tradeNo: string;
  body: Body;
  attempts: number;
}

const PILE_RE = /^\d{14}$/;

export class VirtualPile extends EventEmitter {
  readonly pileNo: string;
  readonly pileType: PileType;
  readonly version: ProtocolVersion;
  readonly host: string;
  readonly port: number;
  readonly clock: Clock;
  readonly timing: PileTiming;
  readonly cards: OfflineCardStore;
  firmware: string;
  readonly stats: PileStats = {
    connects: 0, logins: 0, loginRejected: 0, reconnects: 0, heartbeatTimeouts: 0, reboots: 0,
    framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, writes: 0, repliesDropped: 0,
    sessionsStarted: 0, sessionsEnded: 0, recordsSent: 0, recordsConfirmed: 0, recordsRefused: 0, recordsAbandoned: 0, errors: 0,
  };

  private readonly opts: VirtualPileOptions;
  private readonly rnd: Random;
  private readonly timers: TimerSet;
  private readonly guns: Gun[];
  private readonly powerW: number[];
  private faults: PileFaults;
  private state: LinkState = 'offline';
  private link: PileLink | null = null;
  private readonly stale: PileLink[] = [];
  private readonly sockets = new Set<net.Socket>();
  private tariff: Tariff | null;
  private modelPhase: 'idle' | 'check' | 'request' | 'ok' = 'idle';
  private hbAwaiting = false;
  private hbMissed = 0;
  private hbDue = 0;
  private failures = 0;
  private rejections = 0;
  private wallOffset: number;
  private disabled = false;
  private maxPowerPercent = 100;
  private rebootWhenIdle = false;
  private readonly records = new Map<string, PendingRecord>();
  private closing: Promise<void> | null = null;
  private staleDone = false;

  constructor(opts: VirtualPileOptions) {
    super();
    if (!opts || typeof opts !== 'object') throw new YkcError('YKC_INPUT', 'VirtualPile needs options { port, pileNo, … }');
    if (!PILE_RE.test(String(opts.pileNo))) throw new YkcError('YKC_INPUT', `pileNo must be 14 digits, got ${JSON.stringify(opts.pileNo)}`, { field: 'pileNo' });
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new YkcError('YKC_INPUT', `port must be 0–65535, got ${JSON.stringify(opts.port)}`, { field: 'port' });
    const guns = opts.guns ?? 1;
    if (!Number.isInteger(guns) || guns < 1 || guns > 99) throw new YkcError('YKC_INPUT', `guns must be 1–99, got ${JSON.stringify(opts.guns)}`, { field: 'guns' });
    const fw = opts.firmware ?? 'SIM-1.00';
    if (fw.length > 8 || !/^[\x20-\x7e]*$/.test(fw)) throw new YkcError('YKC_INPUT', `firmware must be at most 8 ASCII characters, got ${JSON.stringify(fw)}`, { field: 'firmware' });
    if (opts.iccid !== undefined && !/^\d{1,20}$/.test(opts.iccid)) throw new YkcError('YKC_INPUT', `iccid must be up to 20 digits, got ${JSON.stringify(opts.iccid)}`, { field: 'iccid' });
    const type = opts.pileType ?? 'DC';
    if (type !== 'AC' && type !== 'DC') throw new YkcError('YKC_INPUT', `pileType must be "AC" or "DC", got ${JSON.stringify(type)}`, { field: 'pileType' });
    const version = opts.version ?? '1.5';
    if (version !== '1.5' && version !== '1.6') throw new YkcError('YKC_INPUT', `version must be "1.5" or "1.6", got ${JSON.stringify(version)}`, { field: 'version' });

    this.opts = opts;
    this.pileNo = opts.pileNo;
    this.pileType = type;
    this.version = version;
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port;
    this.firmware = fw;
    this.clock = opts.clock ?? new ScaledClock(opts.speed ?? 1);
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.rnd = new Random(opts.seed ?? Number(opts.pileNo.slice(-9)) + 1);
    this.timers = new TimerSet(this.clock);
    this.faults = { ...opts.faults };
    this.wallOffset = this.faults.clockSkewMs ?? 0;
    this.tariff = opts.tariff ? Tariff.from(opts.tariff) : null;
    this.cards = new OfflineCardStore(opts.offlineCardCapacity ?? 1000);
    if (opts.offlineCards?.length) {
      const r = this.cards.sync(opts.offlineCards);
      if (!r.result) throw new YkcError('YKC_INPUT', 'offlineCards: malformed card number or more than the capacity', { field: 'offlineCards' });
    }
    const kw = opts.powerKw ?? (type === 'DC' ? 60 : 7);
    this.powerW = Array.from({ length: guns }, (_, i) => {
      const v = Array.isArray(kw) ? kw[i] ?? kw[kw.length - 1] : kw;
      if (!(v > 0) || !Number.isFinite(v)) throw new YkcError('YKC_INPUT', `powerKw must be positive, got ${JSON.stringify(v)}`, { field: 'powerKw' });
      return Math.round(v * 1000);
    });
    this.guns = Array.from({ length: guns }, (_, i) => ({
      no: i + 1,
      plugged: false,
      car: makeCar({}, this.defaultVin(i + 1)),
      faultBits: 0,
      meter: opts.meterStart ?? this.rnd.int(0, 50_000_000),
      session: null,
      pendingStart: null,
      cardWait: null,
      lock: { state: 0xff, alarm: 0 },
      offlineCounter: 0,
    }));
  }

  // ---- public API ------------------------------------------------------------------------------

  get linkState(): LinkState {
    return this.state;
  }

  get online(): boolean {
    return this.state === 'online';
  }

  get gunCount(): number {
    return this.guns.length;
  }

  get model(): Tariff | null {
    return this.tariff;
  }

  /** The pile's wall clock (simulated epoch ms, including skew and time syncs). */
  wallNow(): number {
    return this.clock.now() + this.wallOffset;
  }

  /** Starts connecting (and keeps reconnecting until close()). */
  connect(): void {
    if (this.state === 'closed') throw new YkcError('YKC_CLOSED', `pile ${this.pileNo} is closed`);
    if (this.state !== 'offline') return;
    this.openLink();
  }

  /** Resolves once the pile is logged in; rejects with YKC_TIMEOUT after timeoutMs of real time. */
  waitOnline(timeoutMs = 10_000): Promise<void> {
    if (this.state === 'online') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = (s: PileSnapshot) => {
        if (s.link === 'online') done(null);
        else if (s.link === 'closed') done(new YkcError('YKC_CLOSED', `pile ${this.pileNo} closed before it came online`));
      };
      const t = setTimeout(() => done(new YkcError('YKC_TIMEOUT', `pile ${this.pileNo} not online within ${timeoutMs} ms`)), timeoutMs);
      const done = (e: Error | null) => {
        clearTimeout(t);
        this.off('state', onState);
        if (e) reject(e);
        else resolve();
      };
      this.on('state', onState);
    });
  }

  /** Ends every timer and socket (stale ones included). Pending records are dropped. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.setState('closed');
    this.timers.clearAll();
    for (const g of this.guns) {
      if (g.cardWait) {
        const w = g.cardWait;
        g.cardWait = null;
        w.resolve({ result: 'refused', reason: 'pile closed' });
      }
    }
    const waits: Promise<void>[] = [];
    for (const s of this.sockets) {
      if (s.destroyed) continue;
      waits.push(new Promise<void>((r) => s.once('close', () => r())));
    }
    this.link?.destroy();
    this.link = null;
    for (const l of this.stale) l.destroy();
    this.stale.length = 0;
    for (const s of this.sockets) s.destroy();
    this.closing = Promise.all(waits).then(() => undefined);
    return this.closing;
  }

  /** Changes fault injection at run time. */
  setFaults(f: Partial<PileFaults>): void {
    const skewBefore = this.faults.clockSkewMs ?? 0;
    const held = this.faults.holdRecords;
    this.faults = { ...this.faults, ...f };
    if (held && !this.faults.holdRecords && this.state === 'online') for (const r of [...this.records.values()]) if (r.attempts === 0) this.deliverRecord(r);
    if (f.clockSkewMs !== undefined) this.wallOffset += f.clockSkewMs - skewBefore;
    if (f.silence === false) this.hbAwaiting = false;
  }

  getFaults(): PileFaults {
    return { ...this.faults };
  }

  /** The car is connected to the gun. A start waiting for the plug (0x33 reason 0x05) now goes ahead. */
  plug(gunNo: number, car?: CarOptions): void {
    const g = this.gun(gunNo);
    if (g.plugged) return;
    g.plugged = true;
    g.car = makeCar(car, this.defaultVin(g.no));
    const p = g.pendingStart;
    if (p && !g.session && !g.faultBits) {
      g.pendingStart = null;
      this.timers.clear(`late:${g.no}`);
      this.reply(p.parallel ? 0xa3 : 0x33, this.startReplyBody(g.no, p, 1, 0), p.seq);
      this.beginSession(g, { tradeNo: p.tradeNo, startType: 1, logicalCardNo: p.logicalCardNo, physicalCardNo: p.physicalCardNo, balance: p.balanceCents * 100, parallelNo: p.parallel?.parallelNo });
    } else {
      this.realtimeNow(g);
    }
    this.emitState();
  }

  /** The cable is pulled. A running session ends at once (stop reason 0x6B, control pilot lost). */
  unplug(gunNo: number): void {
    const g = this.gun(gunNo);
    if (!g.plugged) return;
    g.plugged = false;
    if (g.session) this.endSession(g, STOP.PILOT_LOST);
    else this.realtimeNow(g);
    this.emitState();
  }

  /**
   * A card is presented at the gun. While the gun charges a session started with this card, the
   * card stops it (0x45). Otherwise the pile asks the platform (0x31 → 0x32); without a link, or if
   * the platform does not answer in time, a card in the offline list starts an offline session.
   */
  card(gunNo: number, physicalCardNo: string): Promise<CardOutcome> {
    const g = this.gun(gunNo);
    const card = normCard(physicalCardNo);
    if (!card) return Promise.reject(new YkcError('YKC_INPUT', `physical card number must be up to 16 hex digits, got ${JSON.stringify(physicalCardNo)}`, { field: 'physicalCardNo' }));
    if (g.session) {
      if (g.session.physicalCardNo === card) {
        const tradeNo = g.session.tradeNo;
        this.endSession(g, STOP.MANUAL);
        return Promise.resolve({ result: 'stopped', tradeNo });
      }
      return Promise.resolve(this.refuse(g, 'gun busy with another card'));
    }
    if (g.cardWait) return Promise.resolve(this.refuse(g, 'a card request is already waiting'));
    if (!g.plugged) return Promise.resolve(this.refuse(g, 'gun not plugged in'));
    if (g.faultBits) return Promise.resolve(this.refuse(g, 'gun fault'));
    if (this.disabled) return Promise.resolve(this.refuse(g, 'pile disabled'));
    if (!this.tariff) return Promise.resolve(this.refuse(g, 'no billing model'));
    if (!this.online || this.faults.silence) return Promise.resolve(this.offlineStart(g, card, 'link down'));
    return new Promise<CardOutcome>((resolve) => {
      g.cardWait = { physicalCardNo: card, resolve };
      this.originate(0x31, {
        pileNo: this.pileNo,
        gunNo: g.no,
        startMethod: 1,
        passwordRequired: 0,
        physicalCardNo: card,
        password: '',
        vin: '',
      });
      this.timers.set(`card:${g.no}`, this.timing.cardAuthTimeoutMs, () => {
        const w = g.cardWait;
        if (!w) return;
        g.cardWait = null;
        w.resolve(this.offlineStart(g, card, 'no answer from the platform'));
      });
    });
  }

  /**
   * A fault on the gun (default: power-module fault). A running session ends with `stopReason`
   * (default 0x71); the gun reports state 1 (fault) until clearFault().
   */
  fault(gunNo: number, opts: { stopReason?: number; faultBits?: number } = {}): void {
    const g = this.gun(gunNo);
    g.faultBits = opts.faultBits ?? 0b10;
    if (g.session) this.endSession(g, opts.stopReason ?? STOP.POWER_MODULE);
    else this.realtimeNow(g);
    this.emitState();
  }

  clearFault(gunNo: number): void {
    const g = this.gun(gunNo);
    if (!g.faultBits) return;
    g.faultBits = 0;
    this.realtimeNow(g);
    this.emitState();
  }

  /** Stops the session on the gun from the pile side (default 0x45 "stopped manually"). False when idle. */
  stop(gunNo: number, stopReason: number = STOP.MANUAL): boolean {
    const g = this.gun(gunNo);
    if (!g.session) return false;
    this.endSession(g, stopReason);
    return true;
  }

  /** The car's battery is full (stop reason 0x41). */
  carFull(gunNo: number): boolean {
    return this.stop(gunNo, STOP.SOC_FULL);
  }

  /** Guns with a session running. */
  get chargingGuns(): number {
    let n = 0;
    for (const g of this.guns) if (g.session) n++;
    return n;
  }

  /** Records not yet confirmed by 0x40. */
  get pendingRecordCount(): number {
    return this.records.size;
  }

  /** A cheap look at one gun (no meter reading, unlike snapshot()). */
  gunStatus(gunNo: number): { gunNo: number; plugged: boolean; charging: boolean; faulted: boolean; tradeNo: string | null; waitingForPlug: boolean } {
    const g = this.gun(gunNo);
    return { gunNo: g.no, plugged: g.plugged, charging: !!g.session, faulted: !!g.faultBits, tradeNo: g.session?.tradeNo ?? null, waitingForPlug: !!g.pendingStart };
  }

  /** Stats including the bytes and writes of the connection still open. */
  liveStats(): PileStats {
    const l = this.link;
    const s = { ...this.stats };
    if (l && this.sockets.has(l.socket)) {
      s.bytesSent += l.bytesOut;
      s.bytesReceived += l.bytesIn;
      s.writes += l.writes;
    }
    return s;
  }

  snapshot(): PileSnapshot {
    return {
      pileNo: this.pileNo,
      link: this.state,
      modelCode: this.tariff?.modelCode ?? '0000',
      disabled: this.disabled,
      maxPowerPercent: this.maxPowerPercent,
      guns: this.guns.map((g) => this.gunSnapshot(g)),
      pendingRecords: this.records.size,
      offlineCards: this.cards.size,
    };
  }

  /** Records not yet confirmed by 0x40 (bodies in decoded-frame shape). */
  pendingRecords(): Body[] {
    return [...this.records.values()].map((r) => r.body);
  }

  // ---- connection ------------------------------------------------------------------------------

  private openLink(): void {
    if (this.state === 'closed') return;
    this.setState('connecting');
    this.stats.connects++;
    const socket = net.connect({ host: this.host, port: this.port });
    this.sockets.add(socket);
    let link: PileLink;
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.stats.bytesSent += link.bytesOut;
      this.stats.bytesReceived += link.bytesIn;
      this.stats.writes += link.writes;
      if (this.link === link) this.linkDown();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (this.link === link && this.state !== 'closed') this.fail(new YkcError('YKC_OFFLINE', `pile ${this.pileNo}: ${e.code ?? e.message}`, { pileNo: this.pileNo, errno: e.code }));
    });
    link = new PileLink(
      socket,
      this.rnd,
      () => this.faults,
      (frame, order) => this.onFrame(link, frame, order),
      (err) => this.fail(err),
    );
    this.link = link;
    socket.once('connect', () => {
      if (this.link !== link) return;
      this.setState('login');
      this.sendLogin();
    });
  }

  /** The current connection is gone (closed by the platform, reset, or dropped by us). */
  private linkDown(): void {
    this.link = null;
    this.stopLinkTimers();
    for (const g of this.guns) {
      if (g.cardWait) {
        const w = g.cardWait;
        g.cardWait = null;
        this.timers.clear(`card:${g.no}`);
        w.resolve(this.offlineStart(g, w.physicalCardNo, 'link lost'));
      }
    }
    if (this.state === 'closed' || this.state === 'rebooting') return;
    this.setState('offline');
    this.failures++;
    const delay = this.rnd.jitter(Math.min(this.timing.reconnectMaxMs, this.timing.reconnectMs * 2 ** Math.min(this.failures - 1, 6)), this.timing.jitter);
    this.scheduleReconnect(delay);
  }

  private scheduleReconnect(ms: number): void {
    this.timers.set('reconnect', ms, () => {
      this.stats.reconnects++;
      this.openLink();
    });
  }

  /** Gives up on the current connection; with staleConnection it is left open and silent instead. */
  private dropLink(): void {
    const l = this.link;
    if (!l) return;
    if (this.faults.staleConnection) {
      l.abandon();
      this.stale.push(l);
      this.link = null;
      this.linkDown();
    } else {
      l.destroy();
    }
  }

  private stopLinkTimers(): void {
    for (const n of ['login', 'hb', 'model']) this.timers.clear(n);
    this.hbAwaiting = false;
    this.hbMissed = 0;
    this.modelPhase = 'idle';
  }

  private sendLogin(): void {
    const iccid = this.opts.iccid ?? '';
    this.send(0x01, {
      pileNo: this.pileNo,
      pileType: this.pileType === 'DC' ? 0 : 1,
      gunCount: this.guns.length,
      protocolVersion: this.version === '1.6' ? 1.6 : 1.5,
      firmwareVersion: this.firmware,
      networkType: this.opts.network ?? (iccid ? 0 : 1),
      iccid: iccid.padStart(20, '0'),
      carrier: this.opts.carrier ?? (iccid ? 0 : 4),
    });
    this.timers.set('login', this.rnd.jitter(this.timing.loginRetryMs, this.timing.jitter), () => {
      if (this.state === 'login') this.sendLogin();
    });
  }

  private onLoginReply(f: DecodedFrame): void {
    if (this.state !== 'login') return;
    this.timers.clear('login');
    if (f.body.result !== 0) {
      this.stats.loginRejected++;
      this.rejections++;
      this.fail(new YkcError('YKC_LOGIN', `pile ${this.pileNo}: login rejected by the platform`, { pileNo: this.pileNo }));
      const l = this.link;
      this.link = null;
      l?.destroy();
      this.stopLinkTimers();
      this.setState('offline');
      const wait = Math.min(this.timing.reconnectMaxMs * 5, this.timing.loginRejectBackoffMs * 2 ** Math.min(this.rejections - 1, 6));
      this.scheduleReconnect(this.rnd.jitter(wait, this.timing.jitter));
      return;
    }
    this.stats.logins++;
    this.failures = 0;
    this.rejections = 0;
    if (this.faults.staleConnection && !this.staleDone) {
      // Leave this first connection hanging, as a pile that rebooted without a FIN would.
      this.staleDone = true;
      const l = this.link!;
      l.abandon();
      this.stale.push(l);
      this.link = null;
      this.stopLinkTimers();
      this.setState('offline');
      this.scheduleReconnect(this.rnd.int(0, 50));
      return;
    }
    this.setState('online');
    this.hbAwaiting = false;
    this.hbMissed = 0;
    this.armHeartbeat(this.rnd.jitter(this.timing.heartbeatMs, this.timing.jitter));
    this.modelCheck();
    for (const r of [...this.records.values()]) this.deliverRecord(r);
    for (const g of this.guns) this.realtimeNow(g);
  }

  private heartbeatTick(): void {
    if (this.state !== 'online') return;
    // A tick that fires well after its time means the host, not the link, stalled (a sped-up clock
    // magnifies every pause): that round does not count as a missed reply.
    const stalled = this.clock.now() - this.hbDue > this.timing.heartbeatMs / 2;
    if (this.faults.silence) {
      this.hbAwaiting = false;
      this.hbMissed = 0;
    } else {
      if (!stalled) this.hbMissed = this.hbAwaiting ? this.hbMissed + 1 : 0;
      if (this.hbMissed >= this.timing.heartbeatMisses) {
        this.stats.heartbeatTimeouts++;
        this.fail(new YkcError('YKC_TIMEOUT', `pile ${this.pileNo}: ${this.hbMissed} heartbeats unanswered, reconnecting`, { pileNo: this.pileNo }));
        this.dropLink();
        return;
      }
      for (const g of this.guns) this.originate(0x03, { pileNo: this.pileNo, gunNo: g.no, gunState: g.faultBits ? 1 : 0 });
      this.hbAwaiting = true;
    }
    this.armHeartbeat(this.timing.heartbeatMs);
  }

  private armHeartbeat(ms: number): void {
    this.hbDue = this.clock.now() + ms;
    this.timers.set('hb', ms, () => this.heartbeatTick());
  }

  // ---- billing model ---------------------------------------------------------------------------

  private modelCheck(): void {
    if (this.state !== 'online') return;
    this.modelPhase = 'check';
    this.send(0x05, { pileNo: this.pileNo, modelCode: this.tariff?.modelCode ?? '0000' });
    this.timers.set('model', this.rnd.jitter(this.timing.modelRetryMs, this.timing.jitter), () => this.modelCheck());
  }

  private modelRequest(): void {
    if (this.state !== 'online') return;
    this.modelPhase = 'request';
    this.send(0x09, { pileNo: this.pileNo });
    this.timers.set('model', this.rnd.jitter(this.timing.modelRetryMs, this.timing.jitter), () => this.modelRequest());
  }

  private onModelCheckReply(f: DecodedFrame): void {
    if (this.modelPhase !== 'check') return;
    this.timers.clear('model');
    if (f.body.result !== 0 || !this.tariff) this.modelRequest();
    else this.modelPhase = 'ok';
  }

  private acceptModel(body: Body): boolean {
    try {
      this.tariff = Tariff.fromBody(body);
    } catch (e) {
      this.fail(e);
      return false;
    }
    this.emit('tariff', this.tariff);
    this.emitState();
    return true;
  }

  // ---- frames in -------------------------------------------------------------------------------

  private onFrame(link: PileLink, buf: Buffer, _order: CrcOrder): void {
    if (link !== this.link) return;
    let f: DecodedFrame;
    try {
      f = decodeFrame(buf);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.stats.framesReceived++;
    if (this.listenerCount('received')) this.emit('received', f, Buffer.from(buf));
    try {
      this.dispatch(f);
    } catch (e) {
      this.fail(e);
    }
  }

  private dispatch(f: DecodedFrame): void {
    const b = f.body;
    switch (f.type) {
      case 0x02:
        return this.onLoginReply(f);
      case 0x04:
        this.hbAwaiting = false;
        this.hbMissed = 0;
        return;
      case 0x06:
        return this.onModelCheckReply(f);
      case 0x0a:
        if (this.modelPhase === 'request' || this.modelPhase === 'check') {
          if (this.acceptModel(b)) {
            this.timers.clear('model');
            this.modelPhase = 'ok';
          }
        }
        return;
      case 0x32:
        return this.onStartAuth(b);
      case 0x40:
        return this.onRecordAck(b);
    }
    if (this.state !== 'online') return; // commands before login are not served
    if (f.type === 0xa4 && this.version !== '1.6') return; // a 1.5 pile does not know 0xA4
    if (!COMMANDS.has(f.type)) return;
    const drop = this.faults.dropReplies;
    if (drop === true || (typeof drop === 'number' && this.rnd.chance(drop))) {
      this.stats.repliesDropped++;
      return;
    }
    switch (f.type) {
      case 0x12:
        return this.onReadRealtime(f);
      case 0x34:
        return this.onRemoteStart(f, false);
      case 0xa4:
        return this.onRemoteStart(f, true);
      case 0x36:
        return this.onRemoteStop(f);
      case 0x42:
        return this.onBalanceUpdate(f);
      case 0x44:
        return this.onCardSync(f);
      case 0x46:
        return this.onCardClear(f);
      case 0x48:
        return this.onCardQuery(f);
      case 0x52:
        return this.onWorkParams(f);
      case 0x56:
        return this.onTimeSync(f);
      case 0x58:
        return this.onTariffPush(f);
      case 0x62:
        return this.onLockCommand(f);
      case 0x92:
        return this.onReboot(f);
      case 0x94:
        return this.onOta(f);
    }
  }

  private mine(b: Body): boolean {
    return b.pileNo === this.pileNo;
  }

  private gunOf(b: Body): Gun | undefined {
    const n = b.gunNo;
    return typeof n === 'number' && n >= 1 && n <= this.guns.length ? this.guns[n - 1] : undefined;
  }

  private onReadRealtime(f: DecodedFrame): void {
    const g = this.gunOf(f.body);
    if (!this.mine(f.body) || !g) return;
    this.reply(0x13, this.realtimeBody(g), f.seq);
    this.scheduleRealtime(g);
  }

  private startReplyBody(gunNo: number, p: { tradeNo: string; parallel?: { parallelNo: string; mainAux: number } }, result: number, reason: number): Body {
    const body: Body = { tradeNo: p.tradeNo, pileNo: this.pileNo, gunNo, result, failReason: reason };
    if (p.parallel) {
      body.mainAux = p.parallel.mainAux;
      body.parallelNo = p.parallel.parallelNo;
    }
    return body;
  }

  private onRemoteStart(f: DecodedFrame, parallel: boolean): void {
    const b = f.body;
    const tradeNo = String(b.tradeNo);
    const g = this.gunOf(b);
    const gunNo = typeof b.gunNo === 'number' ? b.gunNo : 0;
    let par: PendingStart['parallel'];
    if (parallel) {
      const parallelNo = String(b.parallelNo);
      const partner = this.guns.some((x) => x !== g && (x.session?.parallelNo === parallelNo || x.pendingStart?.parallel?.parallelNo === parallelNo));
      par = { parallelNo, mainAux: partner ? 1 : 0 };
    }
    const type = parallel ? 0xa3 : 0x33;
    const answer = (result: number, reason: number) => this.reply(type, this.startReplyBody(gunNo, { tradeNo, parallel: par }, result, reason), f.seq);
    if (!this.mine(b)) return answer(0, 1);
    if (!g) return answer(0, 3);
    if (g.session || (g.pendingStart && g.pendingStart.tradeNo !== tradeNo) || g.cardWait) return answer(0, 2);
    if (g.faultBits || this.disabled) return answer(0, 3);
    if (!this.tariff) return answer(0, 4);
    const balanceCents = Math.round(Number(b.balance) * 100);
    const p: PendingStart = {
      tradeNo,
      seq: f.seq,
      logicalCardNo: String(b.logicalCardNo),
      physicalCardNo: normCard(b.physicalCardNo) ?? '0000000000000000',
      balanceCents,
      parallel: par,
    };
    if (!(balanceCents > 0)) {
      // Start attempted and failed: the record still goes out, with the start-failure reason (§8.6).
      answer(0, 0);
      this.failedStartRecord(g, p, STOP.NO_BALANCE_AT_START);
      return;
    }
    if (!g.plugged) {
      answer(0, 5);
      g.pendingStart = p;
      this.timers.set(`late:${g.no}`, this.timing.latePlugWindowMs, () => {
        if (g.pendingStart !== p) return;
        g.pendingStart = null;
        this.emit('session', { event: 'expired', gunNo: g.no, tradeNo, reason: 'gun not plugged in within the window' } satisfies PileSessionEvent);
      });
      return;
    }
    answer(1, 0);
    this.beginSession(g, { tradeNo, startType: 1, logicalCardNo: p.logicalCardNo, physicalCardNo: p.physicalCardNo, balance: balanceCents * 100, parallelNo: par?.parallelNo });
  }

  private onRemoteStop(f: DecodedFrame): void {
    const b = f.body;
    const gunNo = typeof b.gunNo === 'number' ? b.gunNo : 0;
    const answer = (result: number, reason: number) => this.reply(0x35, { pileNo: this.pileNo, gunNo, result, failReason: reason }, f.seq);
    if (!this.mine(b)) return answer(0, 1);
    const g = this.gunOf(b);
    if (!g) return answer(0, 3);
    if (!g.session) {
      if (g.pendingStart) {
        g.pendingStart = null;
        this.timers.clear(`late:${g.no}`);
      }
      return answer(0, 2);
    }
    answer(1, 0);
    this.endSession(g, STOP.APP);
  }

  private onStartAuth(b: Body): void {
    const g = this.gunOf(b);
    if (!g || !g.cardWait || !this.mine(b)) return;
    const w = g.cardWait;
    g.cardWait = null;
    this.timers.clear(`card:${g.no}`);
    if (b.result !== 1) {
      const reason = typeof b.failReasonName === 'string' ? b.failReasonName : `refused (${String(b.failReason)})`;
      w.resolve(this.refuse(g, reason, Number(b.failReason)));
      return;
    }
    if (!g.plugged || g.session || g.faultBits) {
      w.resolve(this.refuse(g, g.plugged ? 'gun not available' : 'gun not plugged in'));
      return;
    }
    const s = this.beginSession(g, {
      tradeNo: String(b.tradeNo),
      startType: 2,
      logicalCardNo: String(b.logicalCardNo),
      physicalCardNo: w.physicalCardNo,
      balance: Math.round(Number(b.balance) * 100) * 100,
    });
    w.resolve({ result: 'started', session: s });
  }

  private onBalanceUpdate(f: DecodedFrame): void {
    const b = f.body;
    const card = normCard(b.physicalCardNo) ?? '0000000000000000';
    const answer = (result: number) => this.reply(0x41, { pileNo: this.pileNo, physicalCardNo: card, result }, f.seq);
    if (!this.mine(b)) return answer(1);
    const g = this.gunOf(b);
    const s = g?.session;
    const anyCard = card === '0000000000000000';
    if (!s) return answer(anyCard ? 0 : 2);
    if (!anyCard && s.physicalCardNo !== card) return answer(2);
    s.balance = Math.round(Number(b.balance) * 100) * 100;
    answer(0);
    this.checkLimits(g!);
  }

  private onCardSync(f: DecodedFrame): void {
    const b = f.body;
    if (!this.mine(b)) return this.reply(0x43, { pileNo: this.pileNo, result: 0, failReason: 1 }, f.seq);
    const r = this.cards.sync(Array.isArray(b.cards) ? (b.cards as Body[]) : []);
    this.reply(0x43, { pileNo: this.pileNo, ...r }, f.seq);
  }

  private onCardClear(f: DecodedFrame): void {
    const b = f.body;
    const list = Array.isArray(b.cards) ? (b.cards as Body[]) : [];
    const items = this.mine(b)
      ? list.map((c) => this.cards.clear(c.physicalCardNo))
      : list.map((c) => ({ physicalCardNo: String(c.physicalCardNo), result: 0, failReason: 1 }));
    this.reply(0x45, { pileNo: this.pileNo, cards: items }, f.seq);
  }

  private onCardQuery(f: DecodedFrame): void {
    const b = f.body;
    const list = Array.isArray(b.cards) ? (b.cards as Body[]) : [];
    const items = list.map((c) => ({ physicalCardNo: String(c.physicalCardNo), result: this.mine(b) && this.cards.has(c.physicalCardNo) ? 1 : 0 }));
    this.reply(0x47, { pileNo: this.pileNo, cards: items }, f.seq);
  }

  private onWorkParams(f: DecodedFrame): void {
    const b = f.body;
    const pct = Number(b.maxPowerPercent);
    const ok = this.mine(b) && (b.workState === 0 || b.workState === 1) && pct >= 30 && pct <= 100;
    if (ok) {
      this.disabled = b.workState === 1;
      for (const g of this.guns) if (g.session) this.accrue(g);
      this.maxPowerPercent = pct;
      for (const g of this.guns) if (g.session) {
        g.session.watts = this.gunWatts(g);
        this.checkLimits(g);
      }
    }
    this.reply(0x51, { pileNo: this.pileNo, result: ok ? 1 : 0 }, f.seq);
    if (ok) this.emitState();
  }

  private onTimeSync(f: DecodedFrame): void {
    const b = f.body;
    if (this.mine(b)) {
      const t = parseWallTime(b.time);
      if (t) {
        for (const g of this.guns) if (g.session) this.accrue(g);
        this.wallOffset = instantOf(t).getTime() - this.clock.now();
      } else {
        this.fail(new YkcError('YKC_FIELD', `pile ${this.pileNo}: time sync with an unusable time ${JSON.stringify(b.time)}`, { field: 'time', value: b.time }));
      }
    }
    this.reply(0x55, { pileNo: this.pileNo, time: b.time }, f.seq);
  }

  private onTariffPush(f: DecodedFrame): void {
    const ok = this.mine(f.body) && this.acceptModel(f.body);
    this.reply(0x57, { pileNo: this.pileNo, result: ok ? 1 : 0 }, f.seq);
  }

  private onLockCommand(f: DecodedFrame): void {
    const b = f.body;
    const g = this.gunOf(b);
    const gunNo = typeof b.gunNo === 'number' ? b.gunNo : 0;
    if (!this.mine(b) || !g || (b.action !== 0x55 && b.action !== 0xff)) {
      return this.reply(0x63, { pileNo: this.pileNo, gunNo, result: 0 }, f.seq);
    }
    // A lock cannot rise under a parked car: it fails and raises its "did not reach position" alarm.
    const blocked = b.action === 0x55 && g.plugged;
    if (blocked) g.lock.alarm = 0x55;
    else g.lock = { state: b.action, alarm: 0 };
    this.reply(0x63, { pileNo: this.pileNo, gunNo, result: blocked ? 0 : 1 }, f.seq);
    this.originate(0x61, {
      pileNo: this.pileNo,
      gunNo,
      lockState: g.lock.state,
      parkingState: g.plugged ? 0xff : 0,
      lockBattery: 100,
      alarm: g.lock.alarm,
    });
  }

  private onReboot(f: DecodedFrame): void {
    const b = f.body;
    const ok = this.mine(b) && (b.runWhen === 1 || b.runWhen === 2);
    this.reply(0x91, { pileNo: this.pileNo, result: ok ? 1 : 0 }, f.seq);
    if (!ok) return;
    if (b.runWhen === 2 && this.guns.some((g) => g.session)) this.rebootWhenIdle = true;
    else this.reboot();
  }

  private onOta(f: DecodedFrame): void {
    const b = f.body;
    if (!this.mine(b)) return this.reply(0x93, { pileNo: this.pileNo, status: 1 }, f.seq);
    if (b.pileModel !== (this.pileType === 'DC' ? 1 : 2)) return this.reply(0x93, { pileNo: this.pileNo, status: 2 }, f.seq);
    const forced = this.opts.otaResult;
    const outcome: Promise<OtaOutcome> =
      forced !== undefined
        ? Promise.resolve({ status: forced, firmware: this.opts.otaFirmware })
        : downloadUpdate(b, { expect: this.opts.otaExpect, firmware: this.opts.otaFirmware, fileName: this.opts.otaFileName });
    const link = this.link;
    void outcome.then((o) => {
      // The pile may have rebooted, been closed or reconnected while it was downloading.
      if (this.link !== link || this.state !== 'online') return;
      this.reply(0x93, { pileNo: this.pileNo, status: o.status }, f.seq);
      const firmwareBefore = this.firmware;
      if (o.status === 0 && o.firmware) this.firmware = o.firmware;
      this.emit('ota', { ...o, ftpHost: String(b.ftpHost), ftpPath: String(b.ftpPath), firmwareBefore } satisfies PileOtaEvent);
      if (o.status !== 0) return;
      if (b.runWhen === 2 && this.guns.some((g) => g.session)) this.rebootWhenIdle = true;
      else this.reboot();
    });
  }

  /**
   * A real restart: the connection is closed (FIN), running sessions end (0x83, power lost) and
   * their records wait in memory; after rebootMs the pile connects and logs in from sequence 0.
   */
  reboot(): void {
    if (this.state === 'closed') return;
    this.rebootWhenIdle = false;
    this.stats.reboots++;
    for (const g of this.guns) if (g.session) this.endSession(g, STOP.POWER_LOST);
    this.setState('rebooting');
    const l = this.link;
    this.link = null;
    this.stopLinkTimers();
    this.timers.clear('reconnect');
    l?.end();
    this.timers.set('reboot', this.rnd.jitter(this.timing.rebootMs, this.timing.jitter), () => {
      this.setState('offline');
      this.openLink();
    });
  }

  // ---- frames out ------------------------------------------------------------------------------

  /** Sends a frame this pile originates (own sequence counter); suppressed while silent. */
  private originate(type: number, body: Body): boolean {
    if (this.faults.silence) return false;
    return this.send(type, body);
  }

  /** Sends a reply, copying the request's sequence bytes. */
  private reply(type: number, body: Body, seq: number): void {
    this.send(type, body, seq);
  }

  private send(type: number, body: Body, seq?: number): boolean {
    const link = this.link;
    if (!link || this.state === 'closed') return false;
    let buf: Buffer;
    try {
      buf = encodeFrame({ type, seq: seq ?? link.nextSeq(), body, crcOrder: this.faults.hiFirstCrc ? 'hi-first' : 'lo-first' });
    } catch (e) {
      this.fail(e);
      return false;
    }
    link.write(buf);
    this.stats.framesSent++;
    if (this.listenerCount('sent')) this.emit('sent', decodeFrame(buf), buf);
    return true;
  }

  // ---- realtime data ---------------------------------------------------------------------------

  private gunState(g: Gun): number {
    if (g.faultBits) return GUN_FAULT;
    return g.session ? GUN_CHARGING : GUN_IDLE;
  }

  private realtimeBody(g: Gun): Body {
    const s = g.session;
    if (s) this.accrue(g);
    const energy = s ? s.meter.energy : 0;
    const amount = s ? s.meter.amount : 0;
    const minutes = s ? Math.floor((this.clock.now() - s.startSim) / 60_000) : 0;
    const soc = s ? socAfter(s.car, energy) : 0;
    let volts = 0;
    let amps = 0;
    if (s) {
      volts = this.pileType === 'DC' ? packVolts(s.car, soc) : 220;
      amps = Math.round((s.watts / volts) * 10) / 10;
    }
    return {
      tradeNo: s ? s.tradeNo : '0'.repeat(32),
      pileNo: this.pileNo,
      gunNo: g.no,
      gunState: this.gunState(g),
      gunHolstered: g.plugged ? 0 : 1,
      gunPlugged: g.plugged ? 1 : 0,
      outputVoltage: volts,
      outputCurrent: amps,
      gunTemp: s ? 35 + Math.min(20, Math.floor(minutes / 10)) : null,
      gunCableCode: '',
      soc: s && this.pileType === 'DC' ? Math.floor(soc) : 0,
      batteryMaxTemp: s && this.pileType === 'DC' ? 25 + Math.min(20, Math.floor(minutes / 6)) : null,
      chargingMinutes: Math.min(65535, minutes),
      remainingMinutes: s && this.pileType === 'DC' ? Math.min(65535, this.remainingMinutes(s, energy)) : 0,
      chargedEnergy: energy / 1e4,
      lossEnergy: (s ? s.meter.lossEnergy : 0) / 1e4,
      chargedAmount: amount / 1e4,
      hardwareFault: g.faultBits,
    };
  }

  private remainingMinutes(s: Session, energy: number): number {
    if (!(s.watts > 0)) return 0;
    return Math.ceil((energyToTarget(s.car, energy) * 360_000) / s.watts / 60_000);
  }

  /** 0x13 at once (state or plug change), and restart its period. */
  private realtimeNow(g: Gun): void {
    if (this.state === 'online') this.originate(0x13, this.realtimeBody(g));
    this.scheduleRealtime(g);
  }

  private scheduleRealtime(g: Gun): void {
    if (this.state === 'closed') return;
    const period = g.session ? this.timing.realtimeChargingMs : this.timing.realtimeIdleMs;
    this.timers.set(`rt:${g.no}`, period, () => {
      if (this.state === 'online') {
        this.originate(0x13, this.realtimeBody(g));
        const s = g.session;
        if (s && this.pileType === 'DC') {
          const ids = this.ids(g, s);
          const fig = this.figures(g, s);
          this.originate(0x23, demandBody(ids, s.car, fig));
          this.originate(0x25, bmsStatusBody(ids, fig.minutes));
        }
      }
      if (g.session) this.checkLimits(g);
      this.scheduleRealtime(g);
    });
  }

  // ---- sessions --------------------------------------------------------------------------------

  private gunWatts(g: Gun): number {
    return Math.floor((this.powerW[g.no - 1] * this.maxPowerPercent) / 100);
  }

  private ids(g: Gun, s: Session) {
    return { tradeNo: s.tradeNo, pileNo: this.pileNo, gunNo: g.no };
  }

  private figures(g: Gun, s: Session) {
    this.accrue(g);
    const energyUnits = s.meter.energy;
    const minutes = Math.floor((this.clock.now() - s.startSim) / 60_000);
    return { energyUnits, watts: s.watts, minutes, remainingMinutes: this.remainingMinutes(s, energyUnits) };
  }

  private beginSession(g: Gun, info: Omit<PileSessionInfo, 'gunNo' | 'startedAt'>): PileSessionInfo {
    const now = this.clock.now();
    const tariff = this.tariff!;
    const s: Session = {
      ...info,
      gunNo: g.no,
      startedAt: now + this.wallOffset,
      startSim: now,
      wallOffset: this.wallOffset,
      meter: new SessionMeter(tariff, g.meter, now + this.wallOffset),
      car: g.car,
      watts: this.gunWatts(g),
      sentBms: false,
    };
    g.session = s;
    g.lastTradeNo = s.tradeNo;
    this.stats.sessionsStarted++;
    if (this.pileType === 'DC' && this.state === 'online') {
      const ids = this.ids(g, s);
      this.originate(0x15, handshakeBody(ids, s.car));
      this.originate(0x17, paramsBody(ids, s.car, s.watts));
      s.sentBms = true;
    }
    this.realtimeNow(g);
    const pub = this.sessionInfo(s);
    this.emit('session', { event: 'started', ...pub } satisfies PileSessionEvent);
    this.emitState();
    this.checkLimits(g);
    return pub;
  }

  private sessionInfo(s: Session): PileSessionInfo {
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

  /** Brings the session's meter up to now. */
  private accrue(g: Gun): void {
    const s = g.session;
    if (!s) return;
    s.meter.add(s.watts, this.clock.now() + s.wallOffset);
  }

  /**
   * Ends the session when the car is full or the money has run out, otherwise arms a check for
   * the moment either is expected (re-evaluated at least every realtime period).
   */
  private checkLimits(g: Gun): void {
    const s = g.session;
    if (!s) return;
    this.accrue(g);
    const energy = s.meter.energy;
    if (energyToTarget(s.car, energy) <= 0) return void this.endSession(g, STOP.SOC_FULL);
    if (s.balance !== null && s.meter.amount >= s.balance) return void this.endSession(g, STOP.BALANCE_EXHAUSTED);
    if (!(s.watts > 0)) return this.timers.clear(`limit:${g.no}`);
    let wait = (energyToTarget(s.car, energy) * 360_000) / s.watts;
    if (s.balance !== null) {
      const price = s.meter.tariff.unitPrice(levelAtTime(s.meter.tariff, s.meter.now));
      if (price > 0) {
        const leftUnits = s.balance - s.meter.amount;
        wait = Math.min(wait, ((leftUnits * 1e5) / price) * 360_000 / s.watts);
      }
    }
    wait = Math.max(50, Math.min(this.timing.realtimeChargingMs, Math.ceil(wait)));
    this.timers.set(`limit:${g.no}`, wait, () => this.checkLimits(g));
  }

  private endSession(g: Gun, stopReason: number): void {
    const s = g.session;
    if (!s) return;
    this.accrue(g);
    this.timers.clear(`limit:${g.no}`);
    const fig = { energyUnits: s.meter.energy, watts: s.watts, minutes: Math.floor((this.clock.now() - s.startSim) / 60_000), remainingMinutes: 0 };
    g.session = null;
    g.meter = s.meter.reading;
    this.stats.sessionsEnded++;
    if (this.pileType === 'DC' && s.sentBms && this.state === 'online') {
      this.originate(0x19, chargeEndBody(this.ids(g, s), s.car, fig, Number(this.pileNo.slice(-8))));
    }
    const body = this.recordBody(g, s, stopReason);
    this.emit('session', { event: 'ended', ...this.sessionInfo(s), stopReason, energy: fig.energyUnits, amount: s.meter.amount } satisfies PileSessionEvent);
    this.queueRecord(body);
    this.realtimeNow(g);
    this.emitState();
    if (this.rebootWhenIdle && !this.guns.some((x) => x.session)) this.reboot();
  }

  /** The 0x3B body; level blocks, meter readings and totals are the billing library's record fields. */
  private recordBody(g: Gun, s: Session, stopReason: number): Body {
    const end = s.meter.now;
    const fees = { ...s.meter.bill().record };
    const jump = this.faults.meterJump ?? 0;
    const plus = (kwh: number) => (Math.round(kwh * 1e4) + jump) / 1e4;
    if (jump) Object.assign(fees, { meterEnd: plus(fees.meterEnd), totalEnergy: plus(fees.totalEnergy) });
    return {
      tradeNo: s.tradeNo,
      pileNo: this.pileNo,
      gunNo: g.no,
      startTime: s.startedAt,
      endTime: end,
      ...fees,
      vin: s.startType === 2 || s.startType === 4 || this.pileType === 'AC' ? '' : s.car.vin,
      startType: s.startType,
      tradeTime: end,
      stopReason,
      physicalCardNo: s.physicalCardNo,
    };
  }

  private failedStartRecord(g: Gun, p: PendingStart, stopReason: number): void {
    const now = this.wallNow();
    const s: Session = {
      gunNo: g.no, tradeNo: p.tradeNo, startType: 1, logicalCardNo: p.logicalCardNo, physicalCardNo: p.physicalCardNo,
      balance: p.balanceCents * 100, startedAt: now, startSim: this.clock.now(), wallOffset: this.wallOffset,
      meter: new SessionMeter(this.tariff!, g.meter, now), car: g.car, watts: 0, sentBms: false,
    };
    this.emit('session', { event: 'refused', gunNo: g.no, tradeNo: p.tradeNo, stopReason, reason: 'insufficient balance' } satisfies PileSessionEvent);
    this.queueRecord(this.recordBody(g, s, stopReason));
  }

  private refuse(g: Gun, reason: string, failReason?: number): CardOutcome {
    this.emit('session', { event: 'refused', gunNo: g.no, reason } satisfies PileSessionEvent);
    return failReason === undefined ? { result: 'refused', reason } : { result: 'refused', reason, failReason };
  }

  /** Offline authorisation against the card list (start type 0x04, trade number made by the pile). */
  private offlineStart(g: Gun, card: string, why: string): CardOutcome {
    const logical = this.cards.logicalOf(card);
    if (!logical) return this.refuse(g, `${why}; card not in the offline list`);
    if (!g.plugged || g.session || g.faultBits || !this.tariff) return this.refuse(g, `${why}; gun not available`);
    const w = wallTimeOf(new Date(this.wallNow()));
    const p2 = (n: number) => String(n).padStart(2, '0');
    g.offlineCounter = (g.offlineCounter + 1) % 10000;
    const made = `${this.pileNo}${p2(g.no)}${p2(w.year % 100)}${p2(w.month)}${p2(w.day)}${p2(w.hour)}${p2(w.minute)}${p2(w.second)}${String(g.offlineCounter).padStart(4, '0')}`;
    const tradeNo = this.faults.reuseTradeNo && g.lastTradeNo ? g.lastTradeNo : made;
    const s = this.beginSession(g, { tradeNo, startType: 4, logicalCardNo: logical, physicalCardNo: card, balance: null });
    return { result: 'started', session: s };
  }

  // ---- transaction records ---------------------------------------------------------------------

  private queueRecord(body: Body): void {
    const r: PendingRecord = { tradeNo: String(body.tradeNo), body, attempts: 0 };
    this.records.set(r.tradeNo, r);
    if (this.state === 'online' && !this.faults.silence && !this.faults.holdRecords) this.deliverRecord(r);
    else this.emit('record', { event: 'stored', tradeNo: r.tradeNo, attempt: 0, body } satisfies PileRecordEvent);
  }

  /** Sends the record, then resends 3 × 30 s and once more 5 min later until 0x40 (§8.6). */
  private deliverRecord(r: PendingRecord): void {
    if (!this.records.has(r.tradeNo)) return;
    const max = this.timing.recordRetries + 2;
    if (this.state === 'online' && !this.faults.holdRecords && this.originate(0x3b, r.body)) {
      r.attempts++;
      this.stats.recordsSent++;
      this.emit('record', { event: 'sent', tradeNo: r.tradeNo, attempt: r.attempts, body: r.body } satisfies PileRecordEvent);
    }
    if (r.attempts >= max) {
      this.timers.set(`rec:${r.tradeNo}`, this.timing.recordRetryMs, () => {
        if (!this.records.has(r.tradeNo)) return;
        this.records.delete(r.tradeNo);
        this.stats.recordsAbandoned++;
        this.emit('record', { event: 'abandoned', tradeNo: r.tradeNo, attempt: r.attempts, body: r.body } satisfies PileRecordEvent);
      });
      return;
    }
    if (r.attempts === 0) return; // not sent (offline or silent): the next login delivers it
    const wait = r.attempts <= this.timing.recordRetries ? this.timing.recordRetryMs : this.timing.recordFinalMs;
    this.timers.set(`rec:${r.tradeNo}`, wait, () => this.deliverRecord(r));
  }

  private onRecordAck(b: Body): void {
    const r = this.records.get(String(b.tradeNo));
    if (!r) return;
    this.records.delete(r.tradeNo);
    this.timers.clear(`rec:${r.tradeNo}`);
    const ok = b.result === 0;
    if (ok) this.stats.recordsConfirmed++;
    else this.stats.recordsRefused++;
    this.emit('record', { event: ok ? 'confirmed' : 'refused', tradeNo: r.tradeNo, attempt: r.attempts, body: r.body } satisfies PileRecordEvent);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private gun(no: number): Gun {
    const g = Number.isInteger(no) && no >= 1 && no <= this.guns.length ? this.guns[no - 1] : undefined;
    if (!g) throw new YkcError('YKC_INPUT', `pile ${this.pileNo} has guns 1–${this.guns.length}, not ${JSON.stringify(no)}`, { field: 'gunNo', value: no });
    return g;
  }

  private defaultVin(gunNo: number): string {
    return `LSIM${this.pileNo.slice(-11)}${gunNo % 10}`.slice(0, 17).padEnd(17, '0');
  }

  private gunSnapshot(g: Gun): GunSnapshot {
    const s = g.session;
    let session: GunSnapshot['session'] = null;
    if (s) {
      this.accrue(g);
      const energy = s.meter.energy;
      session = { ...this.sessionInfo(s), energy, amount: s.meter.amount, soc: Math.floor(socAfter(s.car, energy)) };
    }
    return { gunNo: g.no, state: this.gunState(g), plugged: g.plugged, faultBits: g.faultBits, meter: s ? s.meter.reading : g.meter, session, waitingForPlug: !!g.pendingStart };
  }

  private setState(s: LinkState): void {
    if (this.state === s) return;
    if (this.state === 'closed') return;
    this.state = s;
    this.emitState();
  }

  private emitState(): void {
    if (this.listenerCount('state')) this.emit('state', this.snapshot());
  }

  private fail(e: unknown): void {
    this.stats.errors++;
    if (this.listenerCount('error')) this.emit('error', e instanceof Error ? e : new Error(String(e)));
  }
}

/** Platform → pile commands the pile serves (replies to its own requests are handled apart). */
const COMMANDS = new Set([0x12, 0x34, 0x36, 0x42, 0x44, 0x46, 0x48, 0x52, 0x56, 0x58, 0x62, 0x92, 0x94, 0xa4]);

/** @deprecated use PileRecordEvent (the gateway exports its own RecordEvent). */
export type RecordEvent = PileRecordEvent;
/** @deprecated use PileSessionEvent (the gateway exports its own SessionEvent). */
export type SessionEvent = PileSessionEvent;
/** @deprecated use PileSessionInfo (the gateway exports its own SessionInfo). */
export type SessionInfo = PileSessionInfo;
