/** Gateway settings. Every limit is bounded and has a name (README "Limits"). */

export type LoginPolicy = 'all' | 'allowlist' | 'ask';
/**
 * A login for a pile that is online on another connection: 'replace' closes the old connection
 * (a pile that reconnected before its old link timed out is never locked out); 'refuse-while-alive'
 * refuses the new login while the old connection has sent something within 1.5 heartbeat periods.
 */
export type TakeoverPolicy = 'replace' | 'refuse-while-alive';
export type RecordConfirmMode = 'at-once' | 'after-store' | 'never';

export interface GatewayOptions {
  /** Who may log in: everyone, the allowlist, or the flow (via the 'loginRequest' event). */
  loginPolicy: LoginPolicy;
  allowlist: string[];
  /** How long "ask" waits for an answer before refusing. */
  loginAskTimeoutMs: number;
  /** A second login for an online pile (always reported as YKC_LOGIN with both addresses). */
  takeover: TakeoverPolicy;

  /** Automatic replies, each switchable. */
  autoHeartbeat: boolean;
  autoBillingModel: boolean;
  autoTimeSync: boolean;
  recordConfirm: RecordConfirmMode;
  /** "after-store": how long a record waits for confirmRecord() before the hold is dropped (the pile resends). */
  recordConfirmTimeoutMs: number;
  /** Trade numbers remembered as confirmed, to recognise resends. */
  confirmedMemory: number;
  /** "after-store": records of one pile held awaiting the flow; beyond it a new record is not acknowledged (the pile resends it later). */
  maxHeldRecordsPerPile: number;
  /** "after-store": records of all piles held awaiting the flow; beyond it the same. */
  maxHeldRecords: number;

  /** Pile heartbeat period (spec: 10 s) and how many silent periods make a pile offline. */
  heartbeatPeriodMs: number;
  missedHeartbeats: number;
  /** A connection that has not logged in by then is closed. */
  loginTimeoutMs: number;

  maxConnections: number;
  /**
   * New connections admitted per second. A burst beyond it is not refused: the connections wait,
   * unread, in an admission queue drained at this steady rate (their logins are answered in
   * turn), so a reconnect storm neither starves the piles online nor sends piles into their retry back-off.
   */
  admitPerSecond: number;
  /** Time sync after login is sent after a random delay up to this, spreading a reconnect storm's pushes. */
  timeSyncJitterMs: number;
  /** Frames a connection may send before logging in (reported once, not answered); then it is closed. */
  maxFramesBeforeLogin: number;
  /**
   * Per-connection input rate: frames and bytes per second, with a burst allowance of
   * rateBurstSeconds worth of each. Beyond it the connection is not read (TCP back-pressure slows
   * the sender; nothing is dropped) until its allowance refills, so one connection cannot take a core.
   */
  maxFramesPerSecond: number;
  maxBytesPerSecond: number;
  rateBurstSeconds: number;
  /** Gun states and per-pile tariffs of a pile offline longer than this are dropped. */
  offlineRetentionMs: number;
  /** Offline piles whose state is kept; beyond it the longest-offline are dropped first. */
  maxOfflinePiles: number;
  /** Garbage bytes per connection since its last good frame before it is closed. */
  maxGarbageBytes: number;
  /** Bytes queued for a pile that does not read before its connection is closed. */
  maxOutboundBytes: number;
  /** Outstanding request() calls per pile. */
  maxPendingRequests: number;
  /** Default request timeout. */
  requestTimeoutMs: number;

  /** Accept CRCs sent high byte first (JCPP-style piles). */
  acceptHiFirstCrc: boolean;
  /** 'spec': always send low byte first; 'learned': answer each pile in the order it uses. */
  replyCrcOrder: 'spec' | 'learned';
  /** Minutes east of UTC for the time we send (China: +480); also how a record's start time is read when finding its tariff. */
  utcOffsetMinutes: number;

  /** The models each pile took, and when (tariff in force, docs/billing.md): kept in this file across restarts; null = memory only. */
  tariffHistoryFile: string | null;
  /** Models kept per pile. */
  tariffHistoryPerPile: number;
  /** Models taken longer ago are dropped, except the one in force then. */
  tariffHistoryMaxAgeMs: number;
  /** Piles with a tariff history; beyond it the pile least recently changed is dropped. */
  tariffHistoryPiles: number;
  /** Trade numbers per pile whose first frame (the session's start on the gateway clock) is remembered. */
  tradeStartsPerPile: number;
}

export const DEFAULT_OPTIONS: GatewayOptions = {
  loginPolicy: 'all',
  allowlist: [],
  loginAskTimeoutMs: 10_000,
  takeover: 'replace',
  autoHeartbeat: true,
  autoBillingModel: true,
  autoTimeSync: true,
  recordConfirm: 'at-once',
  recordConfirmTimeoutMs: 30_000,
  confirmedMemory: 10_000,
  maxHeldRecordsPerPile: 64,
  maxHeldRecords: 10_000,
  heartbeatPeriodMs: 10_000,
  missedHeartbeats: 3,
  loginTimeoutMs: 60_000,
  maxConnections: 20_000,
  admitPerSecond: 1000,
  timeSyncJitterMs: 3000,
  maxFramesBeforeLogin: 16,
  maxFramesPerSecond: 100,
  maxBytesPerSecond: 32 * 1024,
  rateBurstSeconds: 4,
  offlineRetentionMs: 7 * 24 * 3600_000,
  maxOfflinePiles: 20_000,
  maxGarbageBytes: 4096,
  maxOutboundBytes: 64 * 1024,
  maxPendingRequests: 32,
  requestTimeoutMs: 15_000,
  acceptHiFirstCrc: true,
  replyCrcOrder: 'spec',
  utcOffsetMinutes: 480,
  tariffHistoryFile: null,
  tariffHistoryPerPile: 16,
  tariffHistoryMaxAgeMs: 31 * 24 * 3600_000,
  tariffHistoryPiles: 50_000,
  tradeStartsPerPile: 32,
};

/** Earlier names still understood: maxAcceptsPerSecond (connections beyond it were closed) is now admitPerSecond (they wait). */
export type LegacyOptions = { maxAcceptsPerSecond?: number };

export function resolveOptions(partial: Partial<GatewayOptions> & LegacyOptions = {}): GatewayOptions {
  const o: GatewayOptions = { ...DEFAULT_OPTIONS };
  const { maxAcceptsPerSecond, ...rest } = partial;
  if (maxAcceptsPerSecond !== undefined && rest.admitPerSecond === undefined) o.admitPerSecond = maxAcceptsPerSecond;
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  if (!(o.admitPerSecond > 0)) o.admitPerSecond = DEFAULT_OPTIONS.admitPerSecond;
  o.allowlist = [...new Set((o.allowlist ?? []).map((p) => String(p).trim()).filter(Boolean))];
  return o;
}
