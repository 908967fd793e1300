/** A fleet of virtual piles against the gateway, and the `ykc simulate` command. */
import assert from 'assert/strict';
import { PassThrough } from 'stream';
import { CliIo } from '../../src/cli/io';
import { run } from '../../src/cli/simulate';
import { YkcServer } from '../../src/gateway';
import { Fleet, pileNoAt } from '../../src/simulator';
import { sampleTariff } from './platform';
import { freePort } from '../support/ports';

function fakeIo() {
  const out: string[] = [];
  const err: string[] = [];
  let stop: () => void = () => {};
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), stdin: new PassThrough(), onStop: (cb) => (stop = cb) };
  return { io, out, err, stop: () => stop() };
}

/** Resolves when pred() holds, checking on each gateway event burst (bounded by timeout). */
function until(pred: () => boolean, timeout = 8000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = () => {
      if (pred()) return resolve();
      if (Date.now() - t0 > timeout) return reject(new Error('condition not reached in time'));
      setTimeout(check, 20);
    };
    check();
  });
}

describe('simulator: fleet and `ykc simulate`', function () {
  this.timeout(20_000);
  let gw: YkcServer;
  let port: number;

  beforeEach(async () => {
    gw = new YkcServer({ timeSyncJitterMs: 0 });
    gw.setTariff(null, sampleTariff().toBody() as unknown as Parameters<YkcServer['setTariff']>[1]);
    port = (await gw.listen(0, '127.0.0.1')).port;
  });
  afterEach(async () => {
    await gw.close();
  });

  it('numbers piles from a base', () => {
    assert.equal(pileNoAt('32010200000001', 41), '32010200000042');
    assert.equal(pileNoAt('00000000000099', 1), '00000000000100');
    assert.throws(() => pileNoAt('99999999999999', 1), { code: 'YKC_INPUT' });
  });

  it('50 piles log in and charge; sessions end in records the gateway confirms', async () => {
    const fleet = new Fleet({ port, piles: 50, guns: 2, pileType: 'mixed', scenario: 'charge', speed: 100, seed: 5, sessionMinutes: [1, 2] });
    const confirmedPiles = new Set<string>();
    gw.on('record', (e) => confirmedPiles.add(String(e.pileNo)));
    fleet.start();
    try {
      await until(() => gw.onlineCount() === 50);
      assert.equal(new Set(gw.piles().map((p) => p.pileNo)).size, 50, '50 distinct pile numbers');
      await until(() => fleet.stats().recordsConfirmed >= 20, 15_000);
      const s = fleet.stats();
      assert.ok(s.logins >= 50, 'every pile logged in');
      assert.ok(s.sessionsStarted >= s.sessionsEnded && s.sessionsEnded >= 20);
      assert.ok(confirmedPiles.size >= 10, `records from many piles (${confirmedPiles.size})`);
      assert.equal(gw.counters.decodeErrors + gw.counters.crcErrors, 0);
      assert.ok(s.framesSent > 1000 && s.framesReceived > 500);
    } finally {
      await fleet.close();
    }
  });

  it('faults scenario: misbehaving piles stay framed and their records still get through', async () => {
    const fleet = new Fleet({ port, piles: 16, scenario: 'faults', speed: 100, seed: 9, sessionMinutes: [1, 3] });
    fleet.start();
    try {
      await until(() => gw.onlineCount() >= 14);
      await until(() => fleet.stats().recordsConfirmed >= 5, 15_000);
      assert.ok(gw.counters.hiFirstCrcFrames > 0, 'hi-first CRC piles seen');
      assert.ok(gw.counters.garbageBytes > 0, 'garbage seen');
      assert.equal(gw.counters.crcErrors, 0);
      assert.equal(gw.counters.decodeErrors, 0);
    } finally {
      await fleet.close();
    }
  });

  it('`ykc simulate` prints a summary line per second and a JSON report, and exits 0 after --duration', async () => {
    const f = fakeIo();
    const code = await run(['--port', String(port), '--piles', '5', '--guns', '2', '--speed', '300', '--scenario', 'charge', '--session-minutes', '1-2', '--duration', '2.2'], f.io);
    assert.equal(code, 0);
    assert.ok(f.err.length >= 2 && f.err.length <= 3, `about one line a second (${f.err.length})`);
    assert.match(f.err[f.err.length - 1], /^online 5\/5 · charging \d+ · sessions \d+ started, \d+ ended · records \d+\/\d+ confirmed · \d+ frames\/s · sim /);
    assert.equal(f.out.length, 1);
    const report = JSON.parse(f.out[0]);
    assert.equal(report.event, 'report');
    assert.equal(report.piles, 5);
    assert.equal(report.online, 5);
    assert.ok(report.framesPerSecond > 0);
    assert.ok(report.simulatedMs >= 300 * 2000, 'two real seconds at 300× are ten simulated minutes');
    assert.ok(report.stats.sessionsStarted > 0);
    await until(() => gw.onlineCount() === 0, 3000);
  });

  it('`ykc simulate` stops cleanly on SIGINT/SIGTERM (io.onStop)', async () => {
    const f = fakeIo();
    const done = run(['--port', String(port), '--piles', '3', '--speed', '100', '--quiet'], f.io);
    await until(() => gw.onlineCount() === 3);
    f.stop();
    assert.equal(await done, 0);
    assert.equal(f.err.length, 0, '--quiet prints no summary');
    const report = JSON.parse(f.out[0]);
    assert.equal(report.piles, 3);
    assert.ok(report.stats.logins >= 3);
  });

  it('`ykc simulate` against a closed port says so (ECONNREFUSED on stderr, in the summary and the report) and exits 1', async () => {
    const closed = await freePort();
    const f = fakeIo();
    const code = await run(['--port', String(closed), '--piles', '2', '--duration', '1.5'], f.io);
    assert.equal(code, 1, 'no pile ever logged in: exit 1');
    const problem = f.err.map((l) => (l.startsWith('{') ? JSON.parse(l) : null)).find((x) => x && x.event === 'problem');
    assert.ok(problem, `a problem line on stderr: ${f.err.join(' | ')}`);
    assert.equal(problem.errno, 'ECONNREFUSED');
    assert.equal(problem.port, closed);
    assert.match(f.err[f.err.length - 1], /^online 0\/2 .* failures, last: ECONNREFUSED/);
    const report = JSON.parse(f.out[0]);
    assert.ok(report.problems.ECONNREFUSED >= 2);
  });

  it('`ykc simulate` refuses bad options with exit code 2', async () => {
    for (const args of [[], ['--port', '1', '--prot', '18770'], ['--port', '1', 'extra'], ['--port', '1', '--piles', '0'], ['--port', '1', '--scenario', 'chaos'], ['--port', '1', '--speed', '-2'], ['--port', '1', '--base', '123'], ['--port', '1', '--session-minutes', '5-2']]) {
      const f = fakeIo();
      assert.equal(await run(args, f.io), 2, args.join(' '));
      assert.equal(JSON.parse(f.err[0]).code, 'YKC_INPUT');
    }
  });
});
