import should from 'should';
import type { LoginRequestEvent } from '../../src/gateway';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import { handFrame, hexOf } from '../protocol/hand/support';
import { operationFixtures } from '../protocol/hand/operations';
import { inject, lastStatus, loginFrame, PILE, realtimeBody, Rig, rig, seqOf } from './commands-harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const commandNode = require('../../nodes/ykc-command');

const CMD = { type: 'ykc-command', pile: PILE, pileType: 'str', gun: 1 };
const card = (k: number) => `00000000D14B${k.toString(16).toUpperCase().padStart(4, '0')}`;
const ZERO_TRADE = '0'.repeat(32);

describe('nodes: ykc-command (every other platform→pile frame)', function () {
  this.timeout(10_000);
  let r: Rig;
  afterEach(async () => {
    if (r) await r.close();
  });

  it('readRealtime 0x12 → the pile\'s 0x13; another kind (lockCommand) goes out beside it', async () => {
    r = await rig(commandNode, { ...CMD, command: 'readRealtime' });
    const p = await r.pile();
    inject(r, { payload: {} });
    inject(r, { payload: { action: 'raise' }, command: 'lockCommand' });
    const [f, g] = await Promise.all([p.next(0x12), p.next(0x62)]);
    should(p.raw.map((b) => b[5])).containDeep([0x12, 0x62]);
    should(f.body).eql({ pileNo: PILE, gunNo: 1 });
    p.write(rawFrame(0x13, realtimeBody(ZERO_TRADE, PILE, 1, 2), seqOf(f)));
    const m = await r.out[0].next();
    should(m.payload).containEql({ pileNo: PILE, gunNo: 1, gunStateName: 'idle' });
    should(m.ykc).containEql({ outcome: 'accepted', name: 'realtime', request: { type: 0x12, name: 'readRealtime' } });
    // 0x62 raise: action 0x55, 4 reserved zeros; 0x63 success.
    should(p.raw.find((b) => b[5] === 0x62)!.subarray(6, 19).toString('hex')).equal(`${PILE}015500000000`);
    p.write(rawFrame(0x63, `${PILE}010100000000`, seqOf(g)));
    const l = await r.out[0].next();
    should(l.payload).containEql({ gunNo: 1, result: 1, resultName: 'ok' });
  });

  it('balanceUpdate 0x42 → 0x41: updated, and "card number wrong" as a refusal', async () => {
    r = await rig(commandNode, { ...CMD, command: 'balanceUpdate' });
    const p = await r.pile();
    inject(r, { payload: { physicalCardNo: 'D14B0A54', balance: 88.5 } });
    const f = await p.next(0x42);
    should(p.raw[p.raw.length - 1].subarray(6, 26).toString('hex').toUpperCase()).equal(`${PILE}0100000000D14B0A5492220000`);
    p.write(rawFrame(0x41, `${PILE}00000000D14B0A5400`, seqOf(f)));
    should((await r.out[0].next()).payload).containEql({ result: 0, resultName: 'updated' });
    inject(r, { payload: { physicalCardNo: 'D14B0A54', balance: 1 } });
    const g = await p.next(0x42);
    p.write(rawFrame(0x41, `${PILE}00000000D14B0A5402`, seqOf(g)));
    const m = await r.out[1].next();
    should(m.ykc).containEql({ reason: 2, reasonName: 'card number wrong' });
  });

  it('cardSync: 20 cards go as 15 + 5 in two frames, one after the other, answers combined', async () => {
    r = await rig(commandNode, { ...CMD, command: 'cardSync' });
    const p = await r.pile();
    const cards = Array.from({ length: 20 }, (_, i) => ({ logicalCardNo: String(1000 + i), physicalCardNo: card(i) }));
    inject(r, { payload: { cards } });
    const f1 = await p.next(0x44);
    const raw1 = p.raw[p.raw.length - 1];
    should(raw1[1]).equal(4 + 8 + 15 * 16); // length byte: 248-byte body
    should(raw1[6 + 7]).equal(15);
    should(f1.body.cards as unknown[]).have.length(15);
    should(p.frames.filter((x) => x.type === 0x44)).have.length(0);
    p.write(rawFrame(0x43, `${PILE}0100`, seqOf(f1)));
    const f2 = await p.next(0x44);
    should(p.raw[p.raw.length - 1][6 + 7]).equal(5);
    should((f2.body.cards as Array<Record<string, unknown>>)[4]).eql({ logicalCardNo: '0000000000001019', physicalCardNo: card(19) });
    p.write(rawFrame(0x43, `${PILE}0100`, seqOf(f2)));
    const m = await r.out[0].next();
    should(m.payload).containEql({ pileNo: PILE, result: 1, cardsStored: 20, frames: 2 });
    should(m.ykc).containEql({ cards: 20, frames: 2, outcome: 'accepted' });
  });

  it('cardSync: a refusal ("storage full") stops the sequence and reports what was stored', async () => {
    r = await rig(commandNode, { ...CMD, command: 'cardSync' });
    const p = await r.pile();
    const cards = Array.from({ length: 31 }, (_, i) => ({ logicalCardNo: String(i), physicalCardNo: card(i) }));
    inject(r, { payload: { cards } });
    const f1 = await p.next(0x44);
    p.write(rawFrame(0x43, `${PILE}0100`, seqOf(f1)));
    const f2 = await p.next(0x44);
    p.write(rawFrame(0x43, `${PILE}0002`, seqOf(f2)));
    const m = await r.out[1].next();
    should(m.payload).containEql({ result: 0, failReason: 2, failReasonName: 'storage full', cardsStored: 15, frames: 2 });
    should((await r.caught.next()).error.code).equal('YKC_REJECTED');
  });

  it('cardClear: 30 cards as 24 + 6; a card not cleared makes it a refusal with that card\'s reason', async () => {
    r = await rig(commandNode, { ...CMD, command: 'cardClear' });
    const p = await r.pile();
    const cards = Array.from({ length: 30 }, (_, i) => card(i));
    inject(r, { payload: { cards } });
    const f1 = await p.next(0x46);
    should(p.raw[p.raw.length - 1][6 + 7]).equal(24);
    p.write(rawFrame(0x45, PILE + cards.slice(0, 24).map((c) => `${c}0100`).join(''), seqOf(f1)));
    const f2 = await p.next(0x46);
    should(f2.body.cards as unknown[]).have.length(6);
    p.write(rawFrame(0x45, PILE + cards.slice(24).map((c, i) => (i === 3 ? `${c}0001` : `${c}0100`)).join(''), seqOf(f2)));
    const m = await r.out[1].next();
    should(m.payload.cards).have.length(30);
    should(m.payload.cards[27]).containEql({ physicalCardNo: card(27), result: 0, failReasonName: 'card number format error' });
    should(m.ykc).containEql({ reason: 1, reasonName: 'card number format error' });
  });

  it('cardQuery: 27 cards as 26 + 1, the answers joined', async () => {
    r = await rig(commandNode, { ...CMD, command: 'cardQuery' });
    const p = await r.pile();
    const cards = Array.from({ length: 27 }, (_, i) => ({ physicalCardNo: card(i) }));
    inject(r, { payload: { cards } });
    const f1 = await p.next(0x48);
    should(p.raw[p.raw.length - 1][1]).equal(4 + 8 + 26 * 8);
    p.write(rawFrame(0x47, PILE + cards.slice(0, 26).map((c) => `${c.physicalCardNo}01`).join(''), seqOf(f1)));
    const f2 = await p.next(0x48);
    p.write(rawFrame(0x47, `${PILE}${card(26)}00`, seqOf(f2)));
    const m = await r.out[0].next();
    should(m.payload.cards).have.length(27);
    should(m.payload.cards[26]).eql({ physicalCardNo: card(26), result: 0, resultName: 'not stored' });
  });

  it('workParams 0x52 → 0x51; power outside 30–100 % is refused before sending', async () => {
    r = await rig(commandNode, { ...CMD, command: 'workParams', fields: '{"workState":"enabled"}' });
    const p = await r.pile();
    inject(r, { payload: { maxPowerPercent: 20 } });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
    inject(r, { payload: { workState: 'disabled', maxPowerPercent: 80 } });
    const f = await p.next(0x52);
    should(p.raw[p.raw.length - 1].subarray(6, 15).toString('hex')).equal(`${PILE}0150`);
    p.write(rawFrame(0x51, `${PILE}01`, seqOf(f)));
    should((await r.out[0].next()).payload).containEql({ result: 1 });
    should(p.frames.length).equal(0);
  });

  it('parallelRemoteStart 0xA4: refused for a 1.5 pile (YKC_VERSION, nothing sent), sent to a 1.6 pile', async () => {
    r = await rig(commandNode, { ...CMD, command: 'parallelRemoteStart' });
    const p15 = await r.pile(PILE, 0x0f);
    inject(r, { payload: { balance: 200 } });
    const e = await r.caught.next();
    should(e.error.code).equal('YKC_VERSION');
    p15.close();
    await p15.whenClosed();
    const p = await r.pile(PILE, 0x10);
    inject(r, { payload: { balance: 200, parallelNo: '251010110633' } });
    const f = await p.next(0xa4);
    should(f.body).containEql({ pileNo: PILE, gunNo: 1, balance: 200, parallelNo: '251010110633' });
    const trade = String(f.body.tradeNo);
    should(trade.slice(0, 16)).equal(`${PILE}01`);
    p.write(rawFrame(0xa3, `${trade}${PILE}01010000251010110633`, seqOf(f)));
    const m = await r.out[0].next();
    should(m.payload).containEql({ result: 1, mainAuxName: 'main', parallelNo: '251010110633' });
    should(m.ykc).containEql({ tradeNo: trade, parallelNo: '251010110633', version: '1.6' });
  });

  it('recordAck 0x40: a record the gateway holds is confirmed with its sequence; otherwise msg.ykc.seq is copied', async () => {
    r = await rig(commandNode, { ...CMD, pile: '', command: 'recordAck' }, { server: { recordConfirm: 'after-store' } });
    const p = await r.pile();
    const fx = operationFixtures.find((x) => x.type === 0x3b)!;
    const held = new Promise<void>((resolve) => r.gateway.once('record', () => resolve()));
    p.write(Buffer.from(handFrame(0x3b, fx.body, { seq: 'ABCD' }), 'hex'));
    await held;
    const tradeNo = String(fx.expect.tradeNo);
    inject(r, { payload: { ...fx.expect }, ykc: { pileNo: PILE, seq: 0xcdab, type: 0x3b } });
    const a = await p.next(0x40);
    should(p.raw[p.raw.length - 1].subarray(2, 4).toString('hex')).equal('abcd');
    should(a.body).eql({ tradeNo, result: 0, resultName: 'received' });
    should((await r.out[0].next()).payload).containEql({ tradeNo, result: 0 });
    should(r.gateway.records.findHeld(tradeNo)).be.empty();
    // A record the gateway does not hold: the msg's sequence is copied; "illegal record" as asked.
    const other = '32010200000001019999999999990001';
    inject(r, { payload: { tradeNo: other, result: 1 }, ykc: { pileNo: PILE, seq: 0x1234, type: 0x3b } });
    const b = await p.next(0x40);
    should(p.raw[p.raw.length - 1].subarray(2, 4).toString('hex')).equal('3412');
    should(b.body).containEql({ tradeNo: other, result: 1, resultName: 'illegal record' });
    // A record under that number arrives afterwards: an answer given blind (no content id) absorbs no copy
    // (docs/records.md "Confirming") — it could be the pile's next session — so it reaches the flow, held.
    const rec = hexOf(fx.body).replace(hexOf([String(fx.expect.tradeNo)]), other);
    const arrived = new Promise<{ arrival: string; held: boolean }>((resolve) => r.gateway.once('record', resolve));
    p.write(Buffer.from(handFrame(0x3b, rec, { seq: '0200' }), 'hex'));
    should(await arrived).containEql({ arrival: 'new', held: true });
  });

  it('startAuth 0x32 answers a 0x31 with its sequence; without one it is bad input', async () => {
    r = await rig(commandNode, { ...CMD, command: 'startAuth', fields: '{"result":1}' });
    const p = await r.pile();
    const fromIn = { pileNo: PILE, gunNo: 2, startMethod: 1, physicalCardNo: '00000000D14B0A54' };
    inject(r, { payload: { ...fromIn, balance: 50, logicalCardNo: '1000000573' }, ykc: { pileNo: PILE, gunNo: 2, seq: 0x0302, type: 0x31 } });
    const f = await p.next(0x32);
    should(p.raw[p.raw.length - 1].subarray(2, 4).toString('hex')).equal('0203');
    should(f.body).containEql({ pileNo: PILE, gunNo: 2, balance: 50, result: 1, failReason: 0, logicalCardNo: '0000001000000573' });
    should(String(f.body.tradeNo).slice(0, 16)).equal(`${PILE}02`);
    const m = await r.out[0].next();
    should(m.payload).containEql({ result: 1, resultName: 'accepted' });
    should(m.ykc).containEql({ requestSeq: 0x0302, outcome: 'accepted' });
    // A refusal with its reason needs no balance.
    inject(r, { payload: { ...fromIn, result: 0, failReason: 3 }, ykc: { seq: 7, type: 0x31 } });
    const g = await p.next(0x32);
    should(g.body).containEql({ result: 0, failReasonName: 'balance too low', balance: 0 });
    inject(r, { payload: { ...fromIn, balance: 1 } });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
    inject(r, { payload: { ...fromIn, balance: 1 }, ykc: { seq: 9, type: 0x13 } });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
  });

  it('parallelStartAuth 0xA2 answers a 0xA1, echoing its parallel serial', async () => {
    r = await rig(commandNode, { ...CMD, command: 'parallelStartAuth' });
    const p = await r.pile(PILE, 0x10);
    inject(r, { payload: { pileNo: PILE, gunNo: 1, mainAux: 1, parallelNo: '251010110633', result: 'accepted', balance: 10 }, ykc: { seq: 0x0500, type: 0xa1 } });
    const f = await p.next(0xa2);
    should(p.raw[p.raw.length - 1].subarray(2, 4).toString('hex')).equal('0005');
    should(f.body).containEql({ parallelNo: '251010110633', result: 1, balance: 10 });
  });

  it('loginAnswer: accepts or refuses a login waiting under policy "ask"; a stale session is YKC_LOGIN', async () => {
    r = await rig(commandNode, { ...CMD, pile: '', command: 'loginAnswer' }, { server: { loginPolicy: 'ask' } });
    const asked = () => new Promise<LoginRequestEvent>((resolve) => r.gateway.once('loginRequest', resolve));
    const a = await ScriptedPile.connect(r.port);
    r.piles.push(a);
    let q = asked();
    a.write(loginFrame(PILE));
    const req = await q;
    inject(r, { payload: { sessionId: req.sessionId, accept: true } });
    should((await a.next(0x02)).body.result).equal(0);
    const m = await r.out[0].next();
    should(m.payload).eql({ sessionId: req.sessionId, accepted: true });
    should(r.gateway.isOnline(PILE)).be.true();
    const b = await ScriptedPile.connect(r.port);
    r.piles.push(b);
    q = asked();
    b.write(loginFrame('32010200000009'));
    const req2 = await q;
    // As ykc-in sends it: msg.ykc.sessionId, the login body in msg.payload.
    inject(r, { payload: { pileNo: '32010200000009', accept: 'false' }, ykc: { sessionId: req2.sessionId, pileNo: '32010200000009' } });
    should((await b.next(0x02)).body.result).equal(1);
    inject(r, { payload: { sessionId: req2.sessionId, accept: true } });
    should((await r.caught.next()).error.code).equal('YKC_LOGIN');
    inject(r, { payload: { sessionId: 5, accept: 'maybe' } });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
  });

  it('disconnect: the gateway closes the pile\'s connection (output 1, offline event); a pile not connected → YKC_OFFLINE', async () => {
    r = await rig(commandNode, { ...CMD, gun: '', command: 'disconnect' });
    const p = await r.pile();
    const before = r.gateway.session(PILE)!.info();
    const offline = new Promise<{ reason?: string }>((resolve) => r.gateway.once('offline', resolve));
    inject(r, { payload: { reason: 'impostor' }, id: 'd1' });
    const m = await r.out[0].next();
    should(m.payload).containEql({ pileNo: PILE, sessionId: before.sessionId, remote: before.remote, reason: 'impostor', disconnected: true });
    should(m.ykc).containEql({ outcome: 'accepted', request: { type: 0, name: 'disconnect' } });
    should(m.id).equal('d1');
    await p.whenClosed();
    should((await offline).reason).equal('impostor');
    should(r.gateway.isOnline(PILE)).be.false();
    inject(r, { payload: {} });
    const e = await r.out[2].next();
    should(e.ykc.error.code).equal('YKC_OFFLINE');
  });

  it('an unknown command or bad JSON fields → YKC_FIELD; msg.command may be a frame type', async () => {
    r = await rig(commandNode, { ...CMD, command: 'readRealtime' });
    const p = await r.pile();
    inject(r, { payload: {}, command: 'selfDestruct' });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
    should(lastStatus(r.node)).containEql({ fill: 'red', shape: 'ring' });
    // Names Object.prototype has are not commands (issue 11.8).
    for (const command of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      inject(r, { payload: {}, command });
      const e = await r.caught.next();
      should(e.error.code).equal('YKC_FIELD');
    }
    inject(r, { payload: {}, command: '0x12' });
    should((await p.next(0x12)).body.gunNo).equal(1);
    await r.close();
    r = await rig(commandNode, { ...CMD, command: 'readRealtime', fields: '{oops' });
    inject(r, { payload: {} });
    should((await r.caught.next()).error.code).equal('YKC_FIELD');
  });
});
