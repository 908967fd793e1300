/**
 * ykc-command: every other platform→pile frame, chosen in the dialog or by msg.command:
 *
 *   readRealtime 0x12→0x13 · balanceUpdate 0x42→0x41 · cardSync 0x44→0x43 (≤ 15 cards a frame) ·
 *   cardClear 0x46→0x45 (≤ 24) · cardQuery 0x48→0x47 (≤ 26) · workParams 0x52→0x51 ·
 *   lockCommand 0x62→0x63 · parallelRemoteStart 0xA4→0xA3 (1.6 piles only) ·
 *   recordAck 0x40, startAuth 0x32, parallelStartAuth 0xA2 (answers to the pile's 0x3B / 0x31 / 0xA1,
 *   sent with the request's sequence msg.ykc.seq) · loginAnswer (login policy "ask").
 *
 * Longer card lists are split into several frames sent one after the other; the answers are
 * combined into one msg. Fields: msg.payload over the dialog's JSON "fields".
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from 'node-red';
import { ANY_CONTENT, type YkcServer } from '../src/gateway';
import { DecodedFrame, RECORD_TYPES, schemaForType, YkcError } from '../src/protocol';
import {
  alwaysAccepted, Answer, asDecoded, checkFrame, CommandDef, CommandRunner, Exchange, normaliseTradeNo, newTradeNo, numeric, Plan,
  present, requestExchange, resultJudge, serverOf, stamp12, ykcOf,
} from './shared/command';

interface YkcCommandDef extends CommandDef {
  command?: string;
  /** JSON object of default fields, under msg.payload's. */
  fields?: string;
}

/** Command name → frame type sent (null: no frame of ours, the gateway answers). */
const COMMANDS = {
  readRealtime: 0x12,
  balanceUpdate: 0x42,
  cardSync: 0x44,
  cardClear: 0x46,
  cardQuery: 0x48,
  workParams: 0x52,
  lockCommand: 0x62,
  parallelRemoteStart: 0xa4,
  recordAck: 0x40,
  startAuth: 0x32,
  parallelStartAuth: 0xa2,
  loginAnswer: null,
  disconnect: null,
} as const;
type CommandName = keyof typeof COMMANDS;

/** Cards per frame (docs/protocol.md §5.3; one length byte caps the body at 251 bytes). */
const CARDS_PER_FRAME = { cardSync: 15, cardClear: 24, cardQuery: 26 } as const;

/** The pile request each answer-frame answers, to tell whether msg.ykc.seq belongs to it. */
const ANSWERS: Partial<Record<CommandName, number[]>> = { recordAck: [...RECORD_TYPES], startAuth: [0x31], parallelStartAuth: [0xa1] };

function commandOf(v: unknown): CommandName | null {
  // Own names only: `in` would also accept constructor, toString, __proto__… from Object.prototype.
  if (typeof v === 'string' && Object.hasOwn(COMMANDS, v)) return v as CommandName;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^0x[0-9a-f]{1,2}$/i.test(v.trim()) ? parseInt(v.trim(), 16) : NaN;
  for (const [name, type] of Object.entries(COMMANDS)) if (type !== null && type === n) return name as CommandName;
  return null;
}

function chunks<T>(a: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += size) out.push(a.slice(i, i + size));
  return out;
}

export = function (RED: NodeAPI): void {
  function YkcCommandNode(this: Node, config: YkcCommandDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const runner = new CommandRunner(RED, node, config, serverOf(RED, config), { type: 'ykc-command', outputs: 3 });
    let defaults: Record<string, unknown> = {};
    let defaultsError: string | null = null;
    if (config.fields && String(config.fields).trim()) {
      try {
        const parsed: unknown = JSON.parse(String(config.fields));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        defaults = parsed as Record<string, unknown>;
      } catch (e) {
        defaultsError = (e as Error).message;
        node.status({ fill: 'red', shape: 'ring', text: RED._('ykc-command.status.badFields') });
        node.error(RED._('ykc-command.errors.badFields', { message: defaultsError }));
      }
    }

    const judgeOk1 = resultJudge({ ok: 1, table: 'result' });

    /** msg.ykc.seq when the msg carries the pile request this frame answers. */
    function requestSeq(msg: NodeMessage, command: CommandName): number | null {
      const y = ykcOf(msg);
      const seq = y.seq;
      if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq > 0xffff) return null;
      if (typeof y.type === 'number' && !(ANSWERS[command] ?? []).includes(y.type)) return null;
      return seq;
    }

    function tradeNoOf(f: Record<string, unknown>, pileNo: string, gunNo: number): string {
      if (!present(f.tradeNo)) return newTradeNo(pileNo, gunNo);
      const t = normaliseTradeNo(f.tradeNo);
      if (!t) throw runner.fieldError('badTradeNo', { tradeNo: String(f.tradeNo) });
      return t;
    }

    /** A frame that answers a pile's request: sent with the request's sequence, nothing waited for. */
    function answerExchange(type: number, body: Record<string, unknown>, seq: number | null, ids: Record<string, unknown>, pileNo: string): Exchange {
      checkFrame(type, body);
      return {
        laneType: type,
        request: { type, name: schemaForType(type)!.name },
        ids: { ...ids, ...(seq !== null ? { requestSeq: seq } : {}) },
        async run(ctx): Promise<Answer> {
          if (seq !== null) ctx.gw.reply(pileNo, seq, { type, body });
          else ctx.gw.send(pileNo, { type, body });
          return { accepted: true, payload: asDecoded(type, body), frame: null };
        },
      };
    }

    function cardsOf(f: Record<string, unknown>, command: 'cardSync' | 'cardClear' | 'cardQuery'): Array<Record<string, unknown>> {
      const cards = f.cards;
      if (!Array.isArray(cards) || cards.length === 0) throw runner.fieldError('noCards');
      return cards.map((c, i) => {
        if (typeof c === 'string' && command !== 'cardSync') return { physicalCardNo: c };
        if (typeof c !== 'object' || c === null) throw runner.fieldError('badCard', { index: i });
        // Clearing or querying the cards a sync sent: their logical numbers are not part of those frames.
        if (command !== 'cardSync') return { physicalCardNo: (c as Record<string, unknown>).physicalCardNo };
        return c as Record<string, unknown>;
      });
    }

    /** Card lists split into frames of at most CARDS_PER_FRAME, sent in turn, answers combined. */
    function cardsExchange(command: 'cardSync' | 'cardClear' | 'cardQuery', pileNo: string, cards: Array<Record<string, unknown>>): Exchange {
      const type = COMMANDS[command];
      const parts = chunks(cards, CARDS_PER_FRAME[command]);
      for (const part of parts) checkFrame(type, { pileNo, cards: part });
      return {
        laneType: type,
        request: { type, name: command },
        ids: { cards: cards.length, frames: parts.length },
        async run(ctx): Promise<Answer> {
          const replies: DecodedFrame[] = [];
          for (const part of parts) {
            let r: DecodedFrame | null;
            try {
              r = await ctx.gw.request(pileNo, { type, body: { pileNo, cards: part } }, { timeoutMs: ctx.timeoutMs });
            } catch (e) {
              if (replies.length === 0 || !(e instanceof YkcError)) throw e;
              throw new YkcError(e.code, `${e.message} (after ${replies.length} of ${parts.length} frames were answered)`, { ...e.details, answered: replies.length, frames: parts.length });
            }
            replies.push(r!);
            if (command === 'cardSync' && r!.body.result !== 1) break;
          }
          const last = replies[replies.length - 1];
          if (command === 'cardSync') {
            const bad = replies.find((r) => r.body.result !== 1);
            let stored = 0;
            replies.forEach((r, i) => {
              if (r.body.result === 1) stored += parts[i].length;
            });
            const payload = {
              pileNo,
              result: bad ? 0 : 1,
              resultName: bad ? 'failed' : 'stored',
              failReason: bad ? bad.body.failReason : 0,
              failReasonName: bad ? bad.body.failReasonName : 'none',
              cardsStored: stored,
              frames: replies.length,
              replies: replies.map((r) => r.body),
            };
            return bad
              ? { accepted: false, payload, frame: last, reason: { code: bad.body.failReason, name: String(bad.body.failReasonName), table: 'cardSync' } }
              : { accepted: true, payload, frame: last };
          }
          const all = replies.flatMap((r) => (Array.isArray(r.body.cards) ? (r.body.cards as Array<Record<string, unknown>>) : []));
          const payload = { pileNo, cards: all, frames: replies.length };
          if (command === 'cardClear') {
            const bad = all.find((c) => c.result !== 1);
            if (bad) return { accepted: false, payload, frame: last, reason: { code: bad.failReason, name: String(bad.failReasonName), table: 'cardClear' } };
          }
          return { accepted: true, payload, frame: last };
        },
      };
    }

    function loginAnswerPlan(msg: NodeMessage, f: Record<string, unknown>): Plan {
      const y = ykcOf(msg);
      const sessionId = numeric(present(f.sessionId) ? f.sessionId : y.sessionId);
      if (typeof sessionId !== 'number' || !Number.isInteger(sessionId)) throw runner.fieldError('noSession');
      const a = f.accept;
      const accept = a === true || a === 1 || a === 'true' || a === '1' ? true : a === false || a === 0 || a === 'false' || a === '0' ? false : null;
      if (accept === null) throw runner.fieldError('badAccept', { accept: JSON.stringify(a) });
      const reason = typeof f.reason === 'string' && f.reason ? f.reason : undefined;
      const pileNo = typeof f.pileNo === 'string' ? f.pileNo : typeof y.pileNo === 'string' ? y.pileNo : undefined;
      return {
        pileNo: null,
        exchange: {
          laneType: 0x02,
          request: { type: 0x02, name: 'loginReply' },
          ids: { sessionId, ...(pileNo ? { pileNo } : {}) },
          async run(ctx): Promise<Answer> {
            if (!ctx.gw.answerLogin(sessionId, accept, reason)) {
              throw runner.fieldError('loginGone', { sessionId }, 'YKC_LOGIN');
            }
            return { accepted: true, payload: { sessionId, ...(pileNo ? { pileNo } : {}), accepted: accept, ...(reason ? { reason } : {}) }, frame: null };
          },
        },
      };
    }

    /** Closes the pile's connection (no frame: the gateway closes the socket); output 1 says which connection. */
    function disconnectPlan(pileNo: string, f: Record<string, unknown>): Plan {
      const reason = typeof f.reason === 'string' && f.reason.trim() ? f.reason.trim().slice(0, 200) : 'disconnected by the flow';
      return {
        pileNo,
        exchange: {
          // No frame is sent; 0 keeps disconnects of one pile in a lane of their own.
          laneType: 0,
          request: { type: 0, name: 'disconnect' },
          ids: {},
          async run(ctx): Promise<Answer> {
            const closed = ctx.gw.disconnect(pileNo, reason);
            return { accepted: true, payload: { pileNo, ...closed, reason, disconnected: true }, frame: null };
          },
        },
      };
    }

    function recordAckPlan(msg: NodeMessage, f: Record<string, unknown>, gw: YkcServer): Plan {
      const tradeNo = normaliseTradeNo(f.tradeNo);
      if (!tradeNo) throw runner.fieldError(present(f.tradeNo) ? 'badTradeNo' : 'noTradeNo', { tradeNo: String(f.tradeNo) });
      const result = present(f.result) ? numeric(f.result) : 0;
      const raw = runner.rawPile(msg);
      const named = present(raw) ? runner.checkPile(raw) : undefined;
      // The oldest record held under this trade number (for the named pile when one is named).
      const held = gw.records.findHeld(tradeNo, named)[0];
      const pileNo = named ?? (held ? held.pileNo : runner.checkPile(raw));
      const body = { tradeNo, result };
      checkFrame(0x40, body);
      const seq = requestSeq(msg, 'recordAck');
      if (held && held.pileNo === pileNo) {
        // The gateway holds this record ("confirm after store"): it knows the latest resend's sequence.
        return {
          pileNo,
          exchange: {
            laneType: 0x40,
            request: { type: 0x40, name: 'recordAck' },
            ids: { tradeNo },
            async run(ctx): Promise<Answer> {
              const decoded = asDecoded(0x40, body);
              if (!ctx.gw.confirmRecord(tradeNo, decoded.result === 0, pileNo, held.id)) {
                throw new YkcError('YKC_OFFLINE', `pile ${pileNo} is not online; it will send record ${tradeNo} again`, { pileNo, tradeNo });
              }
              return { accepted: true, payload: decoded, frame: null };
            },
          },
        };
      }
      const inner = answerExchange(0x40, body, seq, { tradeNo }, pileNo);
      return {
        pileNo,
        exchange: {
          ...inner,
          async run(ctx) {
            const answer = await inner.run(ctx);
            // Remembered (a second recordAck or ykc confirm says "already"); blind, it absorbs no later copy (RecordBook.classify).
            ctx.gw.records.markConfirmed({ pileNo, tradeNo, id: ANY_CONTENT }, answer.payload.result as number);
            return answer;
          },
        },
      };
    }

    function plan(msg: NodeMessage): Plan {
      if (defaultsError) throw runner.fieldError('badFields', { message: defaultsError });
      const given = (msg as { command?: unknown }).command;
      const command = present(given) ? commandOf(given) : commandOf(config.command);
      if (!command) throw runner.fieldError('badCommand', { command: String(present(given) ? given : config.command) });
      const f = runner.fields(msg, defaults);
      if (command === 'loginAnswer') return loginAnswerPlan(msg, f);
      const gw = runner.gateway();
      if (command === 'recordAck') return recordAckPlan(msg, f, gw);
      const pileNo = runner.pile(msg);
      if (command === 'disconnect') return disconnectPlan(pileNo, f);
      switch (command) {
        case 'readRealtime': {
          const gunNo = runner.gun(msg);
          return { pileNo, exchange: requestExchange({ type: 0x12, body: { pileNo, gunNo }, judge: alwaysAccepted, ids: { gunNo } }) };
        }
        case 'balanceUpdate': {
          const gunNo = runner.gun(msg);
          if (!present(f.balance)) throw runner.fieldError('missing', { field: 'balance' });
          const body = { pileNo, gunNo, physicalCardNo: f.physicalCardNo, balance: numeric(f.balance) };
          return { pileNo, exchange: requestExchange({ type: 0x42, body, judge: resultJudge({ ok: 0, table: 'balance' }), ids: { gunNo, physicalCardNo: f.physicalCardNo } }) };
        }
        case 'cardSync':
        case 'cardClear':
        case 'cardQuery':
          return { pileNo, exchange: cardsExchange(command, pileNo, cardsOf(f, command)) };
        case 'workParams': {
          if (!present(f.workState)) throw runner.fieldError('missing', { field: 'workState' });
          const pct = numeric(f.maxPowerPercent);
          if (typeof pct !== 'number' || !Number.isInteger(pct) || pct < 30 || pct > 100) throw runner.fieldError('badPower', { value: String(f.maxPowerPercent) });
          const body = { pileNo, workState: numeric(f.workState), maxPowerPercent: pct };
          return { pileNo, exchange: requestExchange({ type: 0x52, body, judge: judgeOk1 }) };
        }
        case 'lockCommand': {
          const gunNo = runner.gun(msg);
          if (!present(f.action)) throw runner.fieldError('missing', { field: 'action' });
          const body = { pileNo, gunNo, action: numeric(f.action) };
          return { pileNo, exchange: requestExchange({ type: 0x62, body, judge: judgeOk1, ids: { gunNo } }) };
        }
        case 'parallelRemoteStart': {
          const gunNo = runner.gun(msg);
          const version = gw.versionOf(pileNo);
          if (version && Number(version) < 1.6) throw runner.fieldError('needs16', { pile: pileNo, version }, 'YKC_VERSION');
          if (!present(f.balance)) throw runner.fieldError('missing', { field: 'balance' });
          const tradeNo = tradeNoOf(f, pileNo, gunNo);
          const parallelNo = present(f.parallelNo) ? String(f.parallelNo) : stamp12();
          const body = { tradeNo, pileNo, gunNo, logicalCardNo: f.logicalCardNo, physicalCardNo: f.physicalCardNo, balance: numeric(f.balance), parallelNo };
          const judge = resultJudge({ ok: 1, reasonField: 'failReason', table: 'startFail' });
          return { pileNo, exchange: requestExchange({ type: 0xa4, body, judge, ids: { gunNo, tradeNo, parallelNo } }) };
        }
        case 'startAuth':
        case 'parallelStartAuth': {
          const type = COMMANDS[command];
          const gunNo = runner.gun(msg);
          const seq = requestSeq(msg, command);
          if (seq === null) throw runner.fieldError('noRequestSeq', { command });
          if (!present(f.result)) throw runner.fieldError('missing', { field: 'result' });
          const result = numeric(f.result);
          const accepted = result === 1 || result === 'accepted';
          if (accepted && !present(f.balance)) throw runner.fieldError('missing', { field: 'balance' });
          const tradeNo = tradeNoOf(f, pileNo, gunNo);
          const body: Record<string, unknown> = {
            tradeNo,
            pileNo,
            gunNo,
            logicalCardNo: f.logicalCardNo,
            balance: present(f.balance) ? numeric(f.balance) : 0,
            result,
            failReason: present(f.failReason) ? numeric(f.failReason) : 0,
          };
          if (type === 0xa2) {
            if (!present(f.parallelNo)) throw runner.fieldError('missing', { field: 'parallelNo' });
            body.parallelNo = f.parallelNo;
          }
          return { pileNo, exchange: answerExchange(type, body, seq, { gunNo, tradeNo }, pileNo) };
        }
      }
    }

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      void runner.handle(msg, send, done, (m) => ({ plans: [plan(m)], multi: false }));
    });
  }
  RED.nodes.registerType('ykc-command', YkcCommandNode);
};
