import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
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

  it('unknown options are refused for serve (exit 2, JSON error naming them), nothing listens', async () => {
    for (const args of [['--prot', '18770'], ['--port', '0', '--verbose'], ['--port', '0', 'extra']]) {
      const f = fakeIo();
      should(await run(args, f.io)).equal(2);
      const e = JSON.parse(f.err[0]);
      should(e.code).equal('YKC_INPUT');
      should(e.message).containEql(args[args.length - 1] === 'extra' ? 'extra' : args.find((a) => a.startsWith('--') && a !== '--port')!);
      should(f.out).have.length(0);
    }
  });

  describe('--tariff and --records files', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-serve-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('a bad --tariff file is refused at start (exit 2): missing, not JSON, not a tariff', async () => {
      const bad = path.join(dir, 'bad.json');
      const notTariff = path.join(dir, 'nt.json');
      fs.writeFileSync(bad, '{"modelCode": ');
      fs.writeFileSync(notTariff, JSON.stringify({ modelCode: '0001', sharpElecPrice: 1, slots: [1, 2] }));
      for (const [file, code] of [[path.join(dir, 'missing.json'), 'YKC_INPUT'], [bad, 'YKC_TARIFF'], [notTariff, 'YKC_TARIFF']]) {
        const f = fakeIo();
        should(await run(['--port', '0', '--tariff', file], f.io)).equal(2);
        const e = JSON.parse(f.err[0]);
        should(e.code).equal(code);
        should(e.message).containEql(file);
        should(f.out).have.length(0);
      }
    });

    it('a good --tariff file (friendly shape) is what a pile asking 0x09 gets', async () => {
      const file = path.join(dir, 't.json');
      fs.writeFileSync(file, JSON.stringify({ modelCode: '0042', levels: [0, 1, 2, 3].map(() => ({ elec: 0.9, service: 0.3 })), slots: new Array(48).fill(2) }));
      const f = fakeIo();
      const done = run(['--port', '0', '--no-time-sync', '--tariff', file], f.io);
      await until(() => f.out.length > 0);
      const p = await ScriptedPile.connect(JSON.parse(f.out[0]).port);
      p.write(rawFrame(0x01, `32010200000001 00 02 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`));
      await p.next(0x02);
      p.write(rawFrame(0x09, '32010200000001', '0200'));
      should((await p.next(0x0a)).body).containEql({ modelCode: '0042', flatElecPrice: 0.9, flatServicePrice: 0.3 });
      p.close();
      f.stop();
      should(await done).equal(0);
    });

    it('--confirm after-store without a store is refused, naming --records; --records with another --confirm too', async () => {
      const a = fakeIo();
      should(await run(['--port', '0', '--confirm', 'after-store'], a.io)).equal(2);
      should(JSON.parse(a.err[0]).message).containEql('--records');
      const b = fakeIo();
      should(await run(['--port', '0', '--records', path.join(dir, 'r.jsonl'), '--confirm', 'at-once'], b.io)).equal(2);
      const c = fakeIo();
      should(await run(['--port', '0', '--records', dir], c.io)).equal(2); // a directory cannot be appended to
      should(JSON.parse(c.err[0]).code).equal('YKC_STORE');
    });

    it('--records FILE: each record is a JSON line on disk before the pile gets its 0x40; a resend is not stored twice', async () => {
      const file = path.join(dir, 'records.jsonl');
      const f = fakeIo();
      const done = run(['--port', '0', '--no-time-sync', '--records', file], f.io);
      await until(() => f.out.length > 0);
      const p = await ScriptedPile.connect(JSON.parse(f.out[0]).port);
      const v = loadVectors().find((x) => x.type === '0x3B' && x.kind === 'captured (test input)')!;
      const pile = v.hex.slice(12 + 32, 12 + 46);
      p.write(rawFrame(0x01, `${pile} 00 02 0F 56342E312E353000 01 ${'00'.repeat(10)} 04`));
      await p.next(0x02);
      const body = v.hex.slice(12, -4);
      p.write(rawFrame(0x3b, body, '0500'));
      const ack = await p.next(0x40);
      // The 0x40 arrived: the record must already be on disk.
      const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      should(lines).have.length(1);
      should(lines[0]).containEql({ pileNo: pile, tradeNo: ack.body.tradeNo });
      should(lines[0].frame.body.totalAmount).be.a.Number();
      should(ack.body.result).equal(0);
      // The pile resends (no ack seen): acknowledged again, not stored again.
      p.write(rawFrame(0x3b, body, '0600'));
      await p.next(0x40);
      should(fs.readFileSync(file, 'utf8').trim().split('\n')).have.length(1);
      should(f.out.map((l) => JSON.parse(l).event)).containEql('stored');
      p.close();
      f.stop();
      should(await done).equal(0);
    });
  });
});
