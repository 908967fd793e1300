/**
 * YkcServer: accepts piles (over TCP or any Duplex), keeps a registry by pile number, answers
 * what the protocol answers by itself (login, heartbeat, billing model, records, time) and lets
 * callers send commands and await the pile's reply. No Node-RED here: nodes/ adapts it.
 * Every event carries plain JSON (no sockets), so it can cross process boundaries later.
 */
import { EventEmitter } from 'events';
import * as net from 'net';
import { Duplex } from 'stream';
import {
  CrcOrder, decodeFrameAt, DecodedFrame, hasSecrets, maskedHex, maskFrame, FrameInput, schemaForName, schemaForType, typeHex, wallTimeOf, formatWallTime, YkcError,
} from '../protocol';
import type { TariffBody } from '../billing/tariff';
export type { TariffBody };
import { GunStateChange, GunStateTracker } from './gun-state';
import { LatencyWindow, MetricsSnapshot } from './metrics';
import { GatewayOptions, LegacyOptions, resolveOptions } from './options';
import { ANY_CONTENT, Arrival, isRecordType, RecordBook, recordDigest, RecordJournal, RecordRef } from './records';
import { PileSession, SessionInfo } from './session';
import { SessionStart, TariffEntry, TariffHistory } from './tariff-history';

export interface FrameEvent {
  sessionId: number;
  /** The logged-in pile, or (before login) the number the frame claims. */
  pileNo: string | null;
  remote: string;
  loggedIn: boolean;
  version: string | null;
  frame: DecodedFrame;
  receivedAt: number;
  /** Frame bytes as hex, when includeRaw is on. */
  raw?: string;
}

export interface RecordEvent extends FrameEvent {
  arrival: Arrival;
  /** True when the gateway waits for confirmRecord() before acknowledging. */
  held: boolean;
  /** The record's content id (a digest of its body bytes): with the pile and trade number, which record this is. */
  id: string;
  /** The body names another pile than the session's: refused, never counted as that pile's record. */
  foreign?: boolean;
}

/** Which record to confirm: the trade number, and the pile and content id when known (docs/records.md). */
export interface ConfirmRequest {
  tradeNo: string;
  /** The session's pile (msg.ykc.pileNo). Needed when several piles hold this trade number. */
  pileNo?: string;
  /** RecordEvent.id (msg.ykc.record.id): picks one of several records of a pile under one trade number. */
  id?: string;
  /** Cluster: do not relay to the instance holding the pile (this confirmation came from there). */
  localOnly?: boolean;
}

export interface ConfirmOutcome {
  pileNo: string;
  tradeNo: string;
  result: number;
  /** The pile got its 0x40 now; false: it is offline and its next resend is acknowledged. */
  sent: boolean;
  /** Confirmed before: nothing was sent again. */
  already?: boolean;
  /** The confirmation is on disk (fsync'ed) — false without a journal, or when it could not be written (reported as YKC_STORE). */
  durable: boolean;
}

export interface SessionEvent {
  sessionId: number;
  pileNo: string | null;
  remote: string;
  reason?: string;
  at: number;
}

export interface LoginEvent extends SessionEvent {
  accepted: boolean;
  version: string | null;
  body: Record<string, unknown>;
  replaced?: boolean;
  /** The address of the connection this login replaced (or, refused as a takeover, that stays). */
  previousRemote?: string;
}

export interface ProblemEvent {
  code: string;
  message: string;
  sessionId?: number;
  pileNo?: string | null;
  remote?: string;
  details?: Record<string, unknown>;
  at: number;
}

export interface LoginRequestEvent {
  sessionId: number;
  pileNo: string;
  remote: string;
  body: Record<string, unknown>;
  /** Set when the pile is online on another connection (from this address): accepting it is a takeover. */
  onlineFrom?: string;
}


export interface RequestOptions {
  timeoutMs?: number;
  /** Only a pile connected to this gateway: never forwarded to another instance of a cluster. */
  localOnly?: boolean;
}

/**
 * Piles held by other gateways of one cluster (src/cluster installs it). The gateway asks it only
 * for piles that are not online here, so a gateway without a cluster behaves exactly as before.
 */
export interface RemotePiles {
  /** The instance holding the pile, or null when no live instance claims it. */
  holder(pileNo: string): string | null;
  request(pileNo: string, frame: FrameInput, opts: RequestOptions): Promise<DecodedFrame | null>;
  /** Pile numbers held by other live instances. */
  pileNumbers(): string[];
  /** Hands a record acknowledgement to the instance holding the pile; false when it cannot be sent now. */
  confirm(pileNo: string, tradeNo: string, ok: boolean, id?: string): boolean;
  /** The protocol version the holding instance saw at login. */
  versionOf(pileNo: string): string | null;
}

interface PendingRequest {
  session: PileSession;
  replyType: number;
  seq: number;
  keyField: string | null;
  keyValue: unknown;
  /** The command's body: a 0x57 ok says the pile took the 0x58 body sent. */
  body: Record<string, unknown> | undefined;
  sentAt: number;
  timer: NodeJS.Timeout;
  resolve(f: DecodedFrame): void;
  reject(e: YkcError): void;
}

const ignoreError = (): void => {};

/** listen() backlog (the kernel caps it at net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

/** Connections closed per event-loop turn when many piles end their connections at once. */
const CLOSE_BATCH = 100;

/** Which reply field identifies the request when the pile does not echo the sequence bytes. */
const REPLY_KEY: Record<number, string> = { 0x33: 'tradeNo', 0xa3: 'tradeNo', 0x35: 'gunNo', 0x13: 'gunNo', 0x63: 'gunNo' };

/** The tariff a record's session ran under (sessionTariff): from the pile's history, or the gateway's current one. */
export interface SessionTariff {
  tariff: TariffBody;
  /** 'history': the model the pile had taken when the session started; 'server': none known then, the gateway's current one. */
  source: 'history' | 'server';
  /** When the pile took it (gateway clock, epoch ms); null for 'server'. */
  since: number | null;
  via: TariffEntry['via'] | null;
  /** The session's start as found, or null when neither its first frame nor its start time is known. */
  sessionStart: SessionStart | null;
}

export interface Counters {
  connections: number;
  connectionsRefused: number;
  /** Connections that arrived while others were waiting for admission (admitPerSecond) and waited too. */
  admissionsDeferred: number;
  loginsAccepted: number;
  loginsRefused: number;
  replaced: number;
  /** Logins refused because the pile was online and alive elsewhere (takeover: refuse-while-alive). */
  takeoversRefused: number;
  offline: number;
  framesIn: number;
  framesOut: number;
  framesInByType: Record<string, number>;
  framesOutByType: Record<string, number>;
  crcErrors: number;
  hiFirstCrcFrames: number;
  framingErrors: number;
  garbageBytes: number;
  decodeErrors: number;
  framesBeforeLogin: number;
  /** Connections that went over maxFramesPerSecond / maxBytesPerSecond (each counted once). */
  rateLimitedConnections: number;
  /** Piles whose gun states and tariff were dropped (offlineRetentionMs, maxOfflinePiles). */
  pilesForgotten: number;
  commands: number;
  commandTimeouts: number;
  commandFailures: number;
  recordsReceived: number;
  recordsConfirmed: number;
  recordsRefused: number;
  recordsDuplicate: number;
  recordsExpired: number;
  recordsForeign: number;
  recordsOverLimit: number;
}

function newCounters(): Counters {
  return {
    connections: 0, connectionsRefused: 0, admissionsDeferred: 0, loginsAccepted: 0, loginsRefused: 0, replaced: 0, takeoversRefused: 0, offline: 0,
    framesIn: 0, framesOut: 0, framesInByType: {}, framesOutByType: {}, crcErrors: 0, hiFirstCrcFrames: 0,
    framingErrors: 0, garbageBytes: 0, decodeErrors: 0, framesBeforeLogin: 0, rateLimitedConnections: 0, pilesForgotten: 0, commands: 0, commandTimeouts: 0,
    commandFailures: 0, recordsReceived: 0, recordsConfirmed: 0, recordsRefused: 0, recordsDuplicate: 0, recordsExpired: 0,
    recordsForeign: 0, recordsOverLimit: 0,
  };
}

export interface ServerEvents {
  connection: [SessionEvent];
  login: [LoginEvent];
  loginRequest: [LoginRequestEvent];
  online: [SessionEvent & { version: string | null }];
  offline: [SessionEvent];
  frame: [FrameEvent];
  record: [RecordEvent];
  recordDuplicate: [RecordEvent];
  recordForeign: [RecordEvent];
  recordExpired: [{ tradeNo: string; pileNo: string; id: string; at: number }];
  recordConfirmed: [{ tradeNo: string; pileNo: string | null; result: number; at: number; /** The record's content id ('*' when confirmed without one). */ id?: string }];
  gunState: [GunStateChange];
  sent: [FrameEvent];
  problem: [ProblemEvent];
  listening: [net.AddressInfo];
  close: [];
}

export class YkcServer extends EventEmitter<ServerEvents> {
  readonly options: GatewayOptions;
  readonly counters = newCounters();
  readonly records: RecordBook;
  readonly gunStates: GunStateTracker;
  /** Per pile, the models it took and when; when each trade number was first seen (docs/billing.md "Tariff in force"). */
  readonly tariffHistory: TariffHistory;
  /** Include frame bytes (hex) in frame events. */
  includeRaw = false;
  /** Set by a cluster (src/cluster): where requests for piles held by other instances go. */
  remote: RemotePiles | null = null;
  private readonly sessions = new Set<PileSession>();
  private readonly byPile = new Map<string, PileSession>();
  private readonly requests = new Map<PileSession, PendingRequest[]>();
  /** Sequence values of requests that timed out, per connection: their late replies must not answer a newer request. */
  private readonly timedOut = new WeakMap<PileSession, number[]>();
  /** Tariff pushes (0x58) that timed out, per connection: a late 0x57 ok to one still means the pile took it. */
  private readonly latePushes = new WeakMap<PileSession, Array<{ seq: number; body: Record<string, unknown> }>>();
  private readonly tariffs = new Map<string, TariffBody>();
  /** Piles gone offline, oldest first, with when: their state is dropped after offlineRetentionMs / past maxOfflinePiles. */
  private readonly offlineSince = new Map<string, number>();
  private defaultTariff: TariffBody | null = null;
  /** Piles already told they have no tariff: a pile re-checks every few minutes, one problem is enough (until one is given). */
  private noTariffReported = new Set<string>();
  private readonly loginWaits = new Map<number, { session: PileSession; seq: number; body: Record<string, unknown>; timer: NodeJS.Timeout }>();
  private netServer: net.Server | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly commandLatency = new LatencyWindow();
  private readonly toClose = new Set<PileSession>();
  private closeScheduled = false;
  /** Accepted sockets not read yet, oldest first (admission at admitPerSecond); `head` is the next to admit. */
  private admitQueue: net.Socket[] = [];
  private admitHead = 0;
  private admitTokens = 0;
  private admitAt = 0;
  private admitTimer: NodeJS.Timeout | null = null;
  /** Piles told about a record bound (YKC_LIMIT) in the current episode: told once, not per record. */
  private readonly overLimit = new Set<string>();

  constructor(options: Partial<GatewayOptions> & LegacyOptions = {}, journal?: RecordJournal) {
    super();
    this.options = resolveOptions(options);
    if (journal) {
      // Deferred a turn: the first failure can come from the constructor, before anyone listens.
      journal.onError = (e) => {
        const errno = (e as NodeJS.ErrnoException).code;
        setImmediate(() => this.problem(new YkcError('YKC_STORE', `record journal not written (${errno ?? e.message}): unconfirmed and confirmed trade numbers will not survive a restart until it is`, { errno })));
      };
    }
    this.records = new RecordBook(this.options.confirmedMemory, journal);
    // Reported once the owner has had the chance to listen (it subscribes right after constructing).
    for (const p of this.records.loadProblems) setImmediate(() => this.problem(new YkcError('YKC_STORE', p.message, p.details)));
    this.gunStates = new GunStateTracker((c) => this.emit('gunState', c));
    const o = this.options;
    this.tariffHistory = new TariffHistory(
      { perPile: o.tariffHistoryPerPile, maxAgeMs: o.tariffHistoryMaxAgeMs, piles: o.tariffHistoryPiles, tradesPerPile: o.tradeStartsPerPile },
      o.tariffHistoryFile,
    );
    this.tariffHistory.onError = (e) => this.problem(e);
    // A file set aside at load is reported once the owner had a chance to listen (after this constructor).
    setImmediate(() => {
      for (const e of this.tariffHistory.takeLoadProblems()) this.problem(e);
    });
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, this.options.heartbeatPeriodMs / 10)));
    this.sweepTimer.unref?.();
  }

  // ---- transport -----------------------------------------------------------------------------

  /** Starts listening; resolves with the bound address, rejects with YKC_LISTEN (port busy…). */
  listen(port: number, host = '0.0.0.0'): Promise<net.AddressInfo> {
    if (this.netServer) return Promise.reject(new YkcError('YKC_LISTEN', 'already listening'));
    return new Promise((resolve, reject) => {
      // allowHalfOpen: a pile's FIN does not close our side at once; closeSoon() does, in batches.
      // pauseOnConnect: an accepted socket is not read until it is admitted (see admit()).
      const srv = net.createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (sock) => this.accept(sock));
      const onError = (err: NodeJS.ErrnoException) => {
        srv.close();
        this.netServer = null;
        reject(new YkcError('YKC_LISTEN', `cannot listen on ${host}:${port}: ${err.code ?? err.message}`, { host, port, errno: err.code }));
      };
      srv.once('error', onError);
      // A deep accept backlog: in a reconnect storm the kernel must not drop SYNs (each costs the
      // pile a 1 s+ retransmit) while the event loop is busy; admission then paces the reading.
      srv.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        srv.off('error', onError);
        if (this.closing) {
          // close() ran while we were binding: do not leave a listener nobody will close.
          srv.close();
          reject(new YkcError('YKC_CLOSED', 'the server was closed while it was starting to listen', { host, port }));
          return;
        }
        srv.on('error', (err) => this.problem(new YkcError('YKC_LISTEN', `listener error: ${err.message}`)));
        this.netServer = srv;
        const addr = srv.address() as net.AddressInfo;
        this.emit('listening', addr);
        resolve(addr);
      });
    });
  }

  address(): net.AddressInfo | null {
    return (this.netServer?.address() as net.AddressInfo | null) ?? null;
  }

  private accept(sock: net.Socket): void {
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    const waiting = this.admitQueue.length - this.admitHead;
    const why = this.closing
      ? 'server closing'
      : this.sessions.size + waiting >= this.options.maxConnections
        ? `maxConnections ${this.options.maxConnections} reached`
        : null;
    if (why) {
      this.counters.connectionsRefused++;
      sock.on('error', () => {});
      sock.destroy();
      this.problem(new YkcError('YKC_LIMIT', `connection from ${remote} refused: ${why}`, { remote }));
      return;
    }
    // Until admitted the socket is not read; a reset meanwhile must not become an uncaught error.
    sock.on('error', ignoreError);
    this.admitQueue.push(sock);
    if (waiting > 0) this.counters.admissionsDeferred++;
    this.admit();
  }

  /**
   * Admits waiting connections at admitPerSecond, oldest first: each is handed to a session and
   * read from then on (its login answered). A burst beyond the rate waits here instead of being
   * closed; a few per timer tick keep the piles already online answered promptly.
   */
  private admit(): void {
    const now = Date.now();
    const rate = this.options.admitPerSecond;
    // Allowance accrues with time, up to 10 ms worth (at least one): a burst is spread over many
    // short turns, between which the piles online are read and answered.
    const cap = Math.max(1, rate / 100);
    this.admitTokens = Math.min(cap, this.admitTokens + ((now - this.admitAt) / 1000) * rate);
    this.admitAt = now;
    while (this.admitHead < this.admitQueue.length && this.admitTokens >= 1 && !this.closing) {
      const sock = this.admitQueue[this.admitHead++];
      if (sock.destroyed) continue;
      this.admitTokens--;
      sock.off('error', ignoreError);
      sock.setNoDelay(true);
      sock.setKeepAlive(true, 60_000);
      this.handle(sock, `${sock.remoteAddress}:${sock.remotePort}`);
      sock.resume();
    }
    if (this.admitHead === this.admitQueue.length) {
      this.admitQueue = [];
      this.admitHead = 0;
    } else if (this.admitHead > 1024) {
      this.admitQueue = this.admitQueue.slice(this.admitHead);
      this.admitHead = 0;
    }
    if (this.admitQueue.length && !this.admitTimer && !this.closing) {
      this.admitTimer = setTimeout(() => {
        this.admitTimer = null;
        this.admit();
      }, Math.max(1, Math.ceil(((1 - this.admitTokens) / rate) * 1000)));
    }
  }

  /** Connections accepted and waiting for admission (admitPerSecond). */
  admissionQueueLength(): number {
    return this.admitQueue.length - this.admitHead;
  }

  /** Serves one pile over any Duplex stream (a socket, or an in-memory pair in tests). */
  handle(stream: Duplex, remote = 'stream'): PileSession {
    const session = new PileSession(
      stream,
      remote,
      {
        frame: (s, f, order) => this.onFrame(s, f, order),
        framingError: (s, err) => this.problem(err, s),
        rateLimited: (s, pauseMs) => {
          this.counters.rateLimitedConnections++;
          const o = this.options;
          this.problem(new YkcError('YKC_LIMIT', `${s.pileNo ? `pile ${s.pileNo}` : s.remote} sends faster than ${o.maxFramesPerSecond} frames / ${o.maxBytesPerSecond} bytes per second (burst ${o.rateBurstSeconds} s): not read for ${pauseMs} ms, then at that rate (maxFramesPerSecond, maxBytesPerSecond)`, { pauseMs }), s);
        },
        framingStats: (_s, crc, garbage, rejects) => {
          this.counters.crcErrors += crc;
          this.counters.garbageBytes += garbage;
          this.counters.framingErrors += rejects;
        },
        ended: (s) => this.closeSoon(s),
        closed: (s, reason) => this.onClosed(s, reason),
      },
      this.options,
    );
    this.sessions.add(session);
    this.counters.connections++;
    this.emit('connection', { sessionId: session.id, pileNo: null, remote, at: Date.now() });
    return session;
  }

  /** Stops listening, closes every connection, rejects pending requests with YKC_CLOSED. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    const srv = this.netServer;
    this.netServer = null;
    const closed = srv ? new Promise<void>((r) => srv.close(() => r())) : Promise.resolve();
    if (this.admitTimer) clearTimeout(this.admitTimer);
    this.admitTimer = null;
    for (const sock of this.admitQueue.slice(this.admitHead)) sock.destroy();
    this.admitQueue = [];
    this.admitHead = 0;
    for (const w of this.loginWaits.values()) clearTimeout(w.timer);
    this.loginWaits.clear();
    this.toClose.clear();
    for (const s of [...this.sessions]) s.close('server closing');
    this.records.close();
    this.tariffHistory.close();
    await closed;
    this.emit('close');
  }

  // ---- registry ------------------------------------------------------------------------------

  session(pileNo: string): PileSession | undefined {
    return this.byPile.get(pileNo);
  }

  /**
   * Closes a pile's connection (ykc-command "disconnect": a stuck pile, a takeover). The pile's
   * firmware reconnects by itself; the usual offline event follows. YKC_OFFLINE when not connected here.
   */
  disconnect(pileNo: string, reason = 'disconnected by the flow'): { sessionId: number; remote: string } {
    const s = this.byPile.get(pileNo);
    if (!s) throw new YkcError('YKC_OFFLINE', `pile ${pileNo} is not connected`, { pileNo });
    const closed = { sessionId: s.id, remote: s.remote };
    s.close(reason);
    return closed;
  }

  isOnline(pileNo: string): boolean {
    return this.byPile.has(pileNo);
  }

  /** Logged-in piles, with their guns' derived states. */
  piles(): Array<SessionInfo & { guns: ReturnType<GunStateTracker['snapshot']> }> {
    return [...this.byPile.values()].map((s) => ({ ...s.info(), guns: this.gunStates.snapshot(s.pileNo!) }));
  }

  connectionCount(): number {
    return this.sessions.size;
  }

  onlineCount(): number {
    return this.byPile.size;
  }

  /** The protocol version of a pile online here or, in a cluster, on another live instance; null when not online. */
  versionOf(pileNo: string): string | null {
    const s = this.byPile.get(pileNo);
    if (s) return s.version;
    return this.remote && this.remote.holder(pileNo) !== null ? this.remote.versionOf(pileNo) : null;
  }

  /** Pile numbers online here and, in a cluster, on the other live instances (each once). */
  onlinePileNumbers(): string[] {
    const here = [...this.byPile.keys()];
    if (!this.remote) return here;
    const seen = new Set(here);
    for (const p of this.remote.pileNumbers()) {
      if (seen.has(p)) continue;
      seen.add(p);
      here.push(p);
    }
    return here;
  }

  /** Counters, gauges and command latency, as plain JSON. */
  metrics(): MetricsSnapshot {
    let requestsPending = 0;
    for (const l of this.requests.values()) requestsPending += l.length;
    return {
      at: Date.now(),
      gauges: { connections: this.sessions.size, pilesOnline: this.byPile.size, recordsPending: this.records.heldCount(), requestsPending, admissionQueue: this.admissionQueueLength() },
      counters: { ...this.counters, framesInByType: { ...this.counters.framesInByType }, framesOutByType: { ...this.counters.framesOutByType } },
      commandLatencyMs: this.commandLatency.summary(),
    };
  }

  // ---- tariffs -------------------------------------------------------------------------------

  /** Sets the tariff answered to 0x05/0x09 for one pile, or the default for all (pileNo null). */
  setTariff(pileNo: string | null, tariff: TariffBody | null): void {
    if (tariff) {
      if (pileNo === null) this.noTariffReported.clear();
      else this.noTariffReported.delete(pileNo);
    }
    if (pileNo === null) this.defaultTariff = tariff;
    else if (tariff) this.tariffs.set(pileNo, tariff);
    else this.tariffs.delete(pileNo);
  }

  tariffFor(pileNo: string): TariffBody | null {
    return this.tariffs.get(pileNo) ?? this.defaultTariff;
  }

  /** The model the pile had taken at `at` (epoch ms, gateway clock), from its history; null when none is known. */
  tariffInForce(pileNo: string, at: number): TariffEntry | null {
    return this.tariffHistory.inForce(pileNo, at);
  }

  /**
   * The tariff a decoded record's session ran under: the model in force at the session's start (first
   * frame of its trade number, else its start time read at utcOffsetMinutes), else the gateway's current
   * tariff for the pile; null when there is neither.
   */
  sessionTariff(pileNo: string, record: Record<string, unknown>): SessionTariff | null {
    const start = this.tariffHistory.sessionStart(pileNo, record, this.options.utcOffsetMinutes);
    const e = start ? this.tariffHistory.inForce(pileNo, start.at) : null;
    if (e) return { tariff: e.tariff, source: 'history', since: e.since, via: e.via, sessionStart: start };
    const t = this.tariffFor(pileNo);
    return t ? { tariff: t, source: 'server', since: null, via: null, sessionStart: start } : null;
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Sends a frame we originate (our own sequence number). Returns the sequence used. */
  send(pileNo: string, frame: FrameInput): number {
    const s = this.online(pileNo);
    const seq = frame.seq ?? s.nextSeq();
    this.write(s, { ...frame, seq });
    return seq;
  }

  /**
   * Sends a reply to a pile's request, copying the request's sequence value. A pile held by another
   * instance of a cluster (its request reached this flow over the broker) is answered through its
   * holder, once; a failure there is reported as a problem (the answer cannot be awaited here).
   */
  reply(pileNo: string, requestSeq: number, frame: FrameInput): void {
    if (this.remote && !this.byPile.has(pileNo) && this.remote.holder(pileNo) !== null) {
      this.remote.request(pileNo, { ...frame, seq: requestSeq }, {}).catch((e: unknown) => {
        const err = e instanceof YkcError ? e : new YkcError('YKC_CLOSED', String((e as Error)?.message ?? e));
        this.problem(err, undefined, { pileNo });
      });
      return;
    }
    this.write(this.online(pileNo), { ...frame, seq: requestSeq });
  }

  /**
   * Sends a command and resolves with the pile's reply (matched by reply type and sequence, or
   * by trade/gun number when a pile does not echo the sequence). Frames without a reply type
   * resolve with null once written. Rejects with YKC_OFFLINE, YKC_TIMEOUT, YKC_CLOSED, YKC_LIMIT
   * or the encoder's YKC_FIELD. A pile held by another instance of a cluster is asked through
   * `remote` (same results and errors; see docs/cluster.md).
   */
  request(pileNo: string, frame: FrameInput, opts: RequestOptions = {}): Promise<DecodedFrame | null> {
    if (this.remote && !opts.localOnly && !this.byPile.has(pileNo) && this.remote.holder(pileNo) !== null) {
      return this.remote.request(pileNo, frame, opts);
    }
    let session: PileSession;
    try {
      session = this.online(pileNo);
    } catch (e) {
      return Promise.reject(e);
    }
    const schema = typeof frame.type === 'number' ? schemaForType(frame.type) : schemaForName(String(frame.type ?? frame.name ?? ''));
    const replyType = schema?.dir === 'down' ? schema.reply : undefined;
    const list = this.requests.get(session) ?? [];
    if (replyType !== undefined && list.length >= this.options.maxPendingRequests) {
      return Promise.reject(new YkcError('YKC_LIMIT', `pile ${pileNo} already has ${list.length} requests waiting (maxPendingRequests)`, { pileNo }));
    }
    const seq = frame.seq ?? session.nextSeq();
    let sent: Buffer;
    try {
      sent = this.write(session, { ...frame, seq });
    } catch (e) {
      return Promise.reject(e);
    }
    this.counters.commands++;
    if (replyType === undefined) return Promise.resolve(null);
    const keyField = REPLY_KEY[replyType] ?? null;
    // The key as the pile reads it from the bytes sent, not as given: a trade number "123" or 123 goes
    // out left-padded to 32 digits, and the pile's reply names it that way.
    const keyValue = keyField ? decodeFrameAt(sent, 0, sent.length).body[keyField] : undefined;
    const timeoutMs = opts.timeoutMs ?? this.options.requestTimeoutMs;
    return new Promise<DecodedFrame | null>((resolve, reject) => {
      const p: PendingRequest = {
        session, replyType, seq, keyField, keyValue, body: frame.body as Record<string, unknown> | undefined, sentAt: Date.now(), resolve, reject,
        timer: setTimeout(() => {
          this.dropRequest(p);
          this.counters.commandTimeouts++;
          const late = this.timedOut.get(session) ?? [];
          late.push(p.seq);
          if (late.length > 32) late.shift();
          this.timedOut.set(session, late);
          if (p.replyType === 0x57 && p.body) {
            const pushes = this.latePushes.get(session) ?? [];
            pushes.push({ seq: p.seq, body: p.body });
            if (pushes.length > 8) pushes.shift();
            this.latePushes.set(session, pushes);
          }
          reject(new YkcError('YKC_TIMEOUT', `pile ${pileNo} did not answer ${schema!.name} (${typeHex(schema!.type)}) within ${timeoutMs} ms`, {
            pileNo, type: schema!.type, name: schema!.name, timeoutMs,
          }));
        }, timeoutMs),
      };
      list.push(p);
      this.requests.set(session, list);
    });
  }

  private online(pileNo: string): PileSession {
    const s = this.byPile.get(pileNo);
    if (!s || s.state !== 'online') throw new YkcError('YKC_OFFLINE', `pile ${pileNo} is not online`, { pileNo });
    return s;
  }

  private write(s: PileSession, frame: FrameInput): Buffer {
    const buf = s.send(frame);
    this.counters.framesOut++;
    const type = buf[5];
    const k = typeHex(type);
    this.counters.framesOutByType[k] = (this.counters.framesOutByType[k] ?? 0) + 1;
    if (this.listenerCount('sent') > 0) {
      this.emit('sent', {
        sessionId: s.id, pileNo: s.pileNo, remote: s.remote, loggedIn: s.state === 'online', version: s.version,
        // Secrets (the OTA FTP password) never leave in reports: src/protocol/secrets.ts.
        frame: maskFrame(decodeFrameAt(buf, 0, buf.length)), receivedAt: Date.now(), ...(this.includeRaw ? { raw: maskedHex(buf) } : {}),
      });
    }
    return buf;
  }

  private dropRequest(p: PendingRequest): void {
    clearTimeout(p.timer);
    const list = this.requests.get(p.session);
    if (!list) return;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.requests.delete(p.session);
  }

  private matchRequest(s: PileSession, f: DecodedFrame): PendingRequest | undefined {
    const list = this.requests.get(s);
    if (!list) return undefined;
    const swapped = ((f.seq & 0xff) << 8) | (f.seq >>> 8);
    let byKey: PendingRequest | undefined;
    for (const p of list) {
      if (p.replyType !== f.type) continue;
      const keyOk = p.keyField === null || p.keyValue === undefined || String(f.body[p.keyField]) === String(p.keyValue);
      if ((p.seq === f.seq || p.seq === swapped) && keyOk) return p;
      if (keyOk && !byKey) byKey = p;
    }
    // The fallback (piles that do not echo sequence numbers) must not hand a late reply to a
    // request that timed out over to the next request of the same kind.
    const late = this.timedOut.get(s);
    if (byKey && late && (late.includes(f.seq) || late.includes(swapped))) return undefined;
    return byKey;
  }

  // ---- records -------------------------------------------------------------------------------

  /**
   * Acknowledges a record (0x40 result 0, or 1 = illegal record when ok is false) and remembers it,
   * durably (fsync) when a journal is set, before returning. Finds, in this order: a held copy
   * (the oldest when several match), a record handed over whose hold expired, a confirmation made
   * before (`already`: nothing is sent again). Unknown to the gateway but named with its pile: the
   * 0x40 goes to the pile now if it is online and the confirmation is remembered (with its content
   * id when given), but without an id it absorbs no later copy (RecordBook.classify). Throws
   * YKC_INPUT when the trade number alone is ambiguous (held by several piles) or unknown without a pile.
   */
  confirm(req: ConfirmRequest, ok = true): ConfirmOutcome {
    const result = ok ? 0 : 1;
    const { tradeNo, pileNo, id } = req;
    const one = <T extends RecordRef>(found: T[]): T | undefined => {
      if (pileNo === undefined && new Set(found.map((r) => r.pileNo)).size > 1) {
        throw new YkcError('YKC_INPUT', `trade number ${tradeNo} is known from piles ${[...new Set(found.map((r) => r.pileNo))].join(', ')}: name the pile (msg.ykc.pileNo) to confirm one`, { tradeNo });
      }
      return found[0];
    };
    const held = one(this.records.findHeld(tradeNo, pileNo, id));
    let ref: RecordRef | undefined = held ?? one(this.records.findUnconfirmed(tradeNo, pileNo, id));
    if (!ref) {
      const before = one(this.records.findConfirmed(tradeNo, pileNo, id));
      if (before) return { pileNo: before.pileNo, tradeNo, result: before.result, sent: false, already: true, durable: false };
      if (pileNo === undefined) {
        throw new YkcError('YKC_INPUT', `record ${tradeNo} is not known to the gateway: name its pile (msg.ykc.pileNo) to confirm it`, { tradeNo });
      }
      ref = { pileNo, tradeNo, id: id ?? ANY_CONTENT };
    }
    const { durable } = this.records.markConfirmed(ref, result, true);
    this.emit('recordConfirmed', { tradeNo, pileNo: ref.pileNo, result, at: Date.now(), id: ref.id });
    if (ok) this.counters.recordsConfirmed++;
    else this.counters.recordsRefused++;
    if (this.records.heldCount(ref.pileNo) === 0) this.overLimit.delete(ref.pileNo);
    const s = this.byPile.get(ref.pileNo);
    // A record relayed from another instance of a cluster is acknowledged where its pile is connected.
    if (!s && !held && !req.localOnly && this.remote && this.remote.holder(ref.pileNo) !== null) {
      return { pileNo: ref.pileNo, tradeNo, result, sent: this.remote.confirm(ref.pileNo, tradeNo, ok, id), durable };
    }
    const sent = !!s && s.state === 'online';
    if (sent) this.write(s, { type: 0x40, seq: held ? held.seq : s.nextSeq(), body: { tradeNo, result } });
    return { pileNo: ref.pileNo, tradeNo, result, sent, durable };
  }

  /**
   * confirm() for callers of the earlier API: true when the 0x40 went to the pile now. The trade
   * number alone works when only one pile holds it.
   */
  confirmRecord(tradeNo: string, ok = true, pileNo?: string, id?: string): boolean {
    return this.confirm({ tradeNo, pileNo, id }, ok).sent;
  }

  private onRecord(s: PileSession, ev: FrameEvent, buf: Buffer): void {
    const f = ev.frame;
    const tradeNo = String(f.body.tradeNo);
    const pileNo = s.pileNo!;
    // Identity: the session's pile (never the body's), the trade number, and the content.
    const ref: RecordRef = { pileNo, tradeNo, id: recordDigest(buf) };
    this.counters.recordsReceived++;
    const claimed = f.body.pileNo;
    if (typeof claimed === 'string' && claimed !== pileNo) {
      this.refuseForeign(s, ev, ref, claimed);
      return;
    }
    // The session under this trade number is over: a later frame naming it starts another (tariff in force).
    this.tariffHistory.recordSeen(pileNo, tradeNo);
    const arrival = this.records.classify(ref);
    const mode = this.options.recordConfirm;
    if (arrival === 'resend-confirmed') {
      // Already safe downstream: acknowledge again, never hand it to the flow twice.
      this.counters.recordsDuplicate++;
      this.write(s, { type: 0x40, seq: f.seq, body: { tradeNo, result: this.records.confirmedResult(ref) ?? 0 } });
      this.emit('recordDuplicate', { ...ev, arrival, held: false, id: ref.id });
      return;
    }
    if (arrival === 'resend-pending') {
      const p = this.records.heldRecord(ref)!;
      p.seq = f.seq;
      p.resends++;
      this.counters.recordsDuplicate++;
      this.emit('recordDuplicate', { ...ev, arrival, held: true, id: ref.id });
      return;
    }
    if (mode === 'at-once') {
      // Nothing waits on this confirmation: journalled with the next batch, not fsync'ed per record.
      this.records.markConfirmed(ref, 0, false);
      this.counters.recordsConfirmed++;
      this.write(s, { type: 0x40, seq: f.seq, body: { tradeNo, result: 0 } });
      this.emit('record', { ...ev, arrival, held: false, id: ref.id });
      return;
    }
    if (!this.mayHold(s, ref)) return;
    const timer = setTimeout(() => {
      if (this.records.expire(ref)) {
        this.counters.recordsExpired++;
        if (this.records.heldCount(pileNo) === 0) this.overLimit.delete(pileNo);
        this.emit('recordExpired', { tradeNo, pileNo, id: ref.id, at: Date.now() });
      }
    }, this.options.recordConfirmTimeoutMs);
    timer.unref?.();
    this.records.hold({ ...ref, seq: f.seq, type: f.type, receivedAt: ev.receivedAt, resends: 0, timer });
    this.emit('record', { ...ev, arrival, held: true, id: ref.id });
  }

  /**
   * A record whose body names another pile: refused with 0x40 result 1 and reported with its whole
   * body, so it is never stored as that other pile's record and never blocks the real one.
   */
  private refuseForeign(s: PileSession, ev: FrameEvent, ref: RecordRef, claimed: string): void {
    const f = ev.frame;
    this.counters.recordsForeign++;
    this.write(s, { type: 0x40, seq: f.seq, body: { tradeNo: ref.tradeNo, result: 1 } });
    this.problem(
      new YkcError('YKC_FIELD', `transaction record ${ref.tradeNo} from pile ${ref.pileNo} names pile ${claimed} in its body: refused (0x40 result 1), not counted as pile ${claimed}'s record`, {
        tradeNo: ref.tradeNo, claimed, id: ref.id, record: f.body, about: 'record',
      }),
      s,
    );
    this.emit('recordForeign', { ...ev, arrival: 'new', held: false, id: ref.id, foreign: true });
  }

  /**
   * The bounds on records awaiting the flow. Beyond them the record is neither acknowledged nor
   * emitted: the pile keeps it and resends it, so nothing is lost. Reported once per pile until
   * one of its records is held again (or none of its records is held any more).
   */
  private mayHold(s: PileSession, ref: RecordRef): boolean {
    const o = this.options;
    const mine = this.records.heldCount(ref.pileNo);
    const all = this.records.heldCount();
    const why =
      mine >= o.maxHeldRecordsPerPile
        ? `pile ${ref.pileNo} already has ${mine} records awaiting the flow (maxHeldRecordsPerPile ${o.maxHeldRecordsPerPile})`
        : all >= o.maxHeldRecords
          ? `${all} records of all piles await the flow (maxHeldRecords ${o.maxHeldRecords})`
          : null;
    if (!why) {
      this.overLimit.delete(ref.pileNo);
      return true;
    }
    this.counters.recordsOverLimit++;
    if (!this.overLimit.has(ref.pileNo)) {
      this.overLimit.add(ref.pileNo);
      this.problem(new YkcError('YKC_LIMIT', `transaction record ${ref.tradeNo} neither acknowledged nor handed to the flow: ${why}; the pile keeps it and sends it again`, { tradeNo: ref.tradeNo, held: mine, heldTotal: all, about: 'record' }), s);
    }
    return false;
  }

  // ---- login ---------------------------------------------------------------------------------

  /** Answers a 'loginRequest' (policy "ask"). Returns false if that login is no longer waiting. */
  answerLogin(sessionId: number, accept: boolean, reason = 'refused by the flow'): boolean {
    const w = this.loginWaits.get(sessionId);
    if (!w) return false;
    clearTimeout(w.timer);
    this.loginWaits.delete(sessionId);
    if (w.session.state === 'closed') return false;
    this.finishLogin(w.session, w.seq, w.body, accept, reason);
    return true;
  }

  private onLogin(s: PileSession, f: DecodedFrame): void {
    const body = f.body;
    const pileNo = String(body.pileNo);
    if (s.state === 'online' && s.pileNo === pileNo && this.byPile.get(pileNo) === s) {
      // The pile resent its login before our reply reached it: answer again, announce nothing new.
      this.write(s, { type: 0x02, seq: f.seq, body: { pileNo, result: 0 } });
      return;
    }
    const asked = this.loginWaits.get(s.id);
    const other = s.pileNo ?? (asked ? String(asked.body.pileNo) : null);
    if (other !== null && other !== pileNo) {
      // One connection is one pile: a connection that speaks for many could fill every per-pile table.
      if (asked) {
        clearTimeout(asked.timer);
        this.loginWaits.delete(s.id);
      }
      this.finishLogin(s, f.seq, body, false, `this connection already logged in as pile ${other}: one connection, one pile`);
      return;
    }
    const policy = this.options.loginPolicy;
    if (policy === 'allowlist') {
      const ok = this.options.allowlist.includes(pileNo);
      this.finishLogin(s, f.seq, body, ok, ok ? '' : 'not in the allowlist');
      return;
    }
    if (policy === 'ask') {
      const prev = this.loginWaits.get(s.id);
      if (prev) clearTimeout(prev.timer);
      const timer = setTimeout(() => this.answerLogin(s.id, false, 'no answer from the flow'), this.options.loginAskTimeoutMs);
      this.loginWaits.set(s.id, { session: s, seq: f.seq, body, timer });
      const current = this.byPile.get(pileNo);
      this.emit('loginRequest', { sessionId: s.id, pileNo, remote: s.remote, body, ...(current && current !== s ? { onlineFrom: current.remote } : {}) });
      return;
    }
    this.finishLogin(s, f.seq, body, true, '');
  }

  private finishLogin(s: PileSession, seq: number, body: Record<string, unknown>, accept: boolean, reason: string): void {
    const pileNo = String(body.pileNo);
    const at = Date.now();
    const old = this.byPile.get(pileNo);
    const takeover = !!old && old !== s;
    if (accept && takeover) {
      // Reported every time, even from the same address: the new connection gets the pile's
      // commands and record confirmations. Could be the pile itself after its link dropped (4G
      // moving cells, a NAT timeout), or someone else using its number.
      const o = this.options;
      const silentMs = at - old!.lastSeen;
      const alive = old!.state === 'online' && silentMs < o.heartbeatPeriodMs * 1.5;
      const refuse = o.takeover === 'refuse-while-alive' && alive;
      this.problem(
        new YkcError(
          'YKC_LOGIN',
          `pile ${pileNo} logged in from ${s.remote} while online from ${old!.remote} (last heard ${Math.round(silentMs / 1000)} s ago): ` +
            (refuse ? 'the new login is refused while the current connection is alive (takeover: refuse-while-alive)' : 'the old connection is replaced'),
          { takeover: true, refused: refuse, pileNo, remote: s.remote, previousRemote: old!.remote, previousSessionId: old!.id, previousSilentMs: silentMs },
        ),
        s,
      );
      if (refuse) {
        this.counters.takeoversRefused++;
        accept = false;
        reason = `pile ${pileNo} is online from ${old!.remote} and alive (takeover: refuse-while-alive)`;
      }
    }
    if (!accept) {
      this.counters.loginsRefused++;
      try {
        this.write(s, { type: 0x02, seq, body: { pileNo, result: 1 } });
      } catch {
        /* encoding a refusal cannot fail for a decoded pile number; nothing to send otherwise */
      }
      this.emit('login', { sessionId: s.id, pileNo, remote: s.remote, accepted: false, reason, version: null, body, at, ...(takeover ? { previousRemote: old!.remote } : {}) });
      // Give the refusal a moment to leave before closing (the spec: the platform closes).
      s.endThenClose(`login refused: ${reason}`);
      return;
    }
    let replaced = false;
    if (old && takeover) {
      replaced = true;
      this.counters.replaced++;
      // Unregister first so the old connection's close does not mark the pile offline.
      this.byPile.delete(pileNo);
      old.close('replaced by a new login');
    }
    if (s.pileNo && s.pileNo !== pileNo && this.byPile.get(s.pileNo) === s) this.byPile.delete(s.pileNo);
    s.pileNo = pileNo;
    s.state = 'online';
    s.loggedInAt = at;
    const v = body.protocolVersion;
    s.version = typeof v === 'number' ? v.toFixed(1) : null;
    s.pileType = typeof body.pileTypeName === 'string' ? body.pileTypeName : null;
    s.gunCount = typeof body.gunCount === 'number' ? body.gunCount : null;
    s.firmwareVersion = typeof body.firmwareVersion === 'string' ? body.firmwareVersion : null;
    s.iccid = typeof body.iccid === 'string' && /[1-9]/.test(body.iccid) ? body.iccid : null;
    this.byPile.set(pileNo, s);
    this.offlineSince.delete(pileNo);
    this.counters.loginsAccepted++;
    this.write(s, { type: 0x02, seq, body: { pileNo, result: 0 } });
    this.emit('login', { sessionId: s.id, pileNo, remote: s.remote, accepted: true, version: s.version, body, replaced, at, ...(replaced ? { previousRemote: old!.remote } : {}) });
    this.emit('online', { sessionId: s.id, pileNo, remote: s.remote, version: s.version, at });
    if (this.options.autoTimeSync) {
      const t = setTimeout(() => {
        if (this.byPile.get(pileNo) !== s) return;
        const time = formatWallTime(wallTimeOf(new Date(), this.options.utcOffsetMinutes));
        this.request(pileNo, { type: 0x56, body: { pileNo, time } }).catch(() => {
          /* a pile that ignores time sync is not an error worth more than the timeout counter */
        });
      }, Math.random() * this.options.timeSyncJitterMs);
      t.unref?.();
    }
  }

  // ---- inbound -------------------------------------------------------------------------------

  private onFrame(s: PileSession, buf: Buffer, _order: CrcOrder): void {
    const receivedAt = Date.now();
    let f: DecodedFrame;
    try {
      f = decodeFrameAt(buf, 0, buf.length);
    } catch (e) {
      this.counters.decodeErrors++;
      const err = e instanceof YkcError ? e : new YkcError('YKC_FIELD', String(e));
      this.problem(err, s, { frameHex: maskedHex(buf) });
      return;
    }
    this.counters.framesIn++;
    const k = typeHex(f.type);
    this.counters.framesInByType[k] = (this.counters.framesInByType[k] ?? 0) + 1;
    if (f.crcOrder === 'hi-first') this.counters.hiFirstCrcFrames++;

    if (f.type === 0x01 && !f.encrypted) {
      this.emitFrame(s, f, buf, receivedAt);
      this.onLogin(s, f);
      return;
    }
    if (s.state !== 'online') {
      this.counters.framesBeforeLogin++;
      // Reported (the first as a problem), never answered, and bounded: a peer that keeps talking
      // without logging in would otherwise push its frames into every flow at line rate.
      if (++s.framesBeforeLogin > this.options.maxFramesBeforeLogin) {
        s.close(`more than ${this.options.maxFramesBeforeLogin} frames before login (maxFramesBeforeLogin)`);
        return;
      }
      this.emitFrame(s, f, buf, receivedAt);
      if (s.framesBeforeLogin === 1) {
        this.problem(new YkcError('YKC_LOGIN', `${f.name} (${k}) from ${s.remote} before a successful login: reported, not answered`, { type: f.type }), s);
      }
      return;
    }
    const claimed = f.body.pileNo;
    // A record naming another pile is refused and reported by onRecord.
    if (typeof claimed === 'string' && claimed !== s.pileNo && !isRecordType(f.type)) {
      this.problem(new YkcError('YKC_FIELD', `${f.name} (${k}) names pile ${claimed} on the connection of pile ${s.pileNo}`, { claimed }), s);
    }
    const ev = this.emitFrame(s, f, buf, receivedAt);
    this.gunStates.onFrame(s.pileNo!, f);
    const pending = this.matchRequest(s, f);
    this.tariffHook(s, f, pending, receivedAt);
    if (pending) {
      this.dropRequest(pending);
      this.commandLatency.add(receivedAt - pending.sentAt);
      pending.resolve(f);
    }
    this.autoReply(s, f, ev, buf);
  }

  private emitFrame(s: PileSession, f: DecodedFrame, buf: Buffer, receivedAt: number): FrameEvent {
    const ev: FrameEvent = {
      sessionId: s.id,
      pileNo: s.pileNo ?? (typeof f.body.pileNo === 'string' ? f.body.pileNo : null),
      remote: s.remote,
      loggedIn: s.state === 'online',
      version: s.version,
      frame: f,
      receivedAt,
    };
    if (this.includeRaw) ev.raw = maskedHex(buf);
    if (hasSecrets(f.type)) ev.frame = maskFrame(f);
    // Records of logged-in piles are emitted as 'record' once their confirmation path is known.
    if (!(ev.loggedIn && isRecordType(f.type))) this.emit('frame', ev);
    return ev;
  }

  /** Tariff in force: a 0x57 ok to our 0x58 enters the history; any frame naming a trade number dates its session. */
  private tariffHook(s: PileSession, f: DecodedFrame, pending: PendingRequest | undefined, at: number): void {
    const pileNo = s.pileNo!;
    if (f.type === 0x57) {
      // A push answered after its request timed out (matched by its sequence bytes): the pile took that model all the same.
      const swapped = ((f.seq & 0xff) << 8) | (f.seq >>> 8);
      const pushes = pending ? undefined : this.latePushes.get(s);
      const i = pushes ? pushes.findIndex((x) => x.seq === f.seq || x.seq === swapped) : -1;
      const body = pending?.body ?? (i >= 0 ? pushes!.splice(i, 1)[0].body : undefined);
      if (body && f.body.result === 1) this.tariffHistory.accepted(pileNo, body as unknown as TariffBody, at, '0x58');
    } else if (typeof f.body.tradeNo === 'string' && !isRecordType(f.type)) {
      this.tariffHistory.tradeSeen(pileNo, f.body.tradeNo, at);
    }
  }

  private autoReply(s: PileSession, f: DecodedFrame, ev: FrameEvent, buf: Buffer): void {
    const o = this.options;
    const pileNo = s.pileNo!;
    if (isRecordType(f.type)) {
      if (f.encrypted || typeof f.body.tradeNo !== 'string') this.emit('frame', ev);
      else this.onRecord(s, ev, buf);
      return;
    }
    switch (f.type) {
      case 0x03:
        if (o.autoHeartbeat) this.write(s, { type: 0x04, seq: f.seq, body: { pileNo, gunNo: f.body.gunNo, reply: 0 } });
        return;
      case 0x05: {
        s.modelCode = String(f.body.modelCode);
        if (!o.autoBillingModel) return;
        const t = this.tariffFor(pileNo);
        if (!t) {
          this.noTariff(s, pileNo, 0x05);
          return;
        }
        const same = String(t.modelCode) === s.modelCode;
        this.write(s, { type: 0x06, seq: f.seq, body: { pileNo, modelCode: f.body.modelCode, result: same ? 0 : 1 } });
        if (same) this.tariffHistory.holds(pileNo, t, Date.now());
        return;
      }
      case 0x09: {
        if (!o.autoBillingModel) return;
        const t = this.tariffFor(pileNo);
        if (!t) {
          this.noTariff(s, pileNo, 0x09);
          return;
        }
        try {
          this.write(s, { type: 0x0a, seq: f.seq, body: { ...t, pileNo } });
          this.tariffHistory.accepted(pileNo, t, Date.now(), '0x0A');
        } catch (e) {
          this.problem(e instanceof YkcError ? e : new YkcError('YKC_TARIFF', String(e)), s);
        }
        return;
      }
      default:
    }
  }

  /** A pile wants a model nobody gave: one problem per pile (details.noTariff), not one per check. */
  private noTariff(s: PileSession, pileNo: string, type: number): void {
    if (this.noTariffReported.has(pileNo)) return;
    if (this.noTariffReported.size >= this.options.maxConnections) this.noTariffReported.clear();
    this.noTariffReported.add(pileNo);
    const what = type === 0x05 ? 'checks its billing model (0x05)' : 'asks for its billing model (0x09)';
    this.problem(new YkcError('YKC_TARIFF', `pile ${pileNo} ${what} but no tariff is set for it: give the server a default tariff or send one with ykc-tariff (0x58); until then it is not answered and the pile may refuse to charge`, { pileNo, type, noTariff: true }), s);
  }

  /**
   * Closes connections the piles ended, at most CLOSE_BATCH per event-loop turn: when a site's
   * power fails thousands end together, and closing them all in one turn would stall the
   * heartbeat replies of every pile still online.
   */
  private closeSoon(s: PileSession): void {
    this.toClose.add(s);
    if (this.closeScheduled) return;
    this.closeScheduled = true;
    const drain = () => {
      let n = 0;
      for (const x of this.toClose) {
        this.toClose.delete(x);
        x.close('connection ended by peer');
        if (++n >= CLOSE_BATCH) break;
      }
      if (this.toClose.size) setImmediate(drain);
      else this.closeScheduled = false;
    };
    setImmediate(drain);
  }

  private onClosed(s: PileSession, reason: string): void {
    this.sessions.delete(s);
    const w = this.loginWaits.get(s.id);
    if (w) {
      clearTimeout(w.timer);
      this.loginWaits.delete(s.id);
    }
    const list = this.requests.get(s);
    if (list) {
      this.requests.delete(s);
      for (const p of list) {
        clearTimeout(p.timer);
        this.counters.commandFailures++;
        p.reject(new YkcError('YKC_CLOSED', `connection to pile ${s.pileNo} closed before it answered (${reason})`, { pileNo: s.pileNo, reason }));
      }
    }
    const at = Date.now();
    if (s.pileNo && this.byPile.get(s.pileNo) === s) {
      this.byPile.delete(s.pileNo);
      this.counters.offline++;
      this.gunStates.offline(s.pileNo);
      this.offlineSince.delete(s.pileNo);
      this.offlineSince.set(s.pileNo, at);
      this.emit('offline', { sessionId: s.id, pileNo: s.pileNo, remote: s.remote, reason, at });
    }
  }

  /** Liveness: logins that never come, piles that fall silent. One timer for all connections. */
  private sweep(): void {
    const now = Date.now();
    const silentAfter = this.options.heartbeatPeriodMs * this.options.missedHeartbeats;
    for (const s of this.sessions) {
      if (s.state === 'connected' && now - s.connectedAt > this.options.loginTimeoutMs && !this.loginWaits.has(s.id)) {
        s.close('login timeout');
      } else if (s.state === 'online' && now - s.lastSeen > silentAfter) {
        s.close(`no traffic for ${Math.round((now - s.lastSeen) / 1000)} s (${this.options.missedHeartbeats} heartbeat periods)`);
      }
    }
    this.forgetOffline(now);
  }

  /**
   * Drops what is kept per pile (gun states, its tariff) once it has been offline longer than
   * offlineRetentionMs, or, oldest first, past maxOfflinePiles: piles that come and go (or pile
   * numbers made up by a client) cannot grow these tables without end.
   */
  private forgetOffline(now: number): void {
    const o = this.options;
    let overBound = 0;
    for (const [pileNo, since] of this.offlineSince) {
      const over = this.offlineSince.size > o.maxOfflinePiles;
      if (!over && now - since < o.offlineRetentionMs) break;
      if (over) overBound++;
      this.offlineSince.delete(pileNo);
      this.gunStates.forget(pileNo);
      this.tariffs.delete(pileNo);
      this.counters.pilesForgotten++;
    }
    if (overBound) {
      this.problem(new YkcError('YKC_LIMIT', `more than ${o.maxOfflinePiles} piles offline (maxOfflinePiles): the gun states and tariffs of the ${overBound} offline longest were dropped`, { dropped: overBound }));
    }
  }

  /** Piles offline whose state is still kept (bounded by maxOfflinePiles). */
  offlinePileCount(): number {
    return this.offlineSince.size;
  }

  private problem(err: YkcError, s?: PileSession, extra: Record<string, unknown> = {}): void {
    this.emit('problem', {
      code: err.code,
      message: err.message,
      ...(s ? { sessionId: s.id, pileNo: s.pileNo, remote: s.remote } : {}),
      details: { ...err.details, ...extra },
      at: Date.now(),
    });
  }
}
