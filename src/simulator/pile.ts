/**
 * A virtual charging pile: the pile side of YKC 1.5/1.6 over a real TCP connection, driven by a
 * Clock so tests and load runs can compress protocol time. Behaviour follows docs/protocol.md §8; the
 * choices the document leaves open are listed in docs/simulator.md.
 *
 * An EventEmitter, no Node-RED: 'sent' / 'received' (decoded frame, raw bytes), 'state', 'session',
 * 'record', 'tariff', 'error' (only emitted when someone listens — a pile never crashes its host).
 *
 * This class holds the state and plays the link (connect, login, heartbeat, billing model) and the
 * sessions; the rest lives beside it: pile-types.ts (options, events, constants), pile-session.ts
 * (a gun's session and the 0x13 / 0x3B bodies read off it), pile-records.ts (records until 0x40,
 * resends), pile-commands.ts (the answers to platform commands), ota.ts (the update download).
 */
import { EventEmitter } from 'events';
import * as net from 'net';
import { Body, CrcOrder, DecodedFrame, YkcError, decodeFrame, encodeFrame } from '../protocol';
import { Clock, ScaledClock, TimerSet } from './clock';
import { OfflineCardStore, normCard } from './cards';
import { CarOptions, bmsStatusBody, chargeEndBody, demandBody, energyToTarget, handshakeBody, makeCar, paramsBody, socAfter } from './car';
import { PileLink } from './link';
import { Random } from './random';
import { levelAtTime } from '../billing/compute';
import { Tariff } from '../billing/tariff';
import { SessionMeter } from './meter';
import { COMMANDS, CommandHost, gunOf, mine, serveCommand } from './pile-commands';
import { RecordQueue } from './pile-records';
import { Gun, PendingStart, Session, gunState, offlineTradeNo, realtimeBody, recordBody, remainingMinutes, sessionInfo, startReplyBody } from './pile-session';
import {
  CardOutcome, DEFAULT_TIMING, GunSnapshot, LinkState, PileFaults, PileSessionEvent, PileSessionInfo, PileSnapshot, PileStats,
  PileTiming, PileType, ProtocolVersion, STOP, VirtualPileOptions,
} from './pile-types';

export * from './pile-types';

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
  private readonly records: RecordQueue;
  /** This pile as the command handlers of pile-commands.ts see it. */
  private readonly commands: CommandHost;
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
    this.records = new RecordQueue({
      timers: this.timers,
      timing: this.timing,
      stats: this.stats,
      ready: () => this.state === 'online' && !this.faults.silence && !this.faults.holdRecords,
      send: (body) => this.state === 'online' && !this.faults.holdRecords && this.originate(0x3b, body),
      emit: (e) => this.emit('record', e),
    });
    this.commands = this.commandHost();
  }

  /** Getters and bound methods, so the handlers see the pile's state as it is when they run. */
  private commandHost(): CommandHost {
    const pile = this; // inside an object literal's getters `this` is the literal
    return {
      get pileNo() { return pile.pileNo; },
      get pileType() { return pile.pileType; },
      get version() { return pile.version; },
      get opts() { return pile.opts; },
      get clock() { return pile.clock; },
      get timing() { return pile.timing; },
      get timers() { return pile.timers; },
      get cards() { return pile.cards; },
      get guns() { return pile.guns; },
      get state() { return pile.state; },
      get link() { return pile.link; },
      get tariff() { return pile.tariff; },
      get disabled() { return pile.disabled; },
      set disabled(v) { pile.disabled = v; },
      get maxPowerPercent() { return pile.maxPowerPercent; },
      set maxPowerPercent(v) { pile.maxPowerPercent = v; },
      get wallOffset() { return pile.wallOffset; },
      set wallOffset(v) { pile.wallOffset = v; },
      get firmware() { return pile.firmware; },
      set firmware(v) { pile.firmware = v; },
      get rebootWhenIdle() { return pile.rebootWhenIdle; },
      set rebootWhenIdle(v) { pile.rebootWhenIdle = v; },
      reply: (type, body, seq) => pile.reply(type, body, seq),
      originate: (type, body) => pile.originate(type, body),
      emit: (event: string, e: unknown) => void pile.emit(event, e),
      fail: (e) => pile.fail(e),
      emitState: () => pile.emitState(),
      realtimeBody: (g) => pile.realtimeBody(g),
      scheduleRealtime: (g) => pile.scheduleRealtime(g),
      accrue: (g) => pile.accrue(g),
      gunWatts: (g) => pile.gunWatts(g),
      checkLimits: (g) => pile.checkLimits(g),
      beginSession: (g, info) => pile.beginSession(g, info),
      endSession: (g, stopReason) => pile.endSession(g, stopReason),
      failedStartRecord: (g, p, stopReason) => pile.failedStartRecord(g, p, stopReason),
      acceptModel: (body) => pile.acceptModel(body),
      reboot: () => pile.reboot(),
    };
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
    if (held && !this.faults.holdRecords && this.state === 'online') this.records.deliverUnsent();
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
      this.reply(p.parallel ? 0xa3 : 0x33, startReplyBody(this.pileNo, g.no, p, 1, 0), p.seq);
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
    return this.records.bodies();
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
    this.records.deliverAll();
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
        return this.records.onAck(b);
    }
    if (this.state !== 'online') return; // commands before login are not served
    if (f.type === 0xa4 && this.version !== '1.6') return; // a 1.5 pile does not know 0xA4
    if (!COMMANDS.has(f.type)) return;
    const drop = this.faults.dropReplies;
    if (drop === true || (typeof drop === 'number' && this.rnd.chance(drop))) {
      this.stats.repliesDropped++;
      return;
    }
    serveCommand(this.commands, f);
  }

  private onStartAuth(b: Body): void {
    const g = gunOf(this.guns, b);
    if (!g || !g.cardWait || !mine(this, b)) return;
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

  /** The gun's 0x13 body now. */
  private realtimeBody(g: Gun): Body {
    if (g.session) this.accrue(g);
    return realtimeBody(this.pileNo, this.pileType, g, this.clock.now());
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
    return { energyUnits, watts: s.watts, minutes, remainingMinutes: remainingMinutes(s, energyUnits) };
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
    const pub = sessionInfo(s);
    this.emit('session', { event: 'started', ...pub } satisfies PileSessionEvent);
    this.emitState();
    this.checkLimits(g);
    return pub;
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
    const body = recordBody(this.pileNo, this.pileType, g, s, stopReason, this.faults.meterJump ?? 0);
    this.emit('session', { event: 'ended', ...sessionInfo(s), stopReason, energy: fig.energyUnits, amount: s.meter.amount } satisfies PileSessionEvent);
    this.records.queue(body);
    this.realtimeNow(g);
    this.emitState();
    if (this.rebootWhenIdle && !this.guns.some((x) => x.session)) this.reboot();
  }

  private failedStartRecord(g: Gun, p: PendingStart, stopReason: number): void {
    const now = this.wallNow();
    const s: Session = {
      gunNo: g.no, tradeNo: p.tradeNo, startType: 1, logicalCardNo: p.logicalCardNo, physicalCardNo: p.physicalCardNo,
      balance: p.balanceCents * 100, startedAt: now, startSim: this.clock.now(), wallOffset: this.wallOffset,
      meter: new SessionMeter(this.tariff!, g.meter, now), car: g.car, watts: 0, sentBms: false,
    };
    this.emit('session', { event: 'refused', gunNo: g.no, tradeNo: p.tradeNo, stopReason, reason: 'insufficient balance' } satisfies PileSessionEvent);
    this.records.queue(recordBody(this.pileNo, this.pileType, g, s, stopReason, this.faults.meterJump ?? 0));
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
    g.offlineCounter = (g.offlineCounter + 1) % 10000;
    const made = offlineTradeNo(this.pileNo, g.no, this.wallNow(), g.offlineCounter);
    const tradeNo = this.faults.reuseTradeNo && g.lastTradeNo ? g.lastTradeNo : made;
    const s = this.beginSession(g, { tradeNo, startType: 4, logicalCardNo: logical, physicalCardNo: card, balance: null });
    return { result: 'started', session: s };
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
      session = { ...sessionInfo(s), energy, amount: s.meter.amount, soc: Math.floor(socAfter(s.car, energy)) };
    }
    return { gunNo: g.no, state: gunState(g), plugged: g.plugged, faultBits: g.faultBits, meter: s ? s.meter.reading : g.meter, session, waitingForPlug: !!g.pendingStart };
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

