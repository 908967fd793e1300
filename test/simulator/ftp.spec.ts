import * as crypto from 'crypto';
import * as net from 'net';
import 'should';
import { ftpDownload, FtpError, passiveAddress } from '../../src/simulator/ftp';
import { startFtpServer, TestFtpServer } from '../support/ftp-server';

async function failure(p: Promise<unknown>): Promise<FtpError> {
  try {
    await p;
  } catch (e) {
    (e as Error).should.be.instanceOf(FtpError);
    return e as FtpError;
  }
  throw new Error('expected the download to fail');
}

describe('simulator/ftp: the virtual pile downloads firmware from a real FTP server', function () {
  this.timeout(20000);
  let ftp: TestFtpServer;
  before(async () => {
    ftp = await startFtpServer();
  });
  after(() => ftp.close());

  const opts = (over: Partial<Parameters<typeof ftpDownload>[0]> = {}) => ({
    host: ftp.host, port: ftp.port, user: ftp.user, password: ftp.password, path: '/fw/pile.bin', timeoutMs: 5000, ...over,
  });

  it('downloads a binary file byte for byte', async () => {
    const content = crypto.randomBytes(300_000);
    ftp.put('fw/pile.bin', content);
    const got = await ftpDownload(opts());
    got.equals(content).should.be.true();
    ftp.logins.at(-1)!.should.eql({ username: 'pileuser', ok: true });
  });

  it('reports a wrong password as a login failure', async () => {
    const e = await failure(ftpDownload(opts({ password: 'wrong' })));
    e.failure.should.equal('login');
    e.code.should.equal('YKC_INPUT');
  });

  it('reports a missing file as notFound', async () => {
    (await failure(ftpDownload(opts({ path: '/fw/none.bin' })))).failure.should.equal('notFound');
  });

  it('reports a closed port as connect', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    (await failure(ftpDownload(opts({ port })))).failure.should.equal('connect');
  });

  it('gives up after the timeout against a server that never greets', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const e = await failure(ftpDownload(opts({ port: (silent.address() as net.AddressInfo).port, timeoutMs: 300 })));
      e.failure.should.equal('timeout');
    } finally {
      silent.close();
    }
  });

  it('refuses a file larger than maxBytes', async () => {
    ftp.put('fw/big.bin', Buffer.alloc(200_000, 1));
    (await failure(ftpDownload(opts({ path: '/fw/big.bin', maxBytes: 100_000 })))).failure.should.equal('tooLarge');
  });

  it('reads EPSV and PASV replies, using the control host', () => {
    passiveAddress({ code: 229, text: 'Entering Extended Passive Mode (|||40001|)' }, '10.0.0.1')!.should.eql({ host: '10.0.0.1', port: 40001 });
    passiveAddress({ code: 227, text: 'Entering Passive Mode (192,168,1,2,156,65)' }, '127.0.0.1')!.should.eql({ host: '127.0.0.1', port: 40001 });
    (passiveAddress({ code: 227, text: 'garbage' }, 'h') === null).should.be.true();
  });
});
