import { PassThrough } from 'stream';
import should from 'should';
import { run } from '../../src/cli/serve';
import { CliIo } from '../../src/cli/io';
import { ScriptedPile } from '../support/pile-client';
import { rawFrame } from '../support/raw';
import { loadVectors } from '../support/repo';

function fakeIo() {
  const out: string[] = [];
  const err: string[] = [];
  let stop: () => void = () => {};
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), stdin: new PassThrough(), onStop: (cb) => (stop = cb) };
  return { io, out, err, stop: () => stop() };
}

async function until(pred: () => boolean, ms = 2000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('cli: ykc serve', function () {
  this.timeout(5000);

  it('prints JSON lines for a real login and heartbeat, and exits 0 on stop', async () => {
    const f = fakeIo();
    const done = run(['--host', '127.0.0.1', '--port', '0', '--heartbeats', '--no-time-sync'], f.io);
    await until(() => f.out.length > 0);
    const listening = JSON.parse(f.out[0]);
    should(listening.event).equal('listening');
    const p = await ScriptedPile.connect(listening.port);
    const login = loadVectors().find((v) => v.type === '0x01' && v.kind === 'device-capture' && v.crc_ok)!;
    p.write(login.hex);
    await p.next(0x02);
    p.write(rawFrame(0x03, '10001001000001' + '01' + '00', '0001'));
    await p.next(0x04);
    const events = () => f.out.map((l) => JSON.parse(l).event);
    await until(() => events().includes('frame'));
    should(events()).containDeep(['listening', 'connection', 'login', 'online', 'frame']);
    const hb = f.out.map((l) => JSON.parse(l)).find((e) => e.event === 'frame' && e.frame.type === 3);
    should(hb.frame.body).containEql({ pileNo: '10001001000001', gunNo: 1 });
    p.close();
    f.stop();
    should(await done).equal(0);
    should(JSON.parse(f.out[f.out.length - 1]).event).equal('close');
  });

  it('refuses piles outside --allow and rejects bad options', async () => {
    const bad = fakeIo();
    should(await run(['--allow', '123'], bad.io)).equal(2);
    should(JSON.parse(bad.err[0]).code).equal('YKC_INPUT');

    const f = fakeIo();
    const done = run(['--port', '0', '--allow', '11111111111111'], f.io);
    await until(() => f.out.length > 0);
    const p = await ScriptedPile.connect(JSON.parse(f.out[0]).port);
    p.write(rawFrame(0x01, `32010200000001 00 02 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`));
    should((await p.next(0x02)).body.result).equal(1);
    await p.whenClosed();
    f.stop();
    should(await done).equal(0);
  });
});
