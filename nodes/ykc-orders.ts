/**
 * ykc-orders: the order watchdog of one ykc-server (src/orders). Output 1 each order state change,
 * output 2 alarms (raised / cleared / acknowledged), output 3 the snapshot asked for. Input commands:
 * "snapshot", "close" an order by hand, "ack" an alarm, and ykc-billing's audited records.
 * Open orders are journalled in the user directory and survive a restart.
 */
import * as path from 'path';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { OrderJournal, OrderPayload, OrderTracker, OrderTrackerOptions, AlarmPayload, ALARM_CODES, offlineKey, recordSummary } from '../src/orders';
import { YkcError } from '../src/protocol';
import { catalogueDescriber, ErrorThrottle, toNodeError } from './shared/errors';
import type { YkcServerNode } from './shared/server-node';

interface YkcOrdersDef extends NodeDef {
  server: string;
  startNotConfirmed?: string | number;
  realtimeSilent?: string | number;
  offlineWhileCharging?: string | number;
  recordMissing?: string | number;
  recordUnconfirmed?: string | number;
  recordUnconfirmedResends?: string | number;
  ratedPowerKw?: string | number;
  meterToleranceKwh?: string | number;
  maxOpenOrders?: string | number;
  historySize?: string | number;
  persist?: boolean;
  selfAudit?: boolean;
}

const num = (v: unknown, dflt: number, min = 0): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= min ? n : dflt;
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);

const TRADE_RE = /^[0-9A-Fa-f]{32}$/;
/** A close reason is kept in the history and the journal (historySize entries): bounded. */
const MAX_REASON = 256;

const PILE_RE = /^\d{14}$/;

/** The order a command names: its trade number, and its pile when given (needed when two piles use that trade number). */
function orderRefOf(msg: NodeMessage, p: Record<string, unknown>): { pileNo?: string; tradeNo: string } {
  const ykc = isObject(msg.ykc) ? msg.ykc : {};
  const v = p.tradeNo ?? ykc.tradeNo;
  if (typeof v !== 'string' || !TRADE_RE.test(v)) {
    throw new YkcError('YKC_INPUT', `msg.payload.tradeNo must be a 32-digit trade number (got ${JSON.stringify(v)})`, { field: 'tradeNo', value: v });
  }
  const pile = p.tradeNo !== undefined ? p.pileNo : (ykc.pileNo ?? p.pileNo);
  if (pile !== undefined && pile !== null && (typeof pile !== 'string' || !PILE_RE.test(pile))) {
    throw new YkcError('YKC_INPUT', `msg.payload.pileNo must be a 14-digit pile number (got ${JSON.stringify(pile)})`, { field: 'pileNo', value: pile });
  }
  return typeof pile === 'string' ? { pileNo: pile, tradeNo: v.toUpperCase() } : { tradeNo: v.toUpperCase() };
}

/** The order-state msg: topic ykc/<pile>/order/<state>. */
function stateMsg(o: OrderPayload): NodeMessage {
  return { topic: `ykc/${o.pileNo}/order/${o.state}`, payload: o, ykc: { pileNo: o.pileNo, gunNo: o.gunNo, tradeNo: o.tradeNo } } as NodeMessage;
}

function alarmMsg(a: AlarmPayload): NodeMessage {
  return { topic: `ykc/${a.pileNo}/alarm/${a.code}`, payload: a, ykc: { pileNo: a.pileNo, gunNo: a.gunNo, tradeNo: a.tradeNo } } as NodeMessage;
}

export = function (RED: NodeAPI): void {
  function YkcOrdersNode(this: Node, config: YkcOrdersDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const describe = catalogueDescriber(RED, 'ykc-orders');
    const server = RED.nodes.getNode(config.server) as YkcServerNode | null;
    const gw = server?.gateway ?? null;
    if (!server || !gw) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('ykc-orders.status.noServer') });
      node.error(RED._('ykc-orders.errors.noServer'));
      return;
    }
    const s = (v: unknown, dflt: number) => Math.round(num(v, dflt) * 1000);
    const opts: Partial<OrderTrackerOptions> = {
      startNotConfirmedMs: s(config.startNotConfirmed, 90),
      realtimeSilentMs: s(config.realtimeSilent, 300),
      offlineWhileChargingMs: s(config.offlineWhileCharging, 60),
      recordMissingMs: s(config.recordMissing, 600),
      recordUnconfirmedMs: s(config.recordUnconfirmed, 300),
      recordUnconfirmedResends: Math.round(num(config.recordUnconfirmedResends, 3, 1)),
      ratedPowerKw: num(config.ratedPowerKw, 360, 1),
      meterToleranceUnits: Math.round(num(config.meterToleranceKwh, 1) * 10_000),
      maxOpenOrders: Math.round(num(config.maxOpenOrders, 50_000, 1)),
      historySize: Math.round(num(config.historySize, 10_000, 1)),
      offsetMinutes: gw.options.utcOffsetMinutes,
      selfAudit: config.selfAudit === true,
    };
    // One sweep for all orders, often enough for the smallest threshold (tests use fractions of a second).
    const smallest = Math.min(opts.startNotConfirmedMs!, opts.realtimeSilentMs!, opts.recordMissingMs!, opts.recordUnconfirmedMs!, Math.max(opts.offlineWhileChargingMs!, 1000));
    opts.sweepMs = Math.max(20, Math.min(1000, Math.floor(smallest / 4)));
    const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
    const journal = config.persist !== false && userDir ? new OrderJournal(path.join(userDir, 'ykc', `orders-${node.id.replace(/[^\w.-]/g, '_')}.jsonl`)) : undefined;
    const tracker = new OrderTracker(opts, journal);

    // A busy site changes orders many times a second: the status shows the counts at most 4 times a second.
    let statusTimer: NodeJS.Timeout | null = null;
    const showStatus = () => {
      const open = tracker.openCount();
      const alarms = tracker.alarmCount();
      node.status({
        fill: alarms ? 'yellow' : 'green',
        shape: open ? 'dot' : 'ring',
        text: RED._('ykc-orders.status.counts', { open: String(open), alarms: String(alarms) }),
      });
    };
    const scheduleStatus = () => {
      if (statusTimer) return;
      statusTimer = setTimeout(() => {
        statusTimer = null;
        showStatus();
      }, 250);
    };

    tracker.on('state', (o) => {
      node.send([stateMsg(o), null, null]);
      scheduleStatus();
    });
    tracker.on('alarm', (a) => {
      node.send([null, alarmMsg(a), null]);
      scheduleStatus();
    });
    // A journal on a full disk fails at every batched write: Catch nodes hear of it, not five times a second.
    const throttle = new ErrorThrottle(10, 60_000);
    tracker.on('problem', (e) => {
      const held = throttle.admit();
      if (held === null) return;
      node.error(toNodeError(e, describe), { topic: 'ykc/orders/problem', payload: { ...e.toJSON(), suppressed: held } } as NodeMessage);
    });
    // Through the server's fan-out (one gateway listener per event however many nodes).
    const events = server.events;
    const detach = tracker.attach(gw, events ? (event, fn) => events.on(event, fn) : undefined);
    server.register(node, { status: false });
    showStatus();

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      try {
        const p = isObject(msg.payload) ? msg.payload : {};
        const topic = typeof msg.topic === 'string' ? msg.topic : '';
        if (topic === 'snapshot') {
          send([null, null, { ...msg, payload: tracker.snapshot() }]);
        } else if (topic === 'close') {
          const reason = typeof p.reason === 'string' ? p.reason : '';
          if (reason.length > MAX_REASON) {
            throw new YkcError('YKC_INPUT', `msg.payload.reason is ${reason.length} characters long; at most ${MAX_REASON}`, { field: 'reason', length: reason.length, max: MAX_REASON });
          }
          tracker.close(orderRefOf(msg, p), reason);
        } else if (topic === 'ack' || topic === 'acknowledge') {
          const code = p.code;
          if (typeof code !== 'string' || !(ALARM_CODES as readonly string[]).includes(code)) {
            throw new YkcError('YKC_INPUT', `msg.payload.code must be one of ${ALARM_CODES.join(', ')} (got ${JSON.stringify(code)})`, { field: 'code', value: code });
          }
          tracker.acknowledge(code, orderRefOf(msg, p));
        } else if (isObject(p.audit) && typeof p.audit.ok === 'boolean') {
          // ykc-billing's output: the audit of the record's own figures against the tariff.
          const a = p.audit;
          const ref = orderRefOf(msg, p);
          // A record with an all-zero trade number: its order is keyed by pile, gun and start time (docs/orders.md).
          if (/^0+$/.test(ref.tradeNo) && typeof p.pileNo === 'string' && typeof p.gunNo === 'number') ref.tradeNo = offlineKey(p.pileNo, p.gunNo, recordSummary(p)) ?? ref.tradeNo;
          tracker.audit(ref, a.ok as boolean, { mismatches: a.mismatches ?? [], inconsistencies: a.inconsistencies ?? [] }, {
            pileNo: typeof p.pileNo === 'string' ? p.pileNo : undefined,
            gunNo: typeof p.gunNo === 'number' ? p.gunNo : undefined,
          });
        } else {
          throw new YkcError('YKC_INPUT', 'msg.topic must be "snapshot", "close" or "ack", or msg.payload an audited record from ykc-billing (payload.audit)', { topic });
        }
        done();
      } catch (e) {
        done(toNodeError(e, describe));
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (statusTimer) clearTimeout(statusTimer);
      detach();
      tracker.stop();
      server.deregister(node, done);
    });
  }

  RED.nodes.registerType('ykc-orders', YkcOrdersNode);
};
