/**
 * A real FTP server (ftp-srv, in-process, real sockets) serving a temporary directory, for the
 * virtual pile's remote update: one user/password, passive ports chosen by the OS range given.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort } from './ports';

// ftp-srv ships CommonJS without an esModuleInterop-friendly default export.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const FtpSrv = require('ftp-srv') as typeof import('ftp-srv').FtpSrv;

export interface TestFtpServer {
  host: string;
  port: number;
  root: string;
  user: string;
  password: string;
  logins: Array<{ username: string; ok: boolean }>;
  put(name: string, content: Buffer | string): void;
  close(): Promise<void>;
}

/** A logger that swallows ftp-srv's bunyan output (it would flood the test report). */
const quiet = {
  child: () => quiet,
  trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, fatal: () => {},
};

export async function startFtpServer(user = 'pileuser', password = 'pilepass'): Promise<TestFtpServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-ftp-'));
  const port = await freePort();
  const pasvMin = 30000 + Math.floor(Math.random() * 20000);
  const srv = new FtpSrv({ url: `ftp://127.0.0.1:${port}`, pasv_url: '127.0.0.1', pasv_min: pasvMin, pasv_max: pasvMin + 200, anonymous: false, log: quiet, greeting: 'ykc test ftp' });
  const logins: TestFtpServer['logins'] = [];
  srv.on('login', ({ username, password: pw }, resolve, reject) => {
    const ok = username === user && pw === password;
    logins.push({ username, ok });
    if (ok) resolve({ root });
    else reject(new Error('Invalid username or password'));
  });
  await srv.listen();
  return {
    host: '127.0.0.1', port, root, user, password, logins,
    put: (name, content) => {
      const file = path.join(root, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    },
    close: async () => {
      await srv.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
