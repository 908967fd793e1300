/**
 * GatewayTap (the editor's YKC sidebar, runtime side) against a real YkcServer and virtual piles
 * over TCP: nothing is listened to until someone watches; frames in both directions, decoded and
 * as hex that decodes back to the same frame; capture lines; bounded buffer and batches; the lease
 * ends and the tap lets go of the gateway.
 */
import assert from 'assert/strict';
import { YkcServer } from '../../src/gateway';
import { parseCaptureLine } from '../../src/gateway/capture';
import { GatewayTap, TapBatch, TapPile } from '../../src/gateway/tap';
import { decodeFrame } from '../../src/protocol';
import { VirtualPile } from '../../src/simulator';
import { sampleTariff } from '../simulator/platform';
import { hexOf, rawFrame } from '../support/raw';
import * as net from 'net';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(20);
  }
}

describe('gateway: GatewayTap (protocol debugger)', function () {
  this.timeout(15_000);
  let gw: YkcServer;
  let port: number;
  const piles: VirtualPile[] = [];
  let batches: TapBatch[];
  let pileLists: TapPile[][];
  let tap: GatewayTap;

  beforeEach(async () => {
    gw = new YkcServer({ autoTimeSync: false });
    gw.setTariff(null, sampleTariff('0100').toBody() as unknown as Parameters<YkcServer['setTariff']>[1]);
    port = (await gw.listen(0, '127.0.0.1')).port;
    batches = [];
    pileLists = [];
    tap = new GatewayTap(() => gw, { frames: (b) => batches.push(b), piles: (p) => pileLists.push(p) }, { leaseMs: 400, batchMs: 50, maxBatch: 5, maxFrames: 20 });
  });
  afterEach(async () => {
    tap.close();
    await Promise.all(piles.splice(0).map((p) => p.close()));
    await gw.close();
  });

  async function pile(n: number): Promise<VirtualPile> {
    const p = new VirtualPile({ port, pileNo: String(32010200000900 + n), speed: 1000, seed: n, guns: 2 });
    piles.push(p);
    p.connect();
    await p.waitOnline();
    return p;
  }

  it('costs nothing unwatched: no listeners on the gateway, no frames kept', async () => {
    const before = gw.listenerCount('frame') + gw.listenerCount('sent');
    await pile(1);
    await wait(100);
    assert.equal(gw.listenerCount('frame') + gw.listenerCount('sent'), before);
    assert.deepEqual(tap.recent(), []);
    assert.equal(batches.length, 0);
  });

  it('while watched: frames both ways, hex that decodes to the same frame, piles with their details', async () => {
    tap.watch('editor-1');
    const p = await pile(1);
    await gw.request(p.pileNo, { type: 0x12, body: { pileNo: p.pileNo, gunNo: 2 } });
    await until(() => tap.recent().some((f) => f.dir === 'in' && f.type === 0x13 && f.frame.body.gunNo === 2), 3000, 'the 0x13 reply');
    const frames = tap.recent({ pileNo: p.pileNo });
    const login = frames.find((f) => f.type === 0x01)!;
    assert.equal(login.dir, 'in');
    assert.equal(login.name, 'login');
    const ask = frames.find((f) => f.type === 0x12)!;
    assert.equal(ask.dir, 'out');
    for (const f of frames) assert.deepEqual(decodeFrame(f.hex).body, f.frame.body, `${f.name} hex decodes to its body`);
    const listed = tap.piles();
    assert.equal(listed.length, 1);
    assert.equal(listed[0].pileNo, p.pileNo);
    assert.equal(listed[0].online, true);
    assert.equal(listed[0].firmwareVersion, 'SIM-1.00');
    await until(() => batches.length > 0, 2000, 'a batch');
    assert.ok(batches.every((b) => b.frames.length <= 5), 'batches are bounded');
  });

  it('the capture is JSON lines any reader parses; per pile or all', async () => {
    tap.watch('w');
    const a = await pile(1);
    const b = await pile(2);
    await until(() => tap.recent({ pileNo: b.pileNo }).length >= 2, 3000, 'frames of the second pile');
    const lines = tap.capture(a.pileNo).split('\n').map(parseCaptureLine);
    assert.ok(lines.length >= 2);
    assert.ok(lines.every((l) => l!.pileNo === a.pileNo && (l!.dir === 'in' || l!.dir === 'out')));
    const all = tap.capture().split('\n').map(parseCaptureLine);
    assert.ok(all.some((l) => l!.pileNo === b.pileNo) && all.some((l) => l!.pileNo === a.pileNo));
  });

  it('keeps at most maxFrames and counts what did not fit a batch', async () => {
    tap.watch('w');
    const p = await pile(1);
    for (let i = 0; i < 15; i++) await gw.request(p.pileNo, { type: 0x12, body: { pileNo: p.pileNo, gunNo: 1 } });
    await wait(150);
    assert.ok(tap.recent().length <= 20 * 1.25, `buffer bounded (${tap.recent().length})`);
    const shown = batches.reduce((n, b) => n + b.frames.length, 0);
    const skipped = batches.reduce((n, b) => n + b.skipped, 0);
    assert.ok(skipped > 0, 'a burst larger than a batch is counted, not queued');
    assert.ok(shown + skipped >= 30);
  });

  it('remembers piles that went offline while watched, and lets go of the gateway when the lease ends', async () => {
    tap.watch('w');
    const p = await pile(1);
    await p.close();
    // The watcher renews its lease (as the editor does every 10 s) while it waits.
    const renewing = (pred: () => boolean) => () => (tap.watch('w'), pred());
    await until(renewing(() => tap.piles().some((x) => x.pileNo === p.pileNo && !x.online)), 3000, 'the pile listed offline');
    await until(renewing(() => pileLists.some((l) => l.some((x) => x.pileNo === p.pileNo && !x.online))), 3000, 'the offline pile published');
    assert.equal(tap.watching, true);
    await until(() => !tap.watching, 3000, 'the lease to end');
    assert.equal(gw.listenerCount('sent'), 0);
    assert.deepEqual(tap.recent(), []);
  });

  it('lists a frame the gateway could not use (bad CRC) as unreadable, with its bytes and the reason', async () => {
    tap.watch('w');
    const p = await pile(1);
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const bad = rawFrame(0x03, p.pileNo + '01' + '00', '0700');
    bad[bad.length - 1] ^= 0xff;
    sock.write(bad);
    await until(() => tap.recent().some((f) => f.name === 'unreadable'), 3000, 'the unreadable frame');
    const f = tap.recent().find((x) => x.name === 'unreadable')!;
    assert.equal(f.hex, hexOf(bad));
    assert.equal(f.type, 0x03);
    assert.equal(f.frame.body.code, 'YKC_CRC');
    sock.destroy();
  });

  it('unwatch by the last watcher detaches at once; another watcher keeps it', () => {
    tap.watch('a');
    tap.watch('b');
    tap.unwatch('a');
    assert.equal(tap.watching, true);
    tap.unwatch('b');
    assert.equal(tap.watching, false);
  });
});
