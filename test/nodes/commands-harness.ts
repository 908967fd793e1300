/**
 * Shared set-up of the command-node specs: a real Node-RED runtime (node-red-node-test-helper)
 * with a ykc-server on 127.0.0.1 port 0, one command node whose outputs each go to a helper node,
 * a Catch node, and scripted piles that log in over TCP and answer with hand-built frames.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import helper = require('node-red-node-test-helper');
import type { Node } from 'node-red';
import type { SinonSpy } from 'sinon';
import type { DecodedFrame } from '../../src/protocol';
import type { YkcServer } from '../../src/gateway';
import type { YkcServerNode } from '../../nodes/shared/server-node';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const serverNode = require('../../nodes/ykc-server');

helper.init(require.resolve('node-red'));

export { helper };
export type Flow = helper.TestFlowsItem<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const PILE = '32010200000001';
export const PILE2 = '32010200000002';

/** A login (0x01) by hand: DC, 2 guns, protocol 1.5 (0x0F) or 1.6 (0x10), firmware "V4.1.50". */
export function loginFrame(pile = PILE, version = 0x0f): Buffer {
  return rawFrame(0x01, `${pile}0002${version.toString(16).padStart(2, '0')}56342E312E353000 01 ${'00'.repeat(10)} 04`, '0000');
}

/** The two sequence bytes of a received frame as they were on the wire (replies copy them). */
export function seqOf(f: DecodedFrame): string {
  return Buffer.from([f.seq & 0xff, f.seq >>> 8]).toString('hex');
}

/** Body hex of a 0x13 realtime frame: trade, pile, gun, state, plugged; everything else zero. */
export function realtimeBody(tradeNo: string, pile: string, gun: number, state: number, plugged = 1): string {
  return `${tradeNo}${pile}${String(gun).padStart(2, '0')}${state.toString(16).padStart(2, '0')}00${plugged ? '01' : '00'}${'00'.repeat(33)}`;
}

/** Messages arriving at one helper node, awaitable in order. */
export class Collector {
  readonly msgs: Msg[] = [];
  private waiters: Array<{ resolve: (m: Msg) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  private read = 0;

  constructor(n: Node) {
    n.on('input', (m: Msg) => {
      this.msgs.push(m);
      const w = this.waiters.shift();
      if (w) {
        clearTimeout(w.timer);
        this.read++;
        w.resolve(m);
      }
    });
  }

  /** The next message not yet returned by next(). */
  next(timeoutMs = 3000, label = 'message'): Promise<Msg> {
    if (this.read < this.msgs.length) return Promise.resolve(this.msgs[this.read++]);
    return new Promise((resolve, reject) => {
      const w = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new Error(`no ${label} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  get count(): number {
    return this.msgs.length;
  }
}

export interface Rig {
  port: number;
  gateway: YkcServer;
  node: Node;
  out: Collector[];
  caught: Collector;
  piles: ScriptedPile[];
  /** A scripted pile that has logged in (0x02 received). */
  pile(pileNo?: string, version?: number): Promise<ScriptedPile>;
  close(): Promise<void>;
}

/** Loads ykc-server + one command node (id "cmd") with `outputs` outputs, each wired to a helper. */
export async function rig(nodeModule: unknown, cmd: Record<string, unknown>, opts: { outputs?: number; server?: Record<string, unknown>; credentials?: Record<string, unknown> } = {}): Promise<Rig> {
  const outputs = opts.outputs ?? 3;
  const flow: Flow = [
    { id: 't1', type: 'tab', label: 'commands' },
    { id: 's1', type: 'ykc-server', host: '127.0.0.1', port: 0, autoTimeSync: false, persist: false, ...opts.server },
    { id: 'cmd', type: String(cmd.type), z: 't1', server: 's1', wires: Array.from({ length: outputs }, (_, i) => [`o${i + 1}`]), ...cmd },
    ...Array.from({ length: outputs }, (_, i) => ({ id: `o${i + 1}`, z: 't1', type: 'helper' })),
    { id: 'c1', z: 't1', type: 'catch', scope: null, uncaught: false, wires: [['hc']] },
    { id: 'hc', z: 't1', type: 'helper' },
  ];
  await helper.load([serverNode, nodeModule], flow, opts.credentials ? { cmd: opts.credentials } : undefined);
  const s = helper.getNode('s1') as unknown as YkcServerNode;
  await s.ready;
  const out = Array.from({ length: outputs }, (_, i) => new Collector(helper.getNode(`o${i + 1}`)));
  const caught = new Collector(helper.getNode('hc'));
  const piles: ScriptedPile[] = [];
  const port = s.port()!;
  return {
    port,
    gateway: s.gateway!,
    node: helper.getNode('cmd'),
    out,
    caught,
    piles,
    async pile(pileNo = PILE, version = 0x0f) {
      const p = await ScriptedPile.connect(port);
      piles.push(p);
      p.write(loginFrame(pileNo, version));
      const reply = await p.next(0x02);
      should(reply.body.result).equal(0);
      return p;
    },
    async close() {
      for (const p of piles.splice(0)) p.close();
      await helper.unload();
    },
  };
}

/** The test helper wraps Node.prototype.status in a sinon spy. */
export function lastStatus(n: Node): Record<string, unknown> {
  const spy = n.status as unknown as SinonSpy;
  return spy.lastCall ? (spy.lastCall.args[0] as Record<string, unknown>) : {};
}

/** Sends a message into the command node. */
export function inject(r: Rig, msg: Msg): void {
  (r.node as unknown as { receive(m: Msg): void }).receive(msg);
}

/**
 * Mocha hooks (call inside a describe) giving each test a Node-RED user directory of its own (persist
 * writes there, a restart within the test finds it again), and scripted piles logged in as `pile`
 * (login answered 0) that are closed after the test.
 */
export function persistRig(prefix: string, pile: string): { userDir(): string; pileOn(port: number): Promise<ScriptedPile> } {
  let userDir = '';
  const piles: ScriptedPile[] = [];
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    for (const p of piles.splice(0)) p.close();
    await helper.unload();
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
  });
  return {
    userDir: () => userDir,
    async pileOn(port) {
      const p = await ScriptedPile.connect(port);
      piles.push(p);
      p.write(loginFrame(pile));
      should((await p.next(0x02)).body.result).equal(0);
      return p;
    },
  };
}
