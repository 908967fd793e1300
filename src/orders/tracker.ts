/**
 * OrderTracker: follows every charging order per pile and trade number — requested → started → charging →
 * stopping → ended → recorded → confirmed → closed — from the gateway's own events, whatever
 * started it (remote 0x34/0x33, card or VIN 0x31/0x32, offline: first seen in a 0x13 or a record),
 * and raises alarms when one gets stuck. No Node-RED here: nodes/ykc-orders.ts adapts it.
 *
 * One sweep timer for all orders evaluates the time-based alarms; events clear them at once.
 * Open orders, recent history and active alarms go to an OrderJournal and survive a restart.
 */
import { EventEmitter } from 'events';
import { YkcError } from '../protocol';
import { auditRecord } from '../billing/audit';
import type { FrameEvent, RecordEvent, ServerEvents, SessionEvent, YkcServer } from '../gateway';

/** Subscribes to one gateway event and returns the unsubscribe (a Node-RED server node fans one gateway listener out). */
export type GatewaySubscribe = <K extends keyof ServerEvents>(event: K, fn: (...args: ServerEvents[K]) => void) => () => void;
import { parseWallTime, instantOf } from '../protocol';
import { Alarm, AlarmCode, alarmKey, AlarmPayload, alarmPayload, LATCHED } from './alarms';
import { BoundedMap } from '../gateway/bounded-map';
import { OrderJournal } from './journal';
import {
  HistoryEntry, isoAt, newOrder, offlineKey, Order, orderKey, OrderOrigin, OrderPayload, orderPayload, OrderRef, OrderState, RANK, recordSummary, RecordSummary, units,
} from './order';

export interface OrderTrackerOptions {
  /** Accepted start (0x33 / 0x32 ok) with no charging 0x13 within this (docs/protocol.md §8.4: 90 s). */
  startNotConfirmedMs: number;
  /** Charging and online, no 0x13 for this long. */
  realtimeSilentMs: number;
  /** Offline this long while an order charges. */
  offlineWhileChargingMs: number;
  /** Order ended, pile online, no record for this long. */
  recordMissingMs: number;
  /** Record handed to the flow, not confirmed after this long… */
  recordUnconfirmedMs: number;
  /** …or after this many resends of it, whichever comes first. */
  recordUnconfirmedResends: number;
  /** A request (0x34 / 0x32) nobody answered is closed after this long. */
  requestExpiryMs: number;
  /** Highest power a gun can deliver (kW): a record with more energy than this × its duration is an anomaly. */
  ratedPowerKw: number;
  /** Record energy may differ this much (0.0001 kWh) from the last 0x13 (plus what the rated power could add since). */
  meterToleranceUnits: number;
  /** Open orders kept; beyond it the oldest is closed with reason "limit" (README Limits). */
  maxOpenOrders: number;
  /** Closed orders remembered (trade-number reuse, late records) (README Limits). */
  historySize: number;
  /** Active alarms at most; beyond it new ones are not raised until some clear (README Limits). */
  maxAlarms: number;
  /** How often the one sweep timer runs. */
  sweepMs: number;
  /** Audit each record against the tariff in force for its session (the gateway's tariff history); a failure raises auditFailed. */
  selfAudit: boolean;
  /** Minutes east of UTC for the ISO times (and the wall times in records): China +480. */
  offsetMinutes: number;
  /** The time source (tests and benches). */
  now: () => number;
}

export const DEFAULT_ORDER_OPTIONS: Readonly<OrderTrackerOptions> = {
  startNotConfirmedMs: 90_000,
  realtimeSilentMs: 300_000,
  offlineWhileChargingMs: 60_000,
  recordMissingMs: 600_000,
  recordUnconfirmedMs: 300_000,
  recordUnconfirmedResends: 3,
  requestExpiryMs: 600_000,
  ratedPowerKw: 360,
  meterToleranceUnits: 10_000,
  maxOpenOrders: 50_000,
  historySize: 10_000,
  maxAlarms: 10_000,
  sweepMs: 1000,
  selfAudit: false,
  offsetMinutes: 480,
  now: Date.now,
};

export interface OrderTrackerEvents {
  state: [OrderPayload];
  alarm: [AlarmPayload];
  problem: [YkcError];
}

export interface Snapshot {
  at: string;
  orders: OrderPayload[];
  alarms: AlarmPayload[];
  counts: { open: number; byState: Record<string, number>; alarms: number; history: number };
}

const ZERO_TRADE = /^0*$/;
const GUN_CHARGING = 3;
const START_ORIGIN: Record<number, OrderOrigin> = { 1: 'remote', 2: 'card', 4: 'offline', 5: 'vin' };

export class OrderTracker extends EventEmitter<OrderTrackerEvents> {
  readonly options: OrderTrackerOptions;
  /** orderKey(pile, trade number) → open order: two piles may use one trade number (the gateway keys records by pile too). */
  private readonly orders = new Map<string, Order>();
  /** pile:gun → key of the order the gun is busy with. */
  private readonly byGun = new Map<string, string>();
  /** pile → keys of its open orders: online/offline touch only that pile's orders (reconnect storms). */
  private readonly byPile = new Map<string, Set<string>>();
  private readonly history: BoundedMap<HistoryEntry>;
  private readonly alarms = new Map<string, Alarm>();
  /** Piles known online (since), and offline (since). A pile in neither is unknown (after a restart: offline since load). */
  private readonly online = new Map<string, number>();
  private readonly offline = new Map<string, number>();
  /** The method of the last 0x31 per gun, until its 0x32. */
  private readonly cardMethod = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly loadedAt: number;
  /** With selfAudit and a gateway attached: the audit of a record body against its session's tariff. */
  private auditor: ((pileNo: string, body: Record<string, unknown>) => { ok: boolean; details: Record<string, unknown> } | null) | null = null;
  /** maxAlarms reached (reported once until there is room again). */
  private alarmsFull = false;

  constructor(options: Partial<OrderTrackerOptions> = {}, private readonly journal?: OrderJournal) {
    super();
    const o: OrderTrackerOptions = { ...DEFAULT_ORDER_OPTIONS };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
    this.options = o;
    this.loadedAt = o.now();
    this.history = new BoundedMap<HistoryEntry>(Math.max(1, o.historySize));
    if (journal) {
      journal.onError = (e) => {
        const errno = (e as NodeJS.ErrnoException).code;
        this.problem(new YkcError('YKC_STORE', `order journal not written (${errno ?? e.message}): open orders will not survive a restart until it is`, { errno, file: journal.file }));
      };
      const loaded = journal.load(o.historySize);
      for (const [k, v] of loaded.history.entries()) this.history.set(k, v);
      for (const [k, ord] of loaded.orders) {
        this.orders.set(k, ord);
        this.index(ord);
        if (RANK[ord.state] < RANK.ended) this.byGun.set(gunKey(ord.pileNo, ord.gunNo), k);
      }
      for (const [k, a] of loaded.alarms) this.alarms.set(k, a);
      if (loaded.badLines) {
        // After the constructor returns, so whoever listens for 'problem' hears it.
        setImmediate(() => this.problem(new YkcError('YKC_STORE', `order journal ${journal.file}: ${loaded.badLines} unreadable line(s); the readable ones were kept and the file set aside as ${loaded.setAside ?? '(could not move it)'}`, { file: journal.file, badLines: loaded.badLines, setAside: loaded.setAside })));
      }
    }
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(10, o.sweepMs));
    this.sweepTimer.unref?.();
  }

  /**
   * Feeds the tracker from a gateway; returns the function that detaches it. `subscribe` (default:
   * listeners on the gateway itself) lets the ykc-server node share one gateway listener per event.
   */
  attach(gw: YkcServer, subscribe?: GatewaySubscribe): () => void {
    const sub: GatewaySubscribe =
      subscribe ??
      ((event, fn) => {
        (gw as unknown as NodeJS.EventEmitter).on(event, fn as (...a: unknown[]) => void);
        return () => (gw as unknown as NodeJS.EventEmitter).off(event, fn as (...a: unknown[]) => void);
      });
    const now = this.options.now();
    for (const p of gw.piles()) if (p.pileNo) this.setOnline(p.pileNo, now);
    if (this.options.selfAudit) {
      this.auditor = (pileNo, body) => {
        const st = gw.sessionTariff(pileNo, body);
        if (!st) return null; // no tariff known for the pile: nothing to audit against
        const r = auditRecord(body, st.tariff as unknown as Record<string, unknown>, { now: Date.now(), offsetMinutes: this.options.offsetMinutes });
        return { ok: r.ok, details: { by: 'ykc-orders', tariffSource: st.source, mismatches: r.mismatches, inconsistencies: r.inconsistencies } };
      };
    }
    const onFrame = (ev: FrameEvent) => this.onFrame(ev);
    const onSent = (ev: FrameEvent) => this.onSent(ev);
    const onRecord = (ev: RecordEvent) => this.onRecord(ev, false);
    const onDup = (ev: RecordEvent) => this.onRecord(ev, true);
    const onConfirmed = (ev: { tradeNo: string; pileNo: string | null; result: number; id?: string }) => {
      const tradeNo = ZERO_TRADE.test(ev.tradeNo) ? this.zeroTradeOrder(ev.pileNo, ev.id) : ev.tradeNo;
      // Without a pile (not expected from the gateway): the one open order with that trade number, if only one.
      const open = tradeNo && !ev.pileNo ? this.openWith(tradeNo) : [];
      const pileNo = ev.pileNo ?? (open.length === 1 ? open[0].pileNo : null);
      if (tradeNo && pileNo) this.onRecordConfirmed(pileNo, tradeNo, ev.result);
    };
    const onOnline = (ev: SessionEvent) => ev.pileNo && this.onOnline(ev.pileNo);
    const onOffline = (ev: SessionEvent) => ev.pileNo && this.onOffline(ev.pileNo);
    const offs = [
      sub('frame', onFrame),
      sub('sent', onSent),
      sub('record', onRecord),
      sub('recordDuplicate', onDup),
      sub('recordConfirmed', onConfirmed),
      sub('online', onOnline),
      sub('offline', onOffline),
    ];
    return () => {
      this.auditor = null;
      for (const off of offs) off();
    };
  }

  // ---- events in -------------------------------------------------------------------------------

  /** Frames the platform sent: 0x34/0xA4 remote start, 0x32 start authorisation, 0x36 remote stop. */
  onSent(ev: FrameEvent): void {
    const f = ev.frame;
    const t = f.type;
    if (t !== 0x34 && t !== 0xa4 && t !== 0x32 && t !== 0x36) return;
    const b = f.body;
    const pileNo = typeof b.pileNo === 'string' ? b.pileNo : ev.pileNo;
    const gunNo = typeof b.gunNo === 'number' ? b.gunNo : 0;
    if (!pileNo) return;
    const now = this.options.now();
    if (t === 0x36) {
      const o = this.current(pileNo, gunNo);
      if (o && RANK[o.state] <= RANK.charging) this.advance(o, 'stopping', now);
      return;
    }
    const tradeNo = typeof b.tradeNo === 'string' ? b.tradeNo : '';
    if (ZERO_TRADE.test(tradeNo)) return;
    if (t === 0x32) {
      const method = this.cardMethod.get(gunKey(pileNo, gunNo));
      this.cardMethod.delete(gunKey(pileNo, gunNo));
      if (b.result !== 1) return;
      this.begin(tradeNo, pileNo, gunNo, method === 3 ? 'vin' : 'card', 'started', now);
      return;
    }
    this.begin(tradeNo, pileNo, gunNo, 'remote', 'requested', now);
  }

  onFrame(ev: FrameEvent): void {
    const f = ev.frame;
    const b = f.body;
    const pileNo = ev.pileNo;
    if (!pileNo || !ev.loggedIn) return;
    const gunNo = typeof b.gunNo === 'number' ? b.gunNo : 0;
    const now = this.options.now();
    switch (f.type) {
      case 0x13:
        return this.onRealtime(pileNo, gunNo, b, now);
      case 0x31:
        this.cardMethod.set(gunKey(pileNo, gunNo), Number(b.startMethod));
        return;
      case 0x33:
      case 0xa3: {
        const tradeNo = String(b.tradeNo ?? '');
        if (ZERO_TRADE.test(tradeNo)) return;
        if (b.result === 1) {
          this.begin(tradeNo, pileNo, gunNo, 'remote', 'started', now);
          return;
        }
        const o = this.orders.get(orderKey(pileNo, tradeNo));
        // 0x05 "not plugged": the pile may still start if the car is plugged in within its window.
        if (o && o.state === 'requested' && b.failReason !== 5) this.closeOrder(o, `startFailed: ${String(b.failReasonName ?? b.failReason)}`, now);
        return;
      }
      case 0x35: {
        const o = this.current(pileNo, gunNo);
        if (!o) return;
        if (b.result === 1) {
          if (RANK[o.state] < RANK.ended) this.advance(o, 'ended', now);
        } else if (o.state === 'stopping') {
          // The stop failed: the order is where it was (charging unless 0x13 says otherwise).
          o.state = o.rtAt ? 'charging' : 'started';
          o.at[RANK.stopping] = 0;
          this.changed(o, now);
        }
        return;
      }
      default:
    }
  }

  private onRealtime(pileNo: string, gunNo: number, b: Record<string, unknown>, now: number): void {
    const tradeNo = String(b.tradeNo ?? '');
    const charging = b.gunState === GUN_CHARGING;
    const cur = this.current(pileNo, gunNo);
    if (charging && !ZERO_TRADE.test(tradeNo)) {
      let o = this.orders.get(orderKey(pileNo, tradeNo));
      const rt: Realtime = { at: now, energy: units(b.chargedEnergy), amount: units(b.chargedAmount) };
      if (!o || RANK[o.state] >= RANK.recorded) o = this.begin(tradeNo, pileNo, gunNo, 'offline', 'charging', now, rt);
      setRealtime(o, rt);
      this.clearAlarm('startNotConfirmed', o, 'charging', now);
      this.clearAlarm('realtimeSilent', o, 'realtime data again', now);
      if (o.state === 'started' || o.state === 'requested' || o.state === 'ended') this.advance(o, 'charging', now, o.state === 'ended');
      return;
    }
    // Not charging: an order that was charging on this gun has ended (its record follows).
    if (cur && (cur.state === 'charging' || cur.state === 'stopping')) {
      if (!ZERO_TRADE.test(tradeNo) && tradeNo === cur.tradeNo) {
        cur.rtAt = now;
        cur.rtEnergy = units(b.chargedEnergy);
        cur.rtAmount = units(b.chargedAmount);
      }
      this.advance(cur, 'ended', now);
    }
  }

  /** A transaction record (0x3B/0x3D) handed to the flow, or a copy of one already known (dup). */
  onRecord(ev: RecordEvent, duplicate: boolean): void {
    const b = ev.frame.body;
    let tradeNo = String(b.tradeNo ?? '');
    const pileNo = ev.pileNo;
    if (!pileNo) return;
    const gunNo = typeof b.gunNo === 'number' ? b.gunNo : 0;
    const now = this.options.now();
    const summary = recordSummary(b);
    let zeroId: string | undefined;
    if (ZERO_TRADE.test(tradeNo)) {
      // An offline session without a trade number: one order per pile, gun and start time.
      const key = offlineKey(pileNo, gunNo, summary);
      if (!key) return;
      tradeNo = key;
      zeroId = ev.id;
    }
    const key = orderKey(pileNo, tradeNo);
    let o = this.orders.get(key);
    if (o?.record && o.record.startTime !== summary.startTime) {
      // The same trade number, a different charge: the gateway took it for a resend.
      this.closeOrder(o, 'tradeReused', now);
      o = undefined;
      this.reused(tradeNo, pileNo, gunNo, now, { previousStart: this.history.get(key)?.recordStart ?? null, recordStart: summary.startTime });
    }
    if (!o) {
      const h = this.history.get(key);
      if (h && h.recordStart !== null && h.recordStart === summary.startTime) return; // a late copy of a closed order
      if (h && h.recordStart !== null && !this.alarms.has(alarmKey('tradeReused', pileNo, tradeNo))) {
        this.reused(tradeNo, pileNo, gunNo, now, { previousStart: h.recordStart, recordStart: summary.startTime });
      }
      o = this.create(tradeNo, pileNo, gunNo, START_ORIGIN[Number(b.startType)] ?? 'offline', 'recorded', now, false);
      if (h?.recordStart !== null && h) o.reused = true;
      if (zeroId !== undefined) o.recordId = zeroId;
    }
    if (o.record) {
      o.resends++;
      this.changed(o, now, false);
    } else {
      o.record = summary;
      o.stopReason = summary.stopReason;
      this.checkMeter(o, summary, now);
      this.selfAudit(o, b, now);
      if (o.state === 'recorded') this.changed(o, now); // created from this record: announced with it
      else this.advance(o, 'recorded', now);
      this.clearAlarm('recordMissing', o, 'record received', now);
    }
    if (duplicate && ev.arrival === 'resend-confirmed' && o.recordResult === null) {
      // The gateway acknowledged this copy itself (confirmed before, e.g. before a restart).
      this.onRecordConfirmed(pileNo, tradeNo, 0);
      return;
    }
    if (!duplicate && !ev.held) this.onRecordConfirmed(pileNo, tradeNo, 0);
  }

  /** The record was confirmed to the pile (server.confirmRecord, or at once): result 0 stored, 1 refused. */
  onRecordConfirmed(pileNo: string, tradeNo: string, result: number): void {
    const o = this.orders.get(orderKey(pileNo, tradeNo));
    if (!o) return;
    const now = this.options.now();
    o.recordResult = result;
    this.clearAlarm('recordUnconfirmed', o, 'confirmed', now);
    if (RANK[o.state] < RANK.confirmed) this.advance(o, 'confirmed', now);
    this.closeOrder(o, result === 0 ? 'confirmed' : 'refused', now);
  }

  /** The open order a confirmation of an all-zero trade number belongs to: by the record's content id, else the pile's oldest such record. */
  private zeroTradeOrder(pileNo: string | null, id: string | undefined): string | null {
    if (!pileNo) return null;
    const waiting = this.ordersOf(pileNo).filter((o) => o.recordId !== undefined && o.state === 'recorded');
    return (waiting.find((o) => o.recordId === id) ?? waiting[0])?.tradeNo ?? null;
  }

  onOnline(pileNo: string): void {
    const now = this.options.now();
    this.setOnline(pileNo, now);
    for (const o of this.ordersOf(pileNo)) this.clearAlarm('offlineWhileCharging', o, 'pile online again', now);
  }

  onOffline(pileNo: string): void {
    const now = this.options.now();
    this.online.delete(pileNo);
    this.offline.set(pileNo, now);
    for (const o of this.ordersOf(pileNo)) {
      this.clearAlarm('realtimeSilent', o, 'pile offline', now);
      this.checkOffline(o, now, now);
    }
  }

  /**
   * The billing audit of a record (ykc-billing's msg.payload.audit). The pile: `ref`'s or `where`'s, else the
   * only one with an order, a closed order or an auditFailed alarm of that trade number (several: YKC_INPUT).
   */
  audit(ref: OrderRef, ok: boolean, details: Record<string, unknown> = {}, where?: { pileNo?: string; gunNo?: number }): void {
    const r = refOf(ref);
    const tradeNo = r.tradeNo;
    const pileNo =
      this.pileFor({ pileNo: r.pileNo ?? where?.pileNo, tradeNo }, () => [
        ...this.openWith(tradeNo).map((o) => o.pileNo),
        ...[...this.history.entries()].filter(([, h]) => h.tradeNo === tradeNo).map(([, h]) => h.pileNo),
        ...[...this.alarms.values()].filter((a) => a.code === 'auditFailed' && a.tradeNo === tradeNo).map((a) => a.pileNo),
      ]) ?? '';
    const now = this.options.now();
    if (ok) {
      this.clearAlarm('auditFailed', { pileNo, tradeNo }, 'audit passed', now);
      return;
    }
    const key = orderKey(pileNo, tradeNo);
    const o = this.orders.get(key);
    const h = this.history.get(key);
    const gunNo = o?.gunNo ?? h?.gunNo ?? where?.gunNo ?? 0;
    this.raise('auditFailed', { tradeNo, pileNo, gunNo }, now, details);
  }

  // ---- commands ------------------------------------------------------------------------------

  /** Closes an open order by hand (it stays in the history). Throws YKC_INPUT when it is not open, or the trade number alone names several. */
  close(ref: OrderRef, reason: string): OrderPayload {
    const r = refOf(ref);
    const pileNo = this.pileFor(r, () => this.openWith(r.tradeNo).map((o) => o.pileNo));
    const o = pileNo === null ? undefined : this.orders.get(orderKey(pileNo, r.tradeNo));
    if (!o) throw new YkcError('YKC_INPUT', `no open order with trade number ${r.tradeNo}${r.pileNo ? ` on pile ${r.pileNo}` : ''}`, { tradeNo: r.tradeNo, pileNo: r.pileNo ?? null });
    const now = this.options.now();
    this.closeOrder(o, `manual: ${reason || 'closed by hand'}`, now);
    for (const code of LATCHED) this.clearAlarm(code, o, 'order closed by hand', now);
    return orderPayload(o, this.options.offsetMinutes);
  }

  /** Acknowledges an alarm: a latched one clears, a time-based one is marked seen. Throws YKC_INPUT when none is active, or the trade number alone names several. */
  acknowledge(code: string, ref: OrderRef): AlarmPayload {
    const r = refOf(ref);
    const pileNo = this.pileFor(r, () => [...this.alarms.values()].filter((a) => a.code === code && a.tradeNo === r.tradeNo).map((a) => a.pileNo));
    const a = pileNo === null ? undefined : this.alarms.get(alarmKey(code as AlarmCode, pileNo, r.tradeNo));
    if (!a) throw new YkcError('YKC_INPUT', `no active alarm ${code} for trade number ${r.tradeNo}${r.pileNo ? ` on pile ${r.pileNo}` : ''}`, { code, tradeNo: r.tradeNo, pileNo: r.pileNo ?? null });
    const now = this.options.now();
    a.acknowledged = true;
    if (LATCHED.has(a.code)) return this.clearAlarm(a.code, a, 'acknowledged', now)!;
    this.journal?.append({ a });
    const p = alarmPayload(a, true, this.options.offsetMinutes);
    this.emit('alarm', p);
    return p;
  }

  snapshot(): Snapshot {
    const off = this.options.offsetMinutes;
    const byState: Record<string, number> = {};
    const orders: OrderPayload[] = [];
    for (const o of this.orders.values()) {
      byState[o.state] = (byState[o.state] ?? 0) + 1;
      orders.push(orderPayload(o, off));
    }
    return {
      at: isoAt(this.options.now(), off),
      orders,
      alarms: [...this.alarms.values()].map((a) => alarmPayload(a, true, off)),
      counts: { open: this.orders.size, byState, alarms: this.alarms.size, history: this.history.size },
    };
  }

  /** The open order named (null when none; YKC_INPUT when the trade number alone names several). */
  order(ref: OrderRef): OrderPayload | null {
    const r = refOf(ref);
    const pileNo = this.pileFor(r, () => this.openWith(r.tradeNo).map((o) => o.pileNo));
    const o = pileNo === null ? undefined : this.orders.get(orderKey(pileNo, r.tradeNo));
    return o ? orderPayload(o, this.options.offsetMinutes) : null;
  }

  /** Open orders with this trade number (any pile). A scan: only for commands, never per frame. */
  private openWith(tradeNo: string): Order[] {
    const out: Order[] = [];
    for (const o of this.orders.values()) if (o.tradeNo === tradeNo) out.push(o);
    return out;
  }

  /** The pile a command means: its own, else the only one `candidates` names (none: null; several: YKC_INPUT naming them). */
  private pileFor(r: { pileNo?: string; tradeNo: string }, candidates: () => string[]): string | null {
    if (r.pileNo) return r.pileNo;
    const piles = [...new Set(candidates())];
    if (piles.length > 1) {
      throw new YkcError('YKC_INPUT', `trade number ${r.tradeNo} is used by ${piles.length} piles (${piles.join(', ')}): name the pile (pileNo)`, { tradeNo: r.tradeNo, piles });
    }
    return piles[0] ?? null;
  }

  openCount(): number {
    return this.orders.size;
  }

  alarmCount(): number {
    return this.alarms.size;
  }

  /** Stops the sweep timer and writes the journal out. */
  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.journal?.close();
  }

  // ---- state machine -------------------------------------------------------------------------

  private current(pileNo: string, gunNo: number): Order | undefined {
    const k = this.byGun.get(gunKey(pileNo, gunNo));
    return k ? this.orders.get(k) : undefined;
  }

  /**
   * A start seen for a trade number: the order it belongs to, created if new. A trade number that
   * already carried a charge to its end, coming back as a new start, is a reused one.
   */
  private begin(tradeNo: string, pileNo: string, gunNo: number, origin: OrderOrigin, state: OrderState, now: number, rt?: Realtime): Order {
    const prev = this.current(pileNo, gunNo);
    const key = orderKey(pileNo, tradeNo);
    let o = this.orders.get(key);
    if (o && (RANK[o.state] >= RANK.recorded || o.gunNo !== gunNo)) {
      this.closeOrder(o, 'tradeReused', now);
      this.reused(tradeNo, pileNo, gunNo, now, { previousPile: o.pileNo, previousGun: o.gunNo });
      o = undefined;
    }
    // A start the pile accepted takes the gun: whatever it was doing before has ended. A mere request
    // (0x34 sent) does not — the pile refuses it while the gun is busy.
    const takesGun = RANK[state] >= RANK.started || !prev || prev === o || RANK[prev.state] >= RANK.ended;
    if (RANK[state] >= RANK.started && prev && prev !== o && RANK[prev.state] < RANK.ended && prev.state !== 'requested') this.advance(prev, 'ended', now);
    if (!o) {
      const h = this.history.get(key);
      // A new start (0x34 / 0x32 / 0x33) with a number that already started a charge is a reuse. A charging
      // 0x13 is the charge itself going on: a reuse only once that charge was recorded — an order closed by
      // hand (or by the limit) while the pile still charges is not.
      const reused = origin === 'offline' && state === 'charging' ? !!h && h.recordStart !== null : !!h?.started;
      if (reused) this.reused(tradeNo, pileNo, gunNo, now, { previousPile: h!.pileNo, previousGun: h!.gunNo, previousClose: h!.closeReason });
      o = this.create(tradeNo, pileNo, gunNo, origin, state, now, !reused, rt);
      if (reused) {
        o.reused = true;
        this.changed(o, now);
      }
    } else if (o.origin === 'offline' && origin !== 'offline') {
      o.origin = origin;
    }
    if (takesGun) this.byGun.set(gunKey(pileNo, gunNo), key);
    if (RANK[state] > RANK[o.state]) this.advance(o, state, now);
    return o;
  }

  /** A new order, entering at `state` (an order first seen charging or in its record has no earlier steps). */
  private create(tradeNo: string, pileNo: string, gunNo: number, origin: OrderOrigin, state: OrderState, now: number, announce = true, rt?: Realtime): Order {
    while (this.orders.size >= this.options.maxOpenOrders) {
      const oldest = this.orders.values().next().value as Order;
      this.problem(new YkcError('YKC_LIMIT', `more than ${this.options.maxOpenOrders} open orders (maxOpenOrders): the oldest (${oldest.tradeNo} of pile ${oldest.pileNo}) is closed`, { tradeNo: oldest.tradeNo, pileNo: oldest.pileNo }));
      this.closeOrder(oldest, 'limit', now);
    }
    const o = newOrder(tradeNo, pileNo, gunNo, origin, now);
    o.state = state;
    o.at[RANK[state]] = now;
    // An order first seen in a 0x13 is announced with that frame's figures.
    if (rt) setRealtime(o, rt);
    this.orders.set(orderKey(pileNo, tradeNo), o);
    this.index(o);
    this.changed(o, now, announce);
    return o;
  }

  /** Moves an order forward to `state` (backwards only when `back`), stamping the time. */
  private advance(o: Order, state: OrderState, now: number, back = false): void {
    if (RANK[state] <= RANK[o.state] && !back) return;
    if (back) for (let i = RANK[state] + 1; i < o.at.length; i++) o.at[i] = 0;
    o.state = state;
    o.at[RANK[state]] = now;
    const key = orderKey(o.pileNo, o.tradeNo);
    if (RANK[state] >= RANK.ended) {
      const k = gunKey(o.pileNo, o.gunNo);
      if (this.byGun.get(k) === key) this.byGun.delete(k);
    } else this.byGun.set(gunKey(o.pileNo, o.gunNo), key);
    if (RANK[state] > RANK.started) this.clearAlarm('startNotConfirmed', o, `order ${state}`, now);
    if (RANK[state] >= RANK.ended) {
      this.clearAlarm('realtimeSilent', o, `order ${state}`, now);
    }
    this.changed(o, now);
  }

  private closeOrder(o: Order, reason: string, now: number): void {
    const key = orderKey(o.pileNo, o.tradeNo);
    if (this.orders.get(key) !== o) return;
    o.state = 'closed';
    o.at[RANK.closed] = now;
    o.closeReason = reason;
    o.updatedAt = now;
    this.orders.delete(key);
    const set = this.byPile.get(o.pileNo);
    if (set) {
      set.delete(key);
      if (!set.size) this.byPile.delete(o.pileNo);
    }
    const k = gunKey(o.pileNo, o.gunNo);
    if (this.byGun.get(k) === key) this.byGun.delete(k);
    const h: HistoryEntry = {
      tradeNo: o.tradeNo, pileNo: o.pileNo, gunNo: o.gunNo, started: RANK_STARTED(o), recordStart: o.record?.startTime ?? null, closedAt: now, closeReason: reason,
    };
    this.history.set(key, h);
    for (const code of ['startNotConfirmed', 'realtimeSilent', 'offlineWhileCharging', 'recordMissing', 'recordUnconfirmed'] as const) {
      this.clearAlarm(code, o, `order closed (${reason})`, now);
    }
    this.journal?.append({ x: key, h });
    this.maybeCompact();
    this.emit('state', orderPayload(o, this.options.offsetMinutes));
  }

  /** Journal the order and, when `announce`, tell the flow. */
  private changed(o: Order, now: number, announce = true): void {
    o.updatedAt = now;
    this.journal?.append({ o });
    this.maybeCompact();
    if (announce) this.emit('state', orderPayload(o, this.options.offsetMinutes));
  }

  private maybeCompact(): void {
    const j = this.journal;
    if (j && j.wantsCompaction(this.orders.size + this.history.size + this.alarms.size)) {
      j.compact({ orders: this.orders, history: this.history, alarms: this.alarms });
    }
  }

  // ---- alarms --------------------------------------------------------------------------------

  private reused(tradeNo: string, pileNo: string, gunNo: number, now: number, details: Record<string, unknown>): void {
    this.raise('tradeReused', { tradeNo, pileNo, gunNo }, now, details);
  }

  private checkMeter(o: Order, r: RecordSummary, now: number): void {
    const reasons: Array<[string, string]> = [];
    if (r.meterEnd < r.meterStart) reasons.push([`meter end ${r.meterEnd / 1e4} kWh below meter start ${r.meterStart / 1e4} kWh`, `结束读数 ${r.meterEnd / 1e4} kWh 小于开始读数 ${r.meterStart / 1e4} kWh`]);
    const start = wallMs(r.startTime, this.options.offsetMinutes);
    const end = wallMs(r.endTime, this.options.offsetMinutes);
    const kw = this.options.ratedPowerKw;
    if (start !== null && end !== null && end >= start) {
      // kW × ms → 0.0001 kWh: kW × ms / 3.6e6 h·ms⁻¹ × 1e4. One minute of slack for clock granularity.
      const max = Math.ceil((kw * (end - start + 60_000)) / 360);
      if (r.totalEnergy > max) reasons.push([`${r.totalEnergy / 1e4} kWh in ${Math.round((end - start) / 1000)} s is more than ${kw} kW could deliver`, `${Math.round((end - start) / 1000)} 秒内 ${r.totalEnergy / 1e4} kWh,超过 ${kw} kW 额定功率可输出的电量`]);
    }
    if (o.rtAt) {
      const tol = this.options.meterToleranceUnits;
      // Since the last 0x13 by the gateway's clock (the record arrives after the charge ended): the pile's
      // own end time would shrink this to nothing when its clock runs slow.
      const since = Math.max(0, now - o.rtAt);
      const more = Math.ceil((kw * since) / 360);
      const diff = r.totalEnergy - o.rtEnergy;
      if (diff < -tol || diff > tol + more) {
        reasons.push([`record energy ${r.totalEnergy / 1e4} kWh, last realtime data said ${o.rtEnergy / 1e4} kWh`, `交易记录电量 ${r.totalEnergy / 1e4} kWh,最后实时数据为 ${o.rtEnergy / 1e4} kWh`]);
      }
    }
    if (reasons.length) {
      this.raise('meterAnomaly', o, now, {
        reason: reasons.map((x) => x[0]).join('; '), reasonZh: reasons.map((x) => x[1]).join(';'),
        meterStart: r.meterStart, meterEnd: r.meterEnd, totalEnergy: r.totalEnergy, realtimeEnergy: o.rtAt ? o.rtEnergy : null,
      });
    }
  }

  private selfAudit(o: Order, body: Record<string, unknown>, now: number): void {
    if (!this.auditor) return;
    let a: { ok: boolean; details: Record<string, unknown> } | null;
    try {
      a = this.auditor(o.pileNo, body);
    } catch (e) {
      // A tariff the billing library cannot read: reported, the order goes on.
      this.problem(new YkcError('YKC_TARIFF', `record ${o.tradeNo} of pile ${o.pileNo} not audited: ${(e as Error).message}`, { tradeNo: o.tradeNo, pileNo: o.pileNo }));
      return;
    }
    if (a && !a.ok) this.raise('auditFailed', o, now, a.details);
  }

  private raise(code: AlarmCode, o: { tradeNo: string; pileNo: string; gunNo: number }, now: number, details: Record<string, unknown>): void {
    const key = alarmKey(code, o.pileNo, o.tradeNo);
    if (this.alarms.has(key)) return;
    if (this.alarms.size >= this.options.maxAlarms) {
      // New alarms wait (the sweep raises them once there is room); evicting old ones would make
      // every sweep clear and raise thousands of alarms when a whole site is in trouble.
      if (!this.alarmsFull) this.problem(new YkcError('YKC_LIMIT', `${this.options.maxAlarms} alarms active (maxAlarms): new ones are not raised until some clear`, { maxAlarms: this.options.maxAlarms }));
      this.alarmsFull = true;
      return;
    }
    this.alarmsFull = false;
    const a: Alarm = { code, pileNo: o.pileNo, gunNo: o.gunNo, tradeNo: o.tradeNo, since: now, acknowledged: false, details };
    this.alarms.set(key, a);
    this.journal?.append({ a });
    this.maybeCompact();
    this.emit('alarm', alarmPayload(a, true, this.options.offsetMinutes));
  }

  private clearAlarm(code: AlarmCode, o: { pileNo: string; tradeNo: string }, reason: string, now: number): AlarmPayload | undefined {
    const key = alarmKey(code, o.pileNo, o.tradeNo);
    const a = this.alarms.get(key);
    if (!a) return undefined;
    this.alarms.delete(key);
    this.journal?.append({ c: key });
    const p = alarmPayload(a, false, this.options.offsetMinutes, { at: now, reason });
    this.emit('alarm', p);
    return p;
  }

  private setOnline(pileNo: string, now: number): void {
    this.offline.delete(pileNo);
    this.online.set(pileNo, now);
  }

  /** One pass over the open orders: time-based alarms, expired requests. */
  sweep(): void {
    const now = this.options.now();
    const op = this.options;
    // Deleting from a Map while iterating it is safe: closed orders are simply not visited.
    for (const o of this.orders.values()) {
      const onlineSince = this.online.get(o.pileNo);
      const offlineSince = onlineSince === undefined ? (this.offline.get(o.pileNo) ?? this.loadedAt) : undefined;
      switch (o.state) {
        case 'requested':
          if (now - o.at[RANK.requested] > op.requestExpiryMs) this.closeOrder(o, 'noAnswer', now);
          break;
        case 'started':
          if (now - o.at[RANK.started] > op.startNotConfirmedMs) this.raise('startNotConfirmed', o, now, { thresholdMs: op.startNotConfirmedMs });
          break;
        case 'charging':
        case 'stopping':
          if (onlineSince !== undefined && now - Math.max(o.rtAt, o.at[RANK.charging], onlineSince) > op.realtimeSilentMs) {
            this.raise('realtimeSilent', o, now, { thresholdMs: op.realtimeSilentMs, lastRealtime: o.rtAt || null });
          }
          break;
        case 'ended':
          if (onlineSince !== undefined && now - Math.max(o.at[RANK.ended], onlineSince) > op.recordMissingMs) {
            this.raise('recordMissing', o, now, { thresholdMs: op.recordMissingMs });
          }
          break;
        case 'recorded': {
          const age = now - o.at[RANK.recorded];
          if (age > op.recordUnconfirmedMs || o.resends >= op.recordUnconfirmedResends) {
            this.raise('recordUnconfirmed', o, now, { ageMs: age, resends: o.resends, thresholdMs: op.recordUnconfirmedMs, thresholdResends: op.recordUnconfirmedResends });
          }
          break;
        }
        default:
      }
      if (offlineSince !== undefined) this.checkOffline(o, now, offlineSince);
    }
  }

  private checkOffline(o: Order, now: number, offlineSince: number): void {
    const op = this.options;
    if (RANK[o.state] >= RANK.started && RANK[o.state] <= RANK.stopping && now - offlineSince >= op.offlineWhileChargingMs) {
      this.raise('offlineWhileCharging', o, now, { offlineSince: isoAt(offlineSince, op.offsetMinutes), thresholdMs: op.offlineWhileChargingMs });
    }
  }

  private index(o: Order): void {
    let set = this.byPile.get(o.pileNo);
    if (!set) this.byPile.set(o.pileNo, (set = new Set()));
    set.add(orderKey(o.pileNo, o.tradeNo));
  }

  /** The open orders of one pile (a copy: callers may close some). */
  private ordersOf(pileNo: string): Order[] {
    const set = this.byPile.get(pileNo);
    if (!set) return [];
    const out: Order[] = [];
    for (const k of set) {
      const o = this.orders.get(k);
      if (o) out.push(o);
    }
    return out;
  }

  private problem(e: YkcError): void {
    if (this.listenerCount('problem')) this.emit('problem', e);
  }
}

interface Realtime {
  at: number;
  energy: number;
  amount: number;
}

function setRealtime(o: Order, rt: Realtime): void {
  o.rtAt = rt.at;
  o.rtEnergy = rt.energy;
  o.rtAmount = rt.amount;
}

function refOf(ref: OrderRef): { pileNo?: string; tradeNo: string } {
  return typeof ref === 'string' ? { tradeNo: ref } : ref;
}

function gunKey(pileNo: string, gunNo: number): string {
  return `${pileNo}:${gunNo}`;
}

function RANK_STARTED(o: Order): boolean {
  return !!(o.at[RANK.started] || o.at[RANK.charging] || o.record);
}

function wallMs(v: string | null, offsetMinutes: number): number | null {
  if (!v) return null;
  const t = parseWallTime(v.replace(/ SU$/, ''));
  return t ? instantOf(t, offsetMinutes).getTime() : null;
}
