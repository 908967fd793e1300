/**
 * Outside review (issue 15): the virtual pile's FTP client against scripted servers on real sockets
 * that do what ftp-srv never does: multi-line and 120 greetings, a 150 followed by an abort while the
 * data connection stays open, a PASV address pointing elsewhere, a data connection never closed, a
 * 0x94 whose user or path carries a line break (a second FTP command).
 */
import * as net from 'net';
import should from 'should';
import { ftpDownload, FtpError } from '../../src/simulator/ftp';

type Step = string | ((c: net.Socket, dataPort: number, data: net.Socket[]) => void);

interface Scripted {
  port: number;
  commands: string[];
  close(): Promise<void>;
}

async function scripted(script: Record<string, Step>, greeting = '220 hi\r\n'): Promise<Scripted> {
  const dataSockets: net.Socket[] = [];
  const ctrlSockets: net.Socket[] = [];
  const data = net.createServer((s) => {
    s.on('error', () => {});
    dataSockets.push(s);
  });
  await new Promise<void>((r) => data.listen(0, '127.0.0.1', () => r()));
  const dataPort = (data.address() as net.AddressInfo).port;
  const commands: string[] = [];
  const steps: Record<string, Step> = { USER: '331 pw\r\n', PASS: '230 ok\r\n', TYPE: '200 ok\r\n', EPSV: (c) => c.write(`229 Entering (|||${dataPort}|)\r\n`), QUIT: '221 bye\r\n', ...script };
  const ctrl = net.createServer((c) => {
    ctrlSockets.push(c);
    c.on('error', () => {});
    c.write(greeting);
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        commands.push(line);
        const step = steps[line.split(' ')[0]];
        if (typeof step === 'function') step(c, dataPort, dataSockets);
        else c.write(step ?? '502 not here\r\n');
      }
    });
  });
  await new Promise<void>((r) => ctrl.listen(0, '127.0.0.1', () => r()));
  return {
    port: (ctrl.address() as net.AddressInfo).port,
    commands,
    close: async () => {
      for (const s of [...dataSockets, ...ctrlSockets]) s.destroy();
      await Promise.all([new Promise((r) => ctrl.close(r)), new Promise((r) => data.close(r))]);
    },
  };
}

async function outcome(p: Promise<Buffer>): Promise<{ bytes?: string; failure?: string; message?: string; ms: number }> {
  const t0 = Date.now();
  try {
    const b = await p;
    return { bytes: b.toString('latin1'), ms: Date.now() - t0 };
  } catch (e) {
    should(e).be.instanceOf(FtpError);
    return { failure: (e as FtpError).failure, message: (e as Error).message, ms: Date.now() - t0 };
  }
}

describe('simulator/ftp against hostile and unusual servers (scripted, real sockets)', function () {
  this.timeout(30_000);
  const servers: Scripted[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  const start = async (script: Record<string, Step>, greeting?: string) => {
    const s = await scripted(script, greeting);
    servers.push(s);
    return s;
  };
  const download = (s: Scripted, over: Partial<Parameters<typeof ftpDownload>[0]> = {}) =>
    ftpDownload({ host: '127.0.0.1', port: s.port, user: 'u', password: 'p', path: '/fw.bin', timeoutMs: 20_000, ...over });
  const serve = (content: string): Step => (c, _p, ds) => {
    c.write('150 go\r\n');
    setTimeout(() => {
      ds[0].end(content);
      setTimeout(() => c.writable && c.write('226 done\r\n'), 30);
    }, 30);
  };

  it('multi-line greeting, and a 120 "ready soon" before the 220', async () => {
    let s = await start({ RETR: serve('abc') }, '220-welcome\r\n220-second line\r\n 220 indented\r\n220 ready\r\n');
    should(await outcome(download(s))).containEql({ bytes: 'abc' });
    s = await start({ RETR: serve('abc') }, '120 ready in 1 minute\r\n220 ready\r\n');
    should(await outcome(download(s))).containEql({ bytes: 'abc' });
  });

  it('150 then 451 with the data connection left open: a transfer failure at once, not the deadline', async () => {
    const s = await start({
      RETR: (c) => {
        c.write('150 go\r\n');
        setTimeout(() => c.write('451 local error, aborted\r\n'), 50);
      },
    });
    const r = await outcome(download(s));
    should(r).containEql({ failure: 'transfer' });
    should(r.ms).be.below(10_000);
  });

  it('a 226 before the last byte still waits for the data', async () => {
    const s = await start({
      RETR: (c, _p, ds) => {
        c.write('150 go\r\n226 done\r\n');
        setTimeout(() => ds[0].end('late bytes'), 150);
      },
    });
    should(await outcome(download(s))).containEql({ bytes: 'late bytes' });
  });

  it('multi-line 550 is notFound; a PASV reply naming another host still connects to the control host', async () => {
    let s = await start({ RETR: '550-no such file\r\n550 really\r\n' });
    should(await outcome(download(s))).containEql({ failure: 'notFound' });
    s = await start({ EPSV: '500 no\r\n', PASV: (c, p) => c.write(`227 Entering Passive Mode (10,9,8,7,${p >> 8},${p & 255})\r\n`), RETR: serve('pasv') });
    should(await outcome(download(s))).containEql({ bytes: 'pasv' });
    should(s.commands).containEql('PASV');
  });

  it('a data connection that never closes ends with the deadline (timeout)', async () => {
    const s = await start({
      RETR: (c, _p, ds) => {
        c.write('150 go\r\n');
        ds[0].write('partial');
      },
    });
    const r = await outcome(download(s, { timeoutMs: 800 }));
    should(r).containEql({ failure: 'timeout' });
  });

  it('a user, password or path with a line break is refused before anything is sent', async () => {
    const s = await start({ RETR: serve('x'), DELE: '250 deleted\r\n' });
    for (const over of [{ user: 'u\r\nDELE /etc' }, { password: 'p\nDELE /x' }, { path: '/fw.bin\r\nDELE /fw.bin' }]) {
      should(await outcome(download(s, over))).containEql({ failure: 'protocol' });
    }
    should(s.commands.filter((c) => c.startsWith('DELE'))).eql([]);
  });
});
