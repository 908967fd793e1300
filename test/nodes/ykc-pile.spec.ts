/**
 * ykc-pile: the virtual pile node in a real Node-RED runtime (node-red-node-test-helper), against
 * the ykc-server node of the same flow and against a separate YkcServer, over real sockets on
 * 127.0.0.1. Charges run on a sped-up clock so a session takes a fraction of a second.
 */
import * as fs from 'fs';
import { spawn } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import should from 'should';
import type { SinonSpy } from 'sinon';
import type { Node } from 'node-red';
import { FrameEvent, RecordEvent, YkcServer } from '../../src/gateway';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { REPO_ROOT } from '../support/repo';
import { checkEditorConventions } from '../support/editor';
import { FlowNode, helper, Inbox, loadExample, Msg } from '../examples/harness';

/* eslint-disable @typescript-eslint/no-require-imports */
const serverNode = require('../../nodes/ykc-server');
const inNode = require('../../nodes/ykc-in');
const pileNode = require('../../nodes/ykc-pile');
/* eslint-enable @typescript-eslint/no-require-imports */

const PILE = '32010200000701';
const TARIFF = {
  modelCode: '0001',
  sharpElecPrice: 1.2,
  sharpServicePrice: 0.6,
  peakElecPrice: 1,
  peakServicePrice: 0.6,
  flatElecPrice: 0.8,
  flatServicePrice: 0.5,
  valleyElecPrice: 0.4,
  valleyServicePrice: 0.4,
  lossRatio: 0,
  slots: new Array(48).fill(2),
};

type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any

/** ykc-server + ykc-pile (+ ykc-in, Catch) on one tab; the pile's two outputs and the rest go to helper nodes. */
function flow(pile: Record<string, unknown> = {}, server: Record<string, unknown> = {}): Flow {
  return [
    { id: 't1', type: 'tab', label: 'ykc' },
    { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, persist: false, recordConfirm: 'at-once', tariff: JSON.stringify(TARIFF), ...server },
    { id: 'p1', z: 't1', type: 'ykc-pile', server: 's1', pileNo: PILE, pileType: 'DC', guns: 2, version: '1.5', speed: 120, autoConnect: true, wires: [['ev'], ['st']], ...pile },
    { id: 'ev', z: 't1', type: 'helper' },
    { id: 'st', z: 't1', type: 'helper' },
    { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', wires: [['h1']] },
    { id: 'h1', z: 't1', type: 'helper' },
    { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
    { id: 'hc', z: 't1', type: 'helper' },
  ];
}

interface Rig {
  pile: Node;
  ev: Inbox;
  st: Inbox;
  ykcIn: Inbox;
  caught: Inbox;
  server: YkcServerNode;
  gw: YkcServer;
}

async function load(pile: Record<string, unknown> = {}, server: Record<string, unknown> = {}): Promise<Rig> {
  await helper.load([serverNode, inNode, pileNode], flow(pile, server));
  const s = helper.getNode('s1') as unknown as YkcServerNode;
  await s.ready;
  return {
    pile: helper.getNode('p1'),
    ev: new Inbox(helper.getNode('ev')),
    st: new Inbox(helper.getNode('st')),
    ykcIn: new Inbox(helper.getNode('h1')),
    caught: new Inbox(helper.getNode('hc')),
    server: s,
    gw: s.gateway!,
  };
}

/** Resolves once the node's status spy has been called with something matching (checked on every call). */
function statusSeen(n: Node, match: Record<string, unknown>, timeoutMs = 4000): Promise<void> {
  const spy = n.status as unknown as SinonSpy;
  const calls = n as unknown as NodeJS.EventEmitter;
  if (spy.calledWithMatch(match)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!spy.calledWithMatch(match)) return;
      clearTimeout(timer);
      calls.removeListener('call:status', check);
      resolve();
    };
    const timer = setTimeout(() => {
      calls.removeListener('call:status', check);
      reject(new Error(`status ${JSON.stringify(match)} not seen; got ${JSON.stringify(spy.args.map((a) => a[0]))}`));
    }, timeoutMs);
    calls.on('call:status', check);
  });
}

const topic = (suffix: string) => (m: Msg) => m.topic === `ykc-pile/${PILE}/${suffix}`;

/** Online with a billing model: only then does a pile charge (§8.1). */
async function ready(r: Rig): Promise<void> {
  await r.ev.wait(topic('tariff'), 4000, 'the tariff event');
}

/** A 'status' request answered on output 2 (a fresh snapshot). */
async function snapshot(r: Rig): Promise<Msg> {
  const before = r.st.msgs.length;
  r.pile.receive({ topic: 'status', marker: before } as never);
  return r.st.wait((m) => m.marker === before, 2000, 'the status snapshot');
}

describe('nodes: ykc-pile (virtual pile)', function () {
  this.timeout(15_000);
  const extra: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    await helper.unload();
    for (const f of extra.splice(0)) await f();
  });

  it('logs in to the server of its flow: green status, ykc-in sees the login, frames both ways on output 1, state on output 2', async () => {
    const r = await load();
    const heartbeats: FrameEvent[] = [];
    r.gw.on('frame', (ev: FrameEvent) => ev.frame.type === 0x03 && heartbeats.push(ev));

    const login = await r.ev.wait(topic('sent/login'), 4000, 'the login sent');
    should(login.payload).containEql({ pileNo: PILE, gunCount: 2, protocolVersion: 1.5, firmwareVersion: 'SIM-1.00' });
    should(login.ykc).containEql({ pileNo: PILE, type: 0x01, name: 'login', seq: 0, direction: 'sent' });
    should(login.ykc).not.have.property('raw');
    const reply = await r.ev.wait(topic('received/loginReply'));
    should(reply.payload).containEql({ pileNo: PILE, result: 0 });
    should(reply.ykc).containEql({ type: 0x02, direction: 'received' });

    const online = await r.st.wait((m) => m.payload.link === 'online');
    should(online.topic).equal(`ykc-pile/${PILE}/state`);
    should(online.payload.guns).have.length(2);
    should(online.payload.guns[0]).containEql({ gunNo: 1, plugged: false, session: null });
    await statusSeen(r.pile, { fill: 'green', shape: 'dot', text: 'ykc-pile.status.online', link: 'online', charging: 0 });
    // The server's status (shown on its users, ykc-in here) counts the pile.
    await statusSeen(helper.getNode('in1'), { fill: 'green', text: 'ykc-server.status.piles' });
    const seen = await r.ykcIn.wait((m) => m.topic === `ykc/${PILE}/login`);
    should(seen.payload).containEql({ accepted: true });
    should(r.gw.isOnline(PILE)).be.true();

    const tariff = await r.ev.wait(topic('tariff'));
    should(tariff.payload).containEql({ modelCode: '0001', pileNo: PILE });
    // Heartbeats went both ways, but output 1 leaves them out by default.
    await new Promise<void>((resolve) => {
      const check = () => heartbeats.length >= 3 && resolve();
      check();
      r.gw.on('frame', check);
    });
    should(r.ev.msgs.filter((m) => /heartbeat/.test(m.topic))).have.length(0);
    // Realtime data at login, one per gun.
    should(r.ev.msgs.filter(topic('sent/realtime')).map((m) => m.payload.gunNo).slice(0, 2).sort()).eql([1, 2]);
  });

  it('heartbeats and raw bytes on request', async () => {
    const r = await load({ heartbeats: true, raw: true });
    const hb = await r.ev.wait(topic('sent/heartbeat'), 4000, 'a heartbeat');
    should(hb.ykc.raw).match(/^68[0-9A-F]+$/);
    should(Buffer.from(hb.ykc.raw, 'hex')[5]).equal(0x03);
    await r.ev.wait(topic('received/heartbeatReply'));
  });

  it('plug → remote start through the gateway (0x34) → charging frames → stop → record confirmed', async () => {
    const r = await load();
    const records: RecordEvent[] = [];
    r.gw.on('record', (ev: RecordEvent) => records.push(ev));
    await ready(r);

    r.pile.receive({ topic: 'plug', payload: { gun: 1, car: { soc: 40, capacityKwh: 80, vin: 'LSVAU2180N2183294' } } } as never);
    await r.st.wait((m) => m.payload.guns[0].plugged === true, 2000, 'gun 1 plugged');
    // A plugged idle gun reports itself at once (0x13 on a plug change).
    const idle = await r.ev.wait((m) => topic('sent/realtime')(m) && m.payload.gunNo === 1 && m.payload.gunPlugged === 1);
    should(idle.payload.gunState).equal(2);

    const tradeNo = `${PILE}01251010110633${'0001'}`;
    const answer = await r.gw.request(PILE, { type: 0x34, body: { tradeNo, pileNo: PILE, gunNo: 1, logicalCardNo: '0', physicalCardNo: '0', balance: 200 } });
    should(answer!.body).containEql({ tradeNo, gunNo: 1, result: 1 });

    const started = await r.ev.wait((m) => topic('session')(m) && m.payload.event === 'started');
    should(started.payload).containEql({ gunNo: 1, tradeNo, startType: 1 });
    should(started.ykc).containEql({ pileNo: PILE, gunNo: 1, tradeNo, event: 'started', name: 'session' });
    // DC: the BMS handshake and parameters at the start, then realtime and BMS frames every 15 s (simulated).
    const brm = await r.ev.wait(topic('sent/bmsHandshake'), 2000, 'the BMS handshake 0x15');
    should(brm.payload.vin).equal('LSVAU2180N2183294');
    await r.ev.wait((m) => topic('sent/bmsDemand')(m) && m.payload.tradeNo === tradeNo, 3000, 'a 0x23');
    const charging = await r.ev.wait((m) => topic('sent/realtime')(m) && m.payload.gunState === 3 && m.payload.chargedEnergy > 0, 3000, 'realtime while charging');
    should(charging.ykc).containEql({ tradeNo, gunNo: 1 });
    await statusSeen(r.pile, { fill: 'green', text: 'ykc-pile.status.charging', charging: 1 });
    const during = await snapshot(r);
    should(during.payload.guns[0].session).containEql({ tradeNo });

    r.pile.receive({ topic: 'stop', payload: { gun: 1 } } as never);
    const ended = await r.ev.wait((m) => topic('session')(m) && m.payload.event === 'ended');
    should(ended.payload).containEql({ tradeNo, stopReason: 0x45 });
    should(ended.payload.energy).be.above(0);

    const sent = await r.ev.wait((m) => topic('record')(m) && m.payload.event === 'sent');
    const confirmed = await r.ev.wait((m) => topic('record')(m) && m.payload.event === 'confirmed', 3000, 'the record confirmed');
    should(confirmed.payload.tradeNo).equal(tradeNo);
    should(confirmed.ykc).containEql({ tradeNo, gunNo: 1, event: 'confirmed' });
    const body = sent.payload.body;
    should(Math.round(body.totalEnergy * 1e4)).equal(ended.payload.energy);
    should(Math.round(body.totalAmount * 1e4)).equal(ended.payload.amount);
    should(body.stopReason).equal(0x45);
    // The same record as the gateway decoded it, and the 0x40 the pile received.
    should(records).have.length(1);
    should(records[0].frame.body).containEql({ tradeNo, totalEnergy: body.totalEnergy, totalAmount: body.totalAmount });
    const ack = await r.ev.wait(topic('received/recordAck'));
    should(ack.payload).containEql({ tradeNo, result: 0 });
    await r.ykcIn.wait((m) => m.topic === `ykc/${PILE}/transactionRecord`);
    await statusSeen(r.pile, { fill: 'green', text: 'ykc-pile.status.online', charging: 0 });
  });

  it('card start: 0x31 answered by the platform (0x32), charging, and the same card stops it', async () => {
    const r = await load();
    await ready(r);
    const tradeNo = `${PILE}02251010110633${'0002'}`;
    r.gw.on('frame', (ev: FrameEvent) => {
      if (ev.frame.type !== 0x31) return;
      const b = ev.frame.body;
      r.gw.reply(PILE, ev.frame.seq, { type: 0x32, body: { tradeNo, pileNo: PILE, gunNo: b.gunNo, logicalCardNo: '1000000573', balance: 80, result: 1, failReason: 0 } });
    });
    r.pile.receive({ topic: 'plug', payload: 2 } as never);
    r.pile.receive({ payload: { action: 'card', gun: 2, physicalCardNo: 'D14B0A54' }, order: 'o-7' } as never);
    const req = await r.ev.wait(topic('sent/cardStartRequest'));
    should(req.payload).containEql({ gunNo: 2, physicalCardNo: '00000000D14B0A54' });
    const card = await r.ev.wait(topic('card'), 3000, 'the card outcome');
    should(card.payload).containEql({ gunNo: 2, physicalCardNo: '00000000D14B0A54', result: 'started' });
    should(card.payload.session).containEql({ tradeNo, startType: 2, logicalCardNo: '0000001000000573' });
    should(card.order).equal('o-7'); // the rest of the msg passes through
    await r.ev.wait((m) => topic('sent/realtime')(m) && m.payload.gunNo === 2 && m.payload.gunState === 3);

    r.pile.receive({ topic: 'card', payload: { gun: 2, physicalCardNo: '00000000D14B0A54' } } as never);
    const again = await r.ev.wait((m) => topic('card')(m) && m.payload.result === 'stopped');
    should(again.payload.tradeNo).equal(tradeNo);
    const ended = await r.ev.wait((m) => topic('session')(m) && m.payload.event === 'ended');
    should(ended.payload).containEql({ gunNo: 2, tradeNo, stopReason: 0x45, startType: 2 });
  });

  it('fault and clearFault, unplug while charging, car full', async () => {
    const r = await load();
    await ready(r);
    r.pile.receive({ topic: 'fault', payload: { gun: 1, faultBits: 4 } } as never);
    const f = await r.ev.wait((m) => topic('sent/realtime')(m) && m.payload.gunNo === 1 && m.payload.gunState === 1);
    should(f.payload.hardwareFault).not.equal(0);
    should((await snapshot(r)).payload.guns[0]).containEql({ state: 1, faultBits: 4 });
    r.pile.receive({ topic: 'clearFault', payload: { gun: 1 } } as never);
    await r.ev.wait((m) => topic('sent/realtime')(m) && m.payload.gunNo === 1 && m.payload.gunState === 2);

    // Plugged and started; the car is nearly full, so "full" ends it with 0x41, and unplug on the other gun with 0x6B.
    for (const gun of [1, 2]) {
      r.pile.receive({ topic: 'plug', payload: { gun, car: { soc: 90 } } } as never);
      await r.st.wait((m) => m.payload.guns[gun - 1].plugged);
      await r.gw.request(PILE, { type: 0x34, body: { tradeNo: `${PILE}0${gun}2510101106330003`, pileNo: PILE, gunNo: gun, balance: 50 } });
    }
    r.pile.receive({ topic: 'full', payload: { gun: 1 } } as never);
    r.pile.receive({ topic: 'unplug', payload: { gun: 2 } } as never);
    const ends = [
      await r.ev.wait((m) => topic('session')(m) && m.payload.event === 'ended' && m.payload.gunNo === 1),
      await r.ev.wait((m) => topic('session')(m) && m.payload.event === 'ended' && m.payload.gunNo === 2),
    ];
    should(ends.map((m) => m.payload.stopReason)).eql([0x41, 0x6b]);
  });

  it('faults: fault injection at run time (CRC high byte first, seen by the gateway)', async () => {
    const r = await load();
    await ready(r);
    const orders: string[] = [];
    r.gw.on('frame', (ev: FrameEvent) => ev.frame.type === 0x03 && orders.push(ev.frame.crcOrder));
    r.pile.receive({ topic: 'faults', payload: { hiFirstCrc: true } } as never);
    await new Promise<void>((resolve) => r.gw.on('frame', () => orders.includes('hi-first') && resolve()));
    r.pile.receive({ topic: 'faults', payload: { faults: { hiFirstCrc: false } } } as never);
    const n = orders.length;
    await new Promise<void>((resolve) => r.gw.on('frame', () => orders.slice(n + 2).includes('lo-first') && resolve()));
  });

  it('bad input: done(err) with YKC_INPUT to a Catch node, and nothing done', async () => {
    const r = await load();
    await ready(r);
    const before = (await snapshot(r)).payload;
    const bad: Array<[Msg, RegExp]> = [
      [{ payload: 'hello' }, /noAction/],
      [{ topic: 'explode', payload: {} }, /unknownAction/],
      [{ topic: 'plug', payload: {} }, /noGun/],
      [{ topic: 'plug', payload: { gun: 3 } }, /badGun/],
      [{ topic: 'plug', payload: { gun: 1.5 } }, /badGun/],
      [{ topic: 'plug', payload: { gun: 1, car: { soc: 130 } } }, /carRange/],
      [{ topic: 'plug', payload: { gun: 1, car: { colour: 'red' } } }, /carField/],
      [{ topic: 'plug', payload: { gun: 1, car: 'tesla' } }, /badCar/],
      [{ topic: 'card', payload: { gun: 1, physicalCardNo: 'XYZ' } }, /badCard/],
      [{ topic: 'card', payload: { gun: 1 } }, /badCard/],
      [{ topic: 'stop', payload: { gun: 1 } }, /notCharging/],
      [{ topic: 'stop', payload: { gun: 1, reason: 300 } }, /badByte/],
      [{ topic: 'fault', payload: { gun: 2, faultBits: 0x10000 } }, /badFaultBits/],
      [{ topic: 'faults', payload: { melt: true } }, /faultName/],
      [{ topic: 'faults', payload: { constructor: 1 } }, /faultName/],
      [{ topic: 'faults', payload: JSON.parse('{"__proto__": 1}') }, /faultName/],
      [{ topic: 'faults', payload: { garbage: 2 } }, /faultValue/],
      [{ topic: 'faults', payload: {} }, /noFaults/],
    ];
    for (const [i, [msg, key]] of bad.entries()) {
      r.pile.receive({ ...msg, n: i } as never);
      const c = await r.caught.wait((m) => m.n === i, 2000, `the error for ${JSON.stringify(msg)}`);
      should(c.error.code).equal('YKC_INPUT');
      should(c.error.message).match(key);
      should(c.error.source.id).equal('p1');
    }
    const after = (await snapshot(r)).payload;
    should(after.guns.map((g: Msg) => ({ plugged: g.plugged, state: g.state, faultBits: g.faultBits }))).eql(
      before.guns.map((g: Msg) => ({ plugged: g.plugged, state: g.state, faultBits: g.faultBits })),
    );
    should(r.ev.msgs.filter((m) => topic('session')(m) || topic('card')(m))).have.length(0);
  });

  it('status: a snapshot on output 2, the rest of the msg untouched', async () => {
    const r = await load({ autoConnect: false });
    r.pile.receive({ topic: 'status', keep: 'me', _msgid: 'x1' } as never);
    const m = await r.st.wait((x) => x.keep === 'me');
    should(m.topic).equal(`ykc-pile/${PILE}/state`);
    should(m.payload).containEql({ pileNo: PILE, link: 'offline', modelCode: '0000' });
    should(m.ykc).containEql({ pileNo: PILE, name: 'state', link: 'offline' });
  });

  it('auto-connect off: disconnected until "connect"; "disconnect" switches it off and keeps its meter', async () => {
    const r = await load({ autoConnect: false, guns: 1 });
    await statusSeen(r.pile, { fill: 'grey', text: 'ykc-pile.status.disconnected' });
    r.pile.receive({ topic: 'reboot' } as never);
    should((await r.caught.wait()).error.code).equal('YKC_OFFLINE');
    should(r.gw.isOnline(PILE)).be.false();
    should(r.ev.msgs).have.length(0);

    r.pile.receive({ topic: 'connect' } as never);
    await statusSeen(r.pile, { fill: 'grey', text: 'ykc-pile.status.connecting' });
    await ready(r);
    await statusSeen(r.pile, { fill: 'green', link: 'online' });
    // One gun: no gun number needed.
    r.pile.receive({ topic: 'plug' } as never);
    await r.st.wait((m) => m.payload.guns[0].plugged);
    await r.gw.request(PILE, { type: 0x34, body: { tradeNo: `${PILE}012510101106330011`, pileNo: PILE, gunNo: 1, balance: 50 } });
    await r.ev.wait((m) => topic('sent/realtime')(m) && m.payload.chargedEnergy > 0.5, 4000, '0.5 kWh charged');
    const meter = (await snapshot(r)).payload.guns[0].meter;

    const offline = new Promise<void>((resolve) => r.gw.once('offline', () => resolve()));
    r.pile.receive({ topic: 'disconnect' } as never);
    await offline;
    await r.st.wait((m) => m.payload.link === 'closed');
    await statusSeen(r.pile, { fill: 'grey', text: 'ykc-pile.status.disconnected', link: 'offline' });
    const off = (await snapshot(r)).payload;
    should(off.link).equal('offline');
    should(off.guns[0].meter).be.aboveOrEqual(meter);
    should(off.modelCode).equal('0001');

    const login = r.ev.msgs.length;
    r.pile.receive({ topic: 'connect' } as never);
    await r.ev.wait((m) => r.ev.msgs.indexOf(m) >= login && topic('received/loginReply')(m));
    await r.st.wait((m) => m.payload.link === 'online' && r.st.msgs.indexOf(m) > r.st.msgs.findIndex((x) => x.payload.link === 'closed'));
  });

  it('host and port: a separate YkcServer; a refused connection is one YKC_OFFLINE error and a red ring, not one per retry', async () => {
    const gw = new YkcServer({ recordConfirm: 'at-once', autoTimeSync: false });
    gw.setTariff(null, TARIFF);
    extra.push(() => gw.close());
    const { port } = await gw.listen(0, '127.0.0.1');
    const dead = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    await helper.load(pileNode, <Flow>[
      { id: 't1', type: 'tab' },
      { id: 'p1', z: 't1', type: 'ykc-pile', server: '', host: '127.0.0.1', port, pileNo: PILE, pileType: 'AC', guns: 1, version: '1.6', firmware: 'AC-2.1', speed: 100, wires: [['ev'], []] },
      { id: 'p2', z: 't1', type: 'ykc-pile', server: '', host: '127.0.0.1', port: String(dead), pileNo: '32010200000702', guns: 1, speed: 100, wires: [[], []] },
      { id: 'ev', z: 't1', type: 'helper' },
      { id: 'c1', z: 't1', type: 'catch', scope: ['p2'], uncaught: false, wires: [['hc']] },
      { id: 'hc', z: 't1', type: 'helper' },
    ]);
    const ev = new Inbox(helper.getNode('ev'));
    const caught = new Inbox(helper.getNode('hc'));
    const login = await ev.wait(topic('sent/login'));
    should(login.payload).containEql({ pileType: 1, protocolVersion: 1.6, firmwareVersion: 'AC-2.1' });
    await ev.wait(topic('tariff'));
    should(gw.isOnline(PILE)).be.true();
    should(gw.piles()[0]).containEql({ pileNo: PILE, version: '1.6', pileType: 'AC' });

    const p2 = helper.getNode('p2');
    await statusSeen(p2, { fill: 'red', text: 'ykc-pile.status.offline' });
    const err = await caught.wait();
    should(err.error.code).equal('YKC_OFFLINE');
    should(err.topic).equal('ykc-pile/32010200000702/error');
    // At 100× the pile retries every 50–120 ms; wait for several attempts.
    const spy = p2.status as unknown as SinonSpy;
    await new Promise<void>((resolve) => {
      const check = () => spy.args.filter((a) => a[0].link === 'connecting').length >= 3 && resolve();
      check();
      (p2 as unknown as NodeJS.EventEmitter).on('call:status', check);
    });
    should(caught.msgs).have.length(1);
  });

  it('bad configuration: red ring, an error, every msg refused with the code', async () => {
    await helper.load(pileNode, <Flow>[
      { id: 't1', type: 'tab' },
      { id: 'p1', z: 't1', type: 'ykc-pile', server: '', host: '127.0.0.1', port: 8768, pileNo: '3201020000', guns: 2, wires: [[], []] },
      { id: 'p2', z: 't1', type: 'ykc-pile', server: 'missing', pileNo: PILE, guns: 1, wires: [[], []] },
      { id: 'p3', z: 't1', type: 'ykc-pile', server: '', host: '127.0.0.1', port: 8768, pileNo: PILE, guns: 9, wires: [[], []] },
      { id: 'p4', z: 't1', type: 'ykc-pile', server: '', host: '127.0.0.1', port: 8768, pileNo: PILE, guns: 1, speed: 0, wires: [[], []] },
      { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
      { id: 'hc', z: 't1', type: 'helper' },
    ]);
    const caught = new Inbox(helper.getNode('hc'));
    const expect = { p1: ['YKC_INPUT', /badPileNo/], p2: ['YKC_OFFLINE', /noServer/], p3: ['YKC_INPUT', /badGuns/], p4: ['YKC_INPUT', /badSpeed/] } as const;
    for (const [id, [code, key]] of Object.entries(expect)) {
      const n = helper.getNode(id);
      await statusSeen(n, { fill: 'red', shape: 'ring', code });
      (n.error as unknown as SinonSpy).calledWithMatch({ code }).should.be.true();
      n.receive({ topic: 'plug', payload: { gun: 1 }, id } as never);
      const c = await caught.wait((m) => m.id === id);
      should(c.error.code).equal(code);
      should(c.error.message).match(key);
    }
  });

  it('a server that cannot listen (it retries): the pile waits for it, and every msg is refused with YKC_OFFLINE', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    extra.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const busy = (blocker.address() as net.AddressInfo).port;
    await helper.load([serverNode, inNode, pileNode], flow({}, { port: busy }));
    const pile = helper.getNode('p1');
    const caught = new Inbox(helper.getNode('hc'));
    await statusSeen(pile, { fill: 'grey', shape: 'ring', text: 'ykc-pile.status.waiting', pileNo: PILE });
    pile.receive({ topic: 'plug', payload: { gun: 1 }, id: 'x' } as never);
    const c = await caught.wait((m) => m.id === 'x');
    should(c.error.code).equal('YKC_OFFLINE');
    should(c.error.message).match(/serverDown/);
  });

  it('close on a redeploy that removes it: the gateway sees the pile go at once; the server stays', async () => {
    const r = await load();
    await ready(r);
    r.pile.receive({ topic: 'plug', payload: { gun: 1 } } as never);
    await r.st.wait((m) => m.payload.guns[0].plugged);
    await r.gw.request(PILE, { type: 0x34, body: { tradeNo: `${PILE}012510101106330012`, pileNo: PILE, gunNo: 1, balance: 50 } });
    // A card waiting for the platform's answer (nobody answers 0x31 here) when the node closes.
    r.pile.receive({ topic: 'plug', payload: { gun: 2 } } as never);
    r.pile.receive({ topic: 'card', payload: { gun: 2, physicalCardNo: 'AB' } } as never);
    await r.ev.wait(topic('sent/cardStartRequest'));

    const offline = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the gateway did not see the pile go')), 3000);
      r.gw.once('offline', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await helper.setFlows(flow().filter((n) => n.id !== 'p1') as never, 'nodes');
    await offline;
    should(r.gw.isOnline(PILE)).be.false();
    should(helper.getNode('s1')).equal(r.server);
    should(helper.getNode('p1')).equal(null);
    should(r.caught.msgs).have.length(0);
  });

  it('close leaves nothing running: a process that charged a real-time pile and unloaded exits by itself', async function () {
    // Real time (speed 1): a heartbeat (10 s), realtime (15 s) or record timer left behind would keep the child alive.
    const script = `
      const helper = require(${JSON.stringify(require.resolve('node-red-node-test-helper'))});
      helper.init(${JSON.stringify(require.resolve('node-red'))});
      const server = require(${JSON.stringify(require.resolve('../../nodes/ykc-server'))});
      const pile = require(${JSON.stringify(require.resolve('../../nodes/ykc-pile'))});
      const flow = [
        { id: 't1', type: 'tab' },
        { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, persist: false, tariff: ${JSON.stringify(JSON.stringify(TARIFF))} },
        { id: 'p1', z: 't1', type: 'ykc-pile', server: 's1', pileNo: '${PILE}', guns: 2, speed: 1, wires: [['ev'], []] },
        { id: 'ev', z: 't1', type: 'helper' },
      ];
      (async () => {
        await helper.load([server, pile], flow);
        await helper.getNode('s1').ready;
        const gw = helper.getNode('s1').gateway;
        await new Promise((resolve) => helper.getNode('ev').on('input', (m) => m.topic.endsWith('/tariff') && resolve()));
        helper.getNode('p1').receive({ topic: 'plug', payload: { gun: 1 } });
        await new Promise((resolve) => setImmediate(resolve));
        const a = await gw.request('${PILE}', { type: 0x34, body: { tradeNo: '${PILE}012510101106330013', pileNo: '${PILE}', gunNo: 1, balance: 50 } });
        if (a.body.result !== 1) throw new Error('not started');
        helper.getNode('p1').receive({ topic: 'plug', payload: { gun: 2 } });
        helper.getNode('p1').receive({ topic: 'card', payload: { gun: 2, physicalCardNo: 'AB' } });
        await new Promise((resolve) => setTimeout(resolve, 50));
        await helper.unload();
        process.stdout.write('unloaded\\n');
      })().catch((e) => { console.error(e); process.exit(2); });
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    let unloadedAt = 0;
    child.stdout.on('data', () => {
      if (!unloadedAt && out.includes('unloaded')) unloadedAt = Date.now();
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill();
        resolve(null);
      }, 8000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    should(code).equal(0, `child exit ${code}; stdout ${out}; stderr ${err.slice(0, 2000)}`);
    should(out).containEql('unloaded');
    // The gateway may finish closing a moment after unload; nothing of the pile's (10 s and longer periods) is left.
    should(Date.now() - unloadedAt).be.below(3000);
  });

  describe('editor files', function () {
    const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
    const keys = (o: unknown, prefix = ''): string[] =>
      o !== null && typeof o === 'object'
        ? Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
        : [prefix];

    it('catalogues: same keys in en-US and zh-CN (zh-CN adds errors.YKC_*); every key the runtime and the editor use exists', function () {
      const en = keys(JSON.parse(read('nodes/locales/en-US/ykc-pile.json')));
      const zh = keys(JSON.parse(read('nodes/locales/zh-CN/ykc-pile.json')));
      zh.filter((k) => !/\.errors\.YKC_/.test(k)).sort().should.eql([...en].sort());
      zh.filter((k) => /\.errors\.YKC_/.test(k)).length.should.be.above(5);
      const ts = read('nodes/ykc-pile.ts');
      const html = read('nodes/ykc-pile.html');
      const used = new Set<string>();
      for (const m of ts.matchAll(/\bt\('((?:status|errors|label)\.[A-Za-z.]+)'/g)) used.add(`ykc-pile.${m[1]}`);
      for (const m of ts.matchAll(/\bfail\('(\w+)'/g)) used.add(`ykc-pile.errors.${m[1]}`);
      ts.should.containEql('t(`label.faultKind.${kind}`)');
      for (const k of ['bool', 'prob', 'ms']) used.add(`ykc-pile.label.faultKind.${k}`);
      for (const m of html.matchAll(/data-i18n="(?:\[[a-z]+\])?(ykc-pile\.[A-Za-z.]+)"/g)) used.add(m[1]);
      for (const m of html.matchAll(/'(ykc-pile\.(?:label|paletteLabel)[A-Za-z.]*)'/g)) used.add(m[1]);
      used.size.should.be.above(40);
      for (const k of used) en.should.containEql(k);
    });

    it('the editor registers the type literally: ykc category, pack colour, its icon, 2 outputs, optional server, a default for every input', function () {
      const html = checkEditorConventions('ykc-pile');
      html.should.containEql('outputs: 2,');
      html.should.containEql("server: { value: '', type: 'ykc-server', required: false }");
      const defaults = new Set([...html.matchAll(/^\s{12}(\w+): \{/gm)].map((m) => m[1]));
      for (const m of html.matchAll(/id="node-input-(\w+)"/g)) defaults.has(m[1]).should.be.true(`${m[1]} has a default`);
    });

    it('help in en-US and zh-CN: summary first, sections in order, both outputs, every action', function () {
      for (const lang of ['en-US', 'zh-CN']) {
        const help = read(`nodes/locales/${lang}/ykc-pile.html`);
        help.should.containEql('data-help-name="ykc-pile"');
        help.trimStart().split('\n')[1].should.match(/^\s*<p>/);
        [...help.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]).should.eql(lang === 'en-US' ? ['Properties', 'Inputs', 'Outputs', 'Details', 'References'] : ['属性', '输入', '输出', '详细', '参考']);
        (help.split('<ol class="node-ports">')[1].split('</ol>')[0].match(/<li>/g) ?? []).length.should.equal(2);
        for (const a of ['connect', 'disconnect', 'plug', 'unplug', 'card', 'fault', 'clearFault', 'stop', 'full', 'reboot', 'faults', 'status']) help.should.containEql(`<code>${a}</code>`);
        help.should.containEql('<pre>');
        if (lang === 'zh-CN') help.should.match(/[\u4e00-\u9fff]{20}/);
      }
    });
  });

  describe('examples/virtual-pile.json', function () {
    it('runs as shipped (sped up): both piles log in; plug + remote start, card start, stop; records confirmed by ykc confirm', async () => {
      const ex = await loadExample('virtual-pile.json', {
        patch: (f: FlowNode[]) => {
          for (const n of f) if (n.type === 'ykc-pile') n.speed = 120;
        },
      });
      extra.push(() => ex.close());
      const piles = ex.byType('ykc-pile');
      should(piles).have.length(2);
      for (const p of piles) should(p.server).equal(ex.server.id);
      const gw = ex.server.gateway!;
      const events = ex.inbox(ex.byName('pile events').id);
      const seen = ex.inbox(ex.byName('from the piles (ykc in)').id);
      await new Promise<void>((resolve) => {
        const check = () => piles.every((p) => gw.isOnline(p.pileNo)) && resolve();
        check();
        gw.on('online', check);
      });
      const dc = piles.find((p) => p.pileType === 'DC')!;
      const ac = piles.find((p) => p.pileType === 'AC')!;
      const t = (pileNo: string, suffix: string) => (m: Msg) => m.topic === `ykc-pile/${pileNo}/${suffix}`;
      await events.wait(t(dc.pileNo, 'tariff'));
      await events.wait(t(ac.pileNo, 'tariff'));

      // DC pile: plug, remote start (ykc start, 0x34), stop from the pile, the record stored and confirmed.
      ex.trigger(ex.byName('plug DC gun 1').id);
      await events.wait((m) => t(dc.pileNo, 'sent/realtime')(m) && m.payload.gunNo === 1 && m.payload.gunPlugged === 1);
      ex.trigger(ex.byName('remote start DC gun 1').id);
      const started = await events.wait((m) => t(dc.pileNo, 'session')(m) && m.payload.event === 'started', 5000, 'the DC start');
      ex.trigger(ex.byName('stop DC gun 1').id);
      await events.wait((m) => t(dc.pileNo, 'session')(m) && m.payload.event === 'ended');
      const conf = await events.wait((m) => t(dc.pileNo, 'record')(m) && m.payload.event === 'confirmed', 5000, 'the DC record confirmed');
      should(conf.payload.tradeNo).equal(started.payload.tradeNo);

      // AC pile: plug, a card (0x31 answered by the flow), the same card again stops it.
      ex.trigger(ex.byName('plug AC').id);
      ex.trigger(ex.byName('card D14B0A54 on AC').id);
      const card = await events.wait((m) => t(ac.pileNo, 'card')(m), 5000, 'the card outcome');
      should(card.payload.result).equal('started');
      should(card.payload.session.startType).equal(2);
      ex.trigger(ex.byName('card D14B0A54 on AC').id);
      await events.wait((m) => t(ac.pileNo, 'card')(m) && m.payload.result === 'stopped');
      await events.wait((m) => t(ac.pileNo, 'record')(m) && m.payload.event === 'confirmed', 5000, 'the AC record confirmed');

      // ykc in → debug saw both piles' logins.
      await seen.wait((m) => m.topic === `ykc/${dc.pileNo}/login`);
      await seen.wait((m) => m.topic === `ykc/${ac.pileNo}/login`);
    });
  });
});
