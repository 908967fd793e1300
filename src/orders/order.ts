/**
 * The order (one charge, keyed by its pile and trade number — two piles' firmware may use the same
 * trade number, and the gateway keys records by pile too) as the tracker keeps it, and the plain JSON
 * the flow gets. Energy and money stay integers in wire units (0.0001 kWh, 0.0001 yuan); times
 * are epoch ms inside and ISO 8601 with the gateway's UTC offset outside.
 */

export const ORDER_STATES = ['requested', 'started', 'charging', 'stopping', 'ended', 'recorded', 'confirmed', 'closed'] as const;
export type OrderState = (typeof ORDER_STATES)[number];

/** How the order began: platform 0x34/0xA4, card 0x31/0x32, VIN 0x31/0x32, offline (first seen in a record or a 0x13). */
export type OrderOrigin = 'remote' | 'card' | 'vin' | 'offline' | 'unknown';

export const RANK: Record<OrderState, number> = { requested: 0, started: 1, charging: 2, stopping: 3, ended: 4, recorded: 5, confirmed: 6, closed: 7 };

export interface RecordSummary {
  /** Wall times from the record, as the pile wrote them (China time). */
  startTime: string | null;
  endTime: string | null;
  meterStart: number;
  meterEnd: number;
  totalEnergy: number;
  totalAmount: number;
  stopReason: number | null;
  stopReasonName: string | null;
  startType: number | null;
  startTypeName: string | null;
  physicalCardNo: string | null;
  vin: string | null;
}

/** Internal form: compact, journalled as is. */
export interface Order {
  tradeNo: string;
  pileNo: string;
  gunNo: number;
  state: OrderState;
  origin: OrderOrigin;
  /** Epoch ms the order entered each state (index = RANK), 0 = not (yet). */
  at: number[];
  updatedAt: number;
  /** Last 0x13 while this order ran: when, energy, amount (wire units). rtAt 0 = none. */
  rtAt: number;
  rtEnergy: number;
  rtAmount: number;
  stopReason: number | null;
  record: RecordSummary | null;
  /** Copies of the record received after the first. */
  resends: number;
  /** 0 received, 1 refused as illegal, null not yet confirmed. */
  recordResult: number | null;
  closeReason: string | null;
  /** A start or a different record arrived for a trade number already used. */
  reused: boolean;
  /** Only for a record with an all-zero trade number (keyed by offlineKey): the gateway's content id, to match its confirmation. */
  recordId?: string;
}

/** What is left of a closed order: enough to recognise its trade number coming back. */
export interface HistoryEntry {
  tradeNo: string;
  pileNo: string;
  gunNo: number;
  /** The order was accepted by the pile (a trade number that never started may be used again). */
  started: boolean;
  recordStart: string | null;
  closedAt: number;
  closeReason: string | null;
}

export interface OrderPayload {
  pileNo: string;
  gunNo: number;
  tradeNo: string;
  state: OrderState;
  origin: OrderOrigin;
  requestedAt: string | null;
  startedAt: string | null;
  chargingAt: string | null;
  stoppingAt: string | null;
  endedAt: string | null;
  recordedAt: string | null;
  confirmedAt: string | null;
  closedAt: string | null;
  updatedAt: string;
  /** Last realtime figures (0x13): energy 0.0001 kWh, amount 0.0001 yuan. */
  realtime: { at: string; energy: number; amount: number } | null;
  stopReason: number | null;
  record: (RecordSummary & { resends: number; result: number | null }) | null;
  closeReason: string | null;
  reused: boolean;
}

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');

/** ISO 8601 with the given offset, e.g. 2026-12-05T07:16:06.000+08:00. */
export function isoAt(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes < 0 ? '-' : '+';
  return `${local}${sign}${pad(Math.trunc(Math.abs(offsetMinutes) / 60))}:${pad(Math.abs(offsetMinutes) % 60)}`;
}

export function newOrder(tradeNo: string, pileNo: string, gunNo: number, origin: OrderOrigin, now: number): Order {
  return {
    tradeNo, pileNo, gunNo, state: 'requested', origin, at: [0, 0, 0, 0, 0, 0, 0, 0], updatedAt: now,
    rtAt: 0, rtEnergy: 0, rtAmount: 0, stopReason: null, record: null, resends: 0, recordResult: null, closeReason: null, reused: false,
  };
}

export function orderPayload(o: Order, offsetMinutes: number): OrderPayload {
  const t = (i: number) => (o.at[i] ? isoAt(o.at[i], offsetMinutes) : null);
  return {
    pileNo: o.pileNo,
    gunNo: o.gunNo,
    tradeNo: o.tradeNo,
    state: o.state,
    origin: o.origin,
    requestedAt: t(0),
    startedAt: t(1),
    chargingAt: t(2),
    stoppingAt: t(3),
    endedAt: t(4),
    recordedAt: t(5),
    confirmedAt: t(6),
    closedAt: t(7),
    updatedAt: isoAt(o.updatedAt, offsetMinutes),
    realtime: o.rtAt ? { at: isoAt(o.rtAt, offsetMinutes), energy: o.rtEnergy, amount: o.rtAmount } : null,
    stopReason: o.stopReason,
    record: o.record ? { ...o.record, resends: o.resends, result: o.recordResult } : null,
    closeReason: o.closeReason,
    reused: o.reused,
  };
}

/** A decoded decimal (kWh / yuan with 4 decimals) back to its integer wire units. */
export function units(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? Math.round(n * 10_000) : 0;
}

export function recordSummary(b: Record<string, unknown>): RecordSummary {
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    startTime: str(b.startTime),
    endTime: str(b.endTime),
    meterStart: units(b.meterStart),
    meterEnd: units(b.meterEnd),
    totalEnergy: units(b.totalEnergy),
    totalAmount: units(b.totalAmount),
    stopReason: num(b.stopReason),
    stopReasonName: str(b.stopReasonName),
    startType: num(b.startType),
    startTypeName: str(b.startTypeName),
    physicalCardNo: str(b.physicalCardNo),
    vin: str(b.vin) || null,
  };
}

/**
 * The key of an order whose record carries an all-zero trade number (real firmware does this for
 * offline sessions): pile (14) + gun (2) + start yyMMddHHmmss (12) + "FFFF". F never occurs in a BCD
 * trade number, so it cannot collide with a real one, and it is 32 hex digits (close / ack accept it).
 * Null when the record has no readable start (or end) time.
 */
export function offlineKey(pileNo: string, gunNo: number, r: RecordSummary): string | null {
  const digits = (r.startTime ?? r.endTime ?? '').replace(/\D/g, '');
  if (digits.length < 14 || !/^\d{14}$/.test(pileNo) || gunNo < 0 || gunNo > 99) return null;
  return `${pileNo}${String(gunNo).padStart(2, '0')}${digits.slice(2, 14)}FFFF`;
}

/** The key of an order (and of its history entry): pile + trade number (or offlineKey for an all-zero one). */
export const orderKey = (pileNo: string, tradeNo: string): string => `${pileNo}:${tradeNo}`;

/** Names an order in a command: the trade number alone (when only one pile uses it), or pile + trade number. */
export type OrderRef = string | { pileNo?: string; tradeNo: string };
