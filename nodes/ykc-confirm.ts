/**
 * ykc-confirm: placed after the database write. Acknowledges the transaction record in msg to its
 * pile — 0x40 result 0 "received", or result 1 "illegal record" when refused — which releases the
 * gateway's hold (ykc-server in "confirm after store" mode). Until then the pile keeps the record and
 * resends it, so a record that never reached the database is never lost.
 *
 * If the pile is offline the confirmation is remembered (and journalled) and the gateway acknowledges
 * the pile's next resend; resends of a confirmed trade number are acknowledged again by the gateway
 * and never reach the flow twice.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { YkcError } from '../src/protocol';
import { catalogueDescriber, toNodeError } from './shared/errors';
import type { YkcServerNode } from './shared/server-node';

interface YkcConfirmDef extends NodeDef {
  server?: string;
  /** What to answer when the msg does not say: confirm (0x40 result 0) or refuse (result 1). */
  action?: 'confirm' | 'refuse';
}

interface ConfirmStatus extends NodeStatus {
  tradeNo?: string;
  result?: number;
  sent?: boolean;
  code?: string;
}

const TRADE_RE = /^[0-9A-Fa-f]{32}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** The trade number: msg.payload.tradeNo, else msg.ykc.tradeNo (a database node usually replaces the payload), else msg.tradeNo. */
function tradeNoOf(msg: NodeMessage): string {
  const p = msg.payload;
  const ykc = isObject(msg.ykc) ? msg.ykc : {};
  const candidates: Array<[string, unknown]> = [
    ['msg.payload.tradeNo', isObject(p) ? p.tradeNo : undefined],
    ['msg.ykc.tradeNo', ykc.tradeNo],
    ['msg.tradeNo', msg.tradeNo],
  ];
  const found = candidates.find(([, v]) => v !== undefined && v !== null && v !== '');
  if (!found) {
    throw new YkcError('YKC_INPUT', 'no trade number: set msg.payload.tradeNo or msg.ykc.tradeNo (32 digits, as in the record)', { field: 'tradeNo' });
  }
  const [where, v] = found;
  if (typeof v !== 'string' || !TRADE_RE.test(v)) {
    throw new YkcError('YKC_INPUT', `${where} must be the record's 32-digit trade number (got ${JSON.stringify(v)})`, { field: 'tradeNo', value: v });
  }
  return v.toUpperCase();
}

/** The pile: 14 BCD nibbles as the gateway decodes them (digits, and A–F which some piles use), upper case like the decoder. */
function pileNoOf(msg: NodeMessage): string | undefined {
  const ykc = isObject(msg.ykc) ? msg.ykc : {};
  const p = isObject(msg.payload) ? msg.payload : {};
  for (const v of [ykc.pileNo, p.pileNo]) if (typeof v === 'string' && /^[0-9A-Fa-f]{14}$/.test(v)) return v.toUpperCase();
  return undefined;
}

/** The record's content id as ykc-in set it (msg.ykc.record.id): picks one of several records under one (pile, trade number). */
function recordIdOf(msg: NodeMessage): string | undefined {
  const rec = isObject(msg.ykc) && isObject(msg.ykc.record) ? msg.ykc.record : {};
  return typeof rec.id === 'string' && /^[0-9a-f]{16}$/.test(rec.id) ? rec.id : undefined;
}

/** true = confirm, false = refuse: msg.confirm, else msg.payload.confirm, else the node's action. */
function decisionOf(msg: NodeMessage, action: 'confirm' | 'refuse'): boolean {
  const p = isObject(msg.payload) ? msg.payload : {};
  for (const [where, v] of [['msg.confirm', msg.confirm], ['msg.payload.confirm', p.confirm]] as const) {
    if (v === undefined || v === null) continue;
    if (typeof v !== 'boolean') throw new YkcError('YKC_INPUT', `${where} must be true (confirm) or false (refuse), got ${JSON.stringify(v)}`, { field: where, value: v });
    return v;
  }
  return action !== 'refuse';
}

export = function (RED: NodeAPI): void {
  function YkcConfirmNode(this: Node, config: YkcConfirmDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const describe = catalogueDescriber(RED, 'ykc-confirm');
    const server = config.server ? (RED.nodes.getNode(config.server) as YkcServerNode | null) : null;
    const action = config.action === 'refuse' ? 'refuse' : 'confirm';
    const status = (s: ConfirmStatus) => node.status(s);
    // Registered for error routing (a journal that cannot be written reaches Catch nodes here),
    // but keeping its own status: the server's pile count would hide the last confirmation.
    if (!server) {
      status({ fill: 'red', shape: 'ring', text: RED._('ykc-confirm.status.noServer') });
      node.error(RED._('ykc-confirm.errors.noServer'));
    } else {
      server.register(node, { status: false });
      node.on('close', (_removed: boolean, done: () => void) => server.deregister(node, done));
    }

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      try {
        const gw = server?.gateway;
        if (!gw) {
          throw new YkcError('YKC_OFFLINE', server ? 'the ykc-server is not running (see its error): nothing can be confirmed' : 'no ykc-server is selected', {});
        }
        const tradeNo = tradeNoOf(msg);
        const ok = decisionOf(msg, action);
        const pileNo = pileNoOf(msg);
        // Returns once the confirmation is on disk (fsync), or YKC_STORE was reported: the msg goes on after.
        const outcome = gw.confirm({ tradeNo, pileNo, id: recordIdOf(msg) }, ok);
        const confirmed: { result: number; sent: boolean; already?: boolean } = outcome.already
          ? // Confirmed earlier (this node ran twice, or the server acknowledges at once): the pile has
            // its 0x40 or gets it again on its next resend. Sending another would only add noise.
            { result: outcome.result, sent: false, already: true }
          : { result: outcome.result, sent: outcome.sent };
        msg.ykc = { ...(isObject(msg.ykc) ? msg.ykc : {}), tradeNo, confirmed };
        const key = confirmed.already ? 'already' : confirmed.sent ? (confirmed.result === 0 ? 'confirmed' : 'refused') : 'later';
        status({
          fill: confirmed.already || confirmed.sent ? 'green' : 'yellow',
          shape: confirmed.sent ? 'dot' : 'ring',
          text: RED._(`ykc-confirm.status.${key}`, { tradeNo: `…${tradeNo.slice(-8)}` }),
          tradeNo,
          result: confirmed.result,
          sent: confirmed.sent,
        });
        send(msg);
        done();
      } catch (e) {
        const err = toNodeError(e, describe);
        status({ fill: 'red', shape: 'ring', text: RED._('ykc-confirm.status.error', { code: err.code }), code: err.code });
        done(err);
      }
    });
  }

  RED.nodes.registerType('ykc-confirm', YkcConfirmNode);
};
