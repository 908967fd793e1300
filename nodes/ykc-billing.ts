/**
 * ykc-billing: a transaction record (decoded 0x3B body, its 5-tier variant, or 1.7's 0x3D) → its bill
 * at the tariff (per level and total, electricity / service split, exact numbers and integer units)
 * and the audit of the pile's own figures (src/billing/audit.ts).
 *
 * The tariff is the first of: msg.tariff (a decoded 0x58 body, or the friendlier shape Tariff.from
 * takes), the node's own (form or JSON), the one the selected ykc-server says was in force when the
 * record's session started (the pile's tariff history, else its current tariff for the pile;
 * docs/billing.md "Tariff in force"). audit.tariff says which one was used. Two
 * outputs — audit ok / audit failed — so a flow routes on the audit without a function node.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { AuditOptions, AuditTariff, billRecord, Tariff } from '../src/billing';
import { isTransactionRecordType, YkcError } from '../src/protocol';
import { catalogueDescriber, NodeError, toNodeError } from './shared/errors';
import type { YkcServerNode } from './shared/server-node';
import { slotsOf, tariffFormBody, TariffFormDef } from './shared/tariff-form';


interface YkcBillingDef extends NodeDef, TariffFormDef {
  /** Optional: the gateway whose tariff for the pile is the last resort. */
  server?: string;
  /** The node's own tariff: none, the form fields below, or a JSON text. */
  tariffMode?: 'none' | 'form' | 'json';
  tariffJson?: string;
  /** Allowed |meterEnd − meterStart − totalEnergy|, kWh. */
  meterTolerance?: string | number;
  /** Pile clock slack when checking which levels a session could touch, minutes. */
  clockTolerance?: string | number;
}

type TariffSource = 'msg' | 'node' | 'server';

/** Status with machine-readable parts, for Status nodes and tests. */
interface BillingStatus extends NodeStatus {
  ok?: boolean;
  tradeNo?: unknown;
  code?: string;
}

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** The node's own tariff from its configuration, or null when it has none. Throws YKC_TARIFF. */
function configuredTariff(config: YkcBillingDef): Tariff | null {
  if (config.tariffMode === 'json') {
    const text = String(config.tariffJson ?? '').trim();
    if (!text) throw new YkcError('YKC_TARIFF', 'tariff: the JSON text is empty');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new YkcError('YKC_TARIFF', `tariff: the JSON text does not parse: ${(e as Error).message}`);
    }
    const o = parsed as Record<string, unknown>;
    return Tariff.from(isObject(o) && o.slots !== undefined ? { ...o, slots: slotsOf(o.slots) } : parsed);
  }
  if (config.tariffMode === 'form') return Tariff.fromBody(tariffFormBody(config));
  return null;
}

/** The record in msg.payload: a decoded body, or a whole decoded frame (ykc-decode's default output). */
function recordOf(msg: NodeMessage): { record: Record<string, unknown>; frame: Record<string, unknown> | null } {
  const p = msg.payload;
  const ykc = isObject(msg.ykc) ? msg.ykc : {};
  if (typeof ykc.type === 'number' && !isTransactionRecordType(ykc.type)) {
    throw new YkcError('YKC_INPUT', `msg is a ${String(ykc.name ?? ykc.type)} frame, not a transaction record (0x3B / 0x3D / 0x3F / 0x39)`, { type: ykc.type });
  }
  if (!isObject(p)) {
    const kind = p === null ? 'null' : Array.isArray(p) ? 'array' : typeof p;
    throw new YkcError('YKC_INPUT', `msg.payload must be the decoded body of a transaction record (0x3B / 0x3D / 0x3F / 0x39), got ${kind}`, { got: kind });
  }
  if (isObject(p.body) && typeof p.type === 'number') {
    if (!isTransactionRecordType(p.type)) throw new YkcError('YKC_INPUT', `msg.payload is a ${String(p.name ?? p.type)} frame, not a transaction record (0x3B / 0x3D / 0x3F / 0x39)`, { type: p.type });
    return { record: p.body, frame: p };
  }
  return { record: p, frame: null };
}

export = function (RED: NodeAPI): void {
  function YkcBillingNode(this: Node, config: YkcBillingDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const describe = catalogueDescriber(RED, 'ykc-billing');
    const server = config.server ? (RED.nodes.getNode(config.server) as YkcServerNode | null) : null;
    const status = (s: BillingStatus) => node.status(s);

    let own: Tariff | null = null;
    let configError: NodeError | null = null;
    try {
      own = configuredTariff(config);
    } catch (e) {
      configError = toNodeError(e, describe);
      status({ fill: 'red', shape: 'ring', text: RED._('ykc-billing.status.badTariff'), code: configError.code });
      node.error(RED._('ykc-billing.errors.badTariff', { message: configError.message }));
    }

    const auditOpts: AuditOptions = {};
    const meterTol = num(config.meterTolerance);
    if (meterTol !== undefined && meterTol >= 0) auditOpts.meterToleranceUnits = Math.round(meterTol * 10_000);
    const clockTol = num(config.clockTolerance);
    if (clockTol !== undefined && clockTol >= 0) auditOpts.clockToleranceMinutes = clockTol;

    type Chosen = { tariff: Tariff; source: TariffSource; info: Omit<Partial<AuditTariff>, 'modelCode'> };
    function tariffFor(msg: NodeMessage, pileNo: unknown, record: Record<string, unknown>): Chosen {
      if (msg.tariff !== undefined && msg.tariff !== null) return { tariff: Tariff.from(msg.tariff), source: 'msg', info: { source: 'msg' } };
      if (configError) throw configError;
      if (own) return { tariff: own, source: 'node', info: { source: 'node' } };
      const gw = server?.gateway;
      const held = gw && typeof pileNo === 'string' ? gw.sessionTariff(pileNo, record) : null;
      if (held) {
        const info: Chosen['info'] = { source: held.source, since: held.since };
        if (held.via) info.via = held.via;
        if (held.sessionStart) {
          info.sessionStart = held.sessionStart.at;
          info.sessionStartBasis = held.sessionStart.basis;
        }
        return { tariff: Tariff.fromBody(held.tariff as unknown as Record<string, unknown>), source: 'server', info };
      }
      const where = config.server ? (gw ? 'the selected ykc-server holds none for it' : 'the selected ykc-server is not running') : 'no ykc-server is selected';
      throw new YkcError('YKC_TARIFF', `no tariff for pile ${String(pileNo ?? '?')}: msg.tariff is not set, the node has no tariff of its own and ${where}`, { pileNo });
    }

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      try {
        const { record, frame } = recordOf(msg);
        // The identifiers go to msg.ykc first, so they travel on even when billing fails (a flow may
        // store the record anyway from a Catch node) and after a database node replaced the payload.
        const ykc: Record<string, unknown> = isObject(msg.ykc) ? { ...msg.ykc } : {};
        if (typeof record.tradeNo === 'string') ykc.tradeNo = record.tradeNo;
        if (ykc.pileNo === undefined && typeof record.pileNo === 'string') ykc.pileNo = record.pileNo;
        if (ykc.gunNo === undefined && typeof record.gunNo === 'number') ykc.gunNo = record.gunNo;
        msg.ykc = ykc;
        const pileNo = typeof record.pileNo === 'string' ? record.pileNo : ykc.pileNo;
        const { tariff, source, info } = tariffFor(msg, pileNo, record);
        const offset = server?.gateway?.options.utcOffsetMinutes;
        const { bill, numbers, audit } = billRecord(record, tariff, { ...auditOpts, now: Date.now(), tariffInfo: info, ...(offset !== undefined ? { offsetMinutes: offset } : {}) });
        // A new payload object: the record body may be shared with other flows (several ykc-in nodes).
        msg.payload = { ...(frame ?? record), bill: { ...numbers, tariffSource: source, units: bill }, audit };
        const amount = numbers.totalAmount.toFixed(4);
        if (audit.ok) {
          status({ fill: 'green', shape: 'dot', text: RED._('ykc-billing.status.ok', { amount }), ok: true, tradeNo: ykc.tradeNo });
          send([msg, null]);
        } else {
          const text = RED._('ykc-billing.status.failed', { amount, mismatches: audit.mismatches.length, problems: audit.inconsistencies.length });
          status({ fill: 'yellow', shape: 'dot', text, ok: false, tradeNo: ykc.tradeNo });
          send([null, msg]);
        }
        done();
      } catch (e) {
        const err = toNodeError(e, describe);
        status({ fill: 'red', shape: 'ring', text: RED._('ykc-billing.status.error', { code: err.code }), code: err.code });
        done(err);
      }
    });
  }

  RED.nodes.registerType('ykc-billing', YkcBillingNode);
};
