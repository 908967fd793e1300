/**
 * Records across Node-RED restarts (ykc-server "persist" on, journal in the user directory): a restart
 * between receipt and store hands the pile's resend over again flagged "resend-unconfirmed"; a restart
 * after a confirmation (sent, or waiting for an offline pile) acknowledges the resend without emitting
 * it; a journal that cannot be written is reported (YKC_STORE) and never takes the runtime down.
 * Real runtime (node-red-node-test-helper), scripted pile over TCP sending the real 0x3B record.
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { Node } from 'node-red';
import type { RecordEvent, YkcServer } from '../../src/gateway';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import { loadVectors } from '../support/repo';
import { Collector, persistRig } from './commands-harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const serverNode = require('../../nodes/ykc-server');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const inNode = require('../../nodes/ykc-in');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const confirmNode = require('../../nodes/ykc-confirm');

helper.init(require.resolve('node-red'));

type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const VECTOR = loadVectors().find((v) => v.type === '0x3B' && v.kind === 'captured (test input)')!;
const PILE = '18220000000155';
const TRADE = '18220000000155021673797553635328';
const record = (seqHex: string) => rawFrame(0x3b, VECTOR.hex.slice(12, -4), seqHex);
const wireSeq = (seqHex: string) => Buffer.from(seqHex, 'hex').readUInt16LE(0);

function flow(port: number): Flow {
  return [
    { id: 't1', type: 'tab', label: 'records' },
    // persist is left at its default (on): the journal goes to <userDir>/ykc/records-s1.jsonl.
    { id: 's1', type: 'ykc-server', host: '127.0.0.1', port, autoTimeSync: false, recordConfirm: 'after-store' },
    { id: 'in1', z: 't1', type: 'ykc-in', server: 's1', groups: ['records'], wires: [['rec']] },
    { id: 'rec', z: 't1', type: 'helper' },
    { id: 'cf', z: 't1', type: 'ykc-confirm', server: 's1', wires: [['out']] },
    { id: 'out', z: 't1', type: 'helper' },
    { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
    { id: 'hc', z: 't1', type: 'helper' },
  ];
}

interface Runtime {
  gw: YkcServer;
  port: number;
  records: Collector;
  out: Collector;
  caught: Collector;
  confirm(msg: Msg): void;
}

/** (Re)starts Node-RED with the flow; port 0 the first time, then the same port, as a real restart keeps it. */
async function start(port = 0): Promise<Runtime> {
  await helper.load([serverNode, inNode, confirmNode], flow(port));
  const s = helper.getNode('s1') as unknown as YkcServerNode;
  await s.ready;
  const cf = helper.getNode('cf') as Node & { receive(m: Msg): void };
  return {
    gw: s.gateway!,
    port: s.port()!,
    records: new Collector(helper.getNode('rec')),
    out: new Collector(helper.getNode('out')),
    caught: new Collector(helper.getNode('hc')),
    confirm: (m) => cf.receive(m),
  };
}

/** A heartbeat round trip: every answer to what the pile sent before has arrived by then. */
async function settle(p: ScriptedPile, seqHex: string): Promise<void> {
  p.write(rawFrame(0x03, `${PILE}0200`, seqHex));
  await p.next(0x04, (f) => f.seq === wireSeq(seqHex));
}

function gwEvent<T>(gw: YkcServer, name: 'recordDuplicate' | 'offline' | 'problem', pred: (e: T) => boolean = () => true, timeoutMs = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (e: T) => {
      if (!pred(e)) return;
      clearTimeout(t);
      gw.off(name, on as never);
      resolve(e);
    };
    const t = setTimeout(() => {
      gw.off(name, on as never);
      reject(new Error(`no gateway "${name}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    gw.on(name, on as never);
  });
}

describe('nodes: records across Node-RED restarts (ykc-server persist)', function () {
  this.timeout(15_000);
  const { userDir, pileOn } = persistRig('ykc-restart-', PILE);
  const journalFile = () => path.join(userDir(), 'ykc', 'records-s1.jsonl');
  /** The journal's state, folded from its JSON lines in order (h: handed to the flow, c: confirmed). */
  const journal = () => {
    const unconfirmed = new Map<string, [string, string]>();
    const confirmed = new Map<string, [string, number]>();
    for (const line of fs.readFileSync(journalFile(), 'utf8').split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { k: string; p: string; t: string; i: string; r?: number };
      const key = `${e.p}/${e.t}/${e.i}`;
      if (e.k === 'h') unconfirmed.set(key, [e.t, e.p]);
      if (e.k === 'c') {
        unconfirmed.delete(key);
        confirmed.set(key, [e.t, e.r!]);
      }
    }
    return { unconfirmed: [...unconfirmed.values()], confirmed: [...confirmed.values()] };
  };


  it('restart between receipt and store: the resend is handed over again as "resend-unconfirmed", held, then confirmed', async () => {
    const a = await start();
    const p1 = await pileOn(a.port);
    p1.write(record('8001'));
    const first = await a.records.next();
    should(first.ykc.record).containEql({ arrival: 'new', held: true });
    should(first.ykc.record.id).match(/^[0-9a-f]{16}$/);
    // Node-RED stops before the flow stored the record (nothing confirmed it).
    await helper.unload();
    await p1.whenClosed();
    should(journal().unconfirmed).eql([[TRADE, PILE]]);
    should(journal().confirmed).eql([]);
    p1.frames.some((f) => f.type === 0x40).should.be.false('never acknowledged');

    const b = await start(a.port);
    const p2 = await pileOn(b.port);
    p2.write(record('8101')); // the pile's resend
    const again = await b.records.next();
    should(again.ykc.record).containEql({ arrival: 'resend-unconfirmed', held: true });
    should(again.ykc.record.id).match(/^[0-9a-f]{16}$/);
    should(again.payload).containEql({ tradeNo: TRADE, totalAmount: 2.6759 });
    await settle(p2, '0200');
    p2.frames.some((f) => f.type === 0x40).should.be.false('held until stored');
    b.confirm(again);
    should((await b.out.next()).ykc.confirmed).eql({ result: 0, sent: true });
    const ack = await p2.next(0x40);
    should([ack.body.tradeNo, ack.body.result, ack.seq]).eql([TRADE, 0, wireSeq('8101')]);
    await helper.unload();
    should(journal()).eql({ unconfirmed: [], confirmed: [[TRADE, 0]] });
  });

  it('restart after confirm: the resend is acknowledged again and never reaches the flow', async () => {
    const a = await start();
    const p1 = await pileOn(a.port);
    p1.write(record('8001'));
    a.confirm(await a.records.next());
    await p1.next(0x40);
    await helper.unload();
    await p1.whenClosed();

    // A pile that missed the 0x40 (it was on the wire when the link dropped) sends the record again.
    const b = await start(a.port);
    const p2 = await pileOn(b.port);
    const dup = gwEvent<RecordEvent>(b.gw, 'recordDuplicate');
    p2.write(record('8201'));
    const ack = await p2.next(0x40);
    should([ack.body.tradeNo, ack.body.result, ack.seq]).eql([TRADE, 0, wireSeq('8201')]);
    should((await dup).arrival).equal('resend-confirmed');
    await settle(p2, '0300');
    should(b.records.count).equal(0);
    should(b.gw.counters.recordsDuplicate).equal(1);
  });

  it('refused while the pile was offline, then a restart: the resend gets result 1 from the journal', async () => {
    const a = await start();
    const p1 = await pileOn(a.port);
    p1.write(record('8001'));
    const m = await a.records.next();
    const off = gwEvent(a.gw, 'offline');
    p1.close();
    await off;
    a.confirm({ ...m, confirm: false });
    should((await a.out.next()).ykc.confirmed).eql({ result: 1, sent: false });
    await helper.unload();
    should(journal().confirmed).eql([[TRADE, 1]]);

    const b = await start(a.port);
    const p2 = await pileOn(b.port);
    p2.write(record('8301'));
    const ack = await p2.next(0x40);
    should([ack.body.tradeNo, ack.body.result, ack.seq]).eql([TRADE, 1, wireSeq('8301')]);
    await settle(p2, '0400');
    should(b.records.count).equal(0);
  });

  it('a corrupt journal in the user directory: kept aside, YKC_STORE logged naming it, the server listens and records flow', async () => {
    fs.mkdirSync(path.join(userDir(), 'ykc'), { recursive: true });
    fs.writeFileSync(journalFile(), '{"k":"c","p":"18220000000155"\nnot a journal line\n');
    const a = await start();
    const aside = fs.readdirSync(path.join(userDir(), 'ykc')).filter((f) => f.startsWith('records-s1.jsonl.corrupt-'));
    should(aside).have.length(1);
    // Reported through node.error: the Catch node gets it, naming the file.
    const caught = await a.caught.next(3000, 'the YKC_STORE report');
    should(caught.error.code).equal('YKC_STORE');
    caught.error.message.should.containEql(journalFile());
    caught.error.message.should.match(/kept aside as/);
    const p = await pileOn(a.port);
    p.write(record('8001'));
    const m = await a.records.next();
    should(m.ykc.record).containEql({ arrival: 'new', held: true });
    a.confirm(m);
    should((await a.out.next()).ykc.confirmed).eql({ result: 0, sent: true });
    should(journal().confirmed).eql([[TRADE, 0]]);
  });

  it('a journal that cannot be written: YKC_STORE reaches a Catch node, the runtime keeps going and still confirms', async () => {
    fs.writeFileSync(path.join(userDir(), 'ykc'), 'a file where the journal directory should be');
    const a = await start();
    const p = await pileOn(a.port);
    const problem = gwEvent<{ code: string }>(a.gw, 'problem', (e) => e.code === 'YKC_STORE');
    p.write(record('8001'));
    const m = await a.records.next();
    await problem;
    const caught = await a.caught.next();
    should(caught.error.code).equal('YKC_STORE');
    caught.error.message.should.match(/record journal not written \((EEXIST|ENOTDIR)\)/);
    a.confirm(m);
    should((await a.out.next()).ykc.confirmed).eql({ result: 0, sent: true });
    should((await p.next(0x40)).body.result).equal(0);
  });
});
