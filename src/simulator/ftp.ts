/**
 * A minimal FTP client (RFC 959, passive mode, RFC 2428 EPSV) for the virtual pile's remote update:
 * a real pile answers 0x94 by logging in to the FTP server the frame names and fetching the file.
 * Only what that needs: USER/PASS, TYPE I, EPSV (falling back to PASV), RETR, QUIT. No runtime
 * dependency; every step is bounded by one overall deadline and the file by a size limit.
 */
import * as net from 'net';
import { YkcError } from '../protocol';

export interface FtpDownloadOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  path: string;
  /** The whole exchange (connect … last byte) must finish within this. */
  timeoutMs: number;
  /** A larger file is refused (FTP_TOO_LARGE). Default 64 MiB. */
  maxBytes?: number;
}

/** Why a download failed, for the pile's 0x93 status and for tests. */
export type FtpFailure = 'connect' | 'login' | 'notFound' | 'transfer' | 'timeout' | 'tooLarge' | 'protocol';

export class FtpError extends YkcError {
  constructor(
    readonly failure: FtpFailure,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super('YKC_INPUT', message, { failure, ...details });
    this.name = 'FtpError';
  }
}

export const FTP_MAX_BYTES = 64 * 1024 * 1024;

interface Reply {
  code: number;
  text: string;
}

/** Reads multi-line replies ("123-…" … "123 …") from the control connection, one at a time. */
class ControlChannel {
  private buf = '';
  private readonly replies: Reply[] = [];
  private waiter: ((r: Reply) => void) | null = null;
  private failed: Error | null = null;
  private failWaiter: ((e: Error) => void) | null = null;
  private multi: number | null = null;
  private lines: string[] = [];

  constructor(readonly sock: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (s: string) => this.onData(s));
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error('control connection closed')));
  }

  private onData(s: string): void {
    this.buf += s;
    if (this.buf.length > 64 * 1024) return this.fail(new Error('reply too long'));
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i).replace(/\r$/, '');
      this.buf = this.buf.slice(i + 1);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    const m = /^(\d{3})([ -])(.*)$/.exec(line);
    if (this.multi !== null) {
      this.lines.push(line);
      if (m && Number(m[1]) === this.multi && m[2] === ' ') {
        this.push({ code: this.multi, text: this.lines.join('\n') });
        this.multi = null;
        this.lines = [];
      }
      return;
    }
    if (!m) return;
    if (m[2] === '-') {
      this.multi = Number(m[1]);
      this.lines = [m[3]];
      return;
    }
    this.push({ code: Number(m[1]), text: m[3] });
  }

  private push(r: Reply): void {
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      this.failWaiter = null;
      w(r);
    } else this.replies.push(r);
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    const f = this.failWaiter;
    this.waiter = null;
    this.failWaiter = null;
    f?.(e);
  }

  /** The next reply, skipping none: 1xx preliminary replies are returned like any other. */
  next(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  async command(line: string): Promise<Reply> {
    this.sock.write(line + '\r\n');
    return this.next();
  }
}

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const onError = (e: Error) => reject(e);
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      resolve(sock);
    });
  });
}

/** Data address from an EPSV (229 "(|||port|)") or PASV (227 "(h1,h2,h3,h4,p1,p2)") reply. */
export function passiveAddress(reply: Reply, controlHost: string): { host: string; port: number } | null {
  if (reply.code === 229) {
    const m = /\((.)\1\1(\d+)\1\)/.exec(reply.text);
    return m ? { host: controlHost, port: Number(m[2]) } : null;
  }
  if (reply.code === 227) {
    const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(reply.text);
    if (!m) return null;
    const n = m.slice(1).map(Number);
    if (n.some((x) => x > 255)) return null;
    // Servers behind NAT often announce an address nobody can reach: the control host is safer.
    return { host: controlHost, port: n[4] * 256 + n[5] };
  }
  return null;
}

/** Downloads one file; resolves with its bytes or rejects with an FtpError saying which step failed. */
export function ftpDownload(o: FtpDownloadOptions): Promise<Buffer> {
  const maxBytes = o.maxBytes ?? FTP_MAX_BYTES;
  const sockets: net.Socket[] = [];
  let timer: NodeJS.Timeout | null = null;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new FtpError('timeout', `FTP download from ${o.host}:${o.port} did not finish within ${o.timeoutMs} ms`, { timeoutMs: o.timeoutMs })),
      o.timeoutMs,
    );
  });
  const run = async (): Promise<Buffer> => {
    // The names come from the platform's 0x94: a line break in one would be a second FTP command.
    for (const [what, v] of [['user', o.user], ['password', o.password], ['path', o.path]] as const) {
      if (/[\r\n\0]/.test(v)) throw new FtpError('protocol', `FTP ${what} contains a line break or NUL`, { field: what });
    }
    let ctrlSock: net.Socket;
    try {
      ctrlSock = await connect(o.host, o.port);
    } catch (e) {
      throw new FtpError('connect', `cannot connect to FTP server ${o.host}:${o.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    sockets.push(ctrlSock);
    const ctrl = new ControlChannel(ctrlSock);
    const expect = (r: Reply, ok: (code: number) => boolean, failure: FtpFailure, what: string): Reply => {
      if (!ok(r.code)) throw new FtpError(failure, `FTP ${what} refused: ${r.code} ${r.text}`, { ftpCode: r.code });
      return r;
    };
    try {
      // 120 "ready in n minutes" may come before the 220 (RFC 959 §5.4).
      let greeting = await ctrl.next();
      while (greeting.code === 120) greeting = await ctrl.next();
      expect(greeting, (c) => c === 220, 'protocol', 'greeting');
      const user = await ctrl.command(`USER ${o.user}`);
      if (user.code === 331 || user.code === 332) expect(await ctrl.command(`PASS ${o.password}`), (c) => c === 230 || c === 202, 'login', 'login');
      else expect(user, (c) => c === 230, 'login', 'login');
      expect(await ctrl.command('TYPE I'), (c) => c === 200, 'protocol', 'binary mode');
      let pasv = await ctrl.command('EPSV');
      if (pasv.code !== 229) pasv = await ctrl.command('PASV');
      const addr = passiveAddress(pasv, o.host);
      if (!addr) throw new FtpError('protocol', `FTP passive mode refused: ${pasv.code} ${pasv.text}`, { ftpCode: pasv.code });
      let dataSock: net.Socket;
      try {
        dataSock = await connect(addr.host, addr.port);
      } catch (e) {
        throw new FtpError('transfer', `cannot open the FTP data connection ${addr.host}:${addr.port}: ${(e as Error).message}`);
      }
      sockets.push(dataSock);
      const chunks: Buffer[] = [];
      let size = 0;
      const received = new Promise<void>((resolve, reject) => {
        dataSock.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            dataSock.destroy();
            reject(new FtpError('tooLarge', `FTP file ${o.path} is larger than ${maxBytes} bytes`, { maxBytes }));
            return;
          }
          chunks.push(c);
        });
        dataSock.on('end', () => resolve());
        dataSock.on('error', (e) => reject(new FtpError('transfer', `FTP data connection failed: ${e.message}`)));
      });
      received.catch(() => {});
      const retr = await ctrl.command(`RETR ${o.path}`);
      // 550 is the usual "no such file"; some servers answer 551 or 553 for a path they cannot open.
      if ([450, 550, 551, 553].includes(retr.code)) throw new FtpError('notFound', `FTP file ${o.path} not available: ${retr.code} ${retr.text}`, { ftpCode: retr.code });
      expect(retr, (c) => c === 125 || c === 150, 'transfer', `RETR ${o.path}`);
      // A server that gives up mid-transfer (426, 451) may leave the data connection open: its
      // answer, not the deadline, ends the wait. A 226 before the last byte still waits for the data.
      const done = ctrl.next();
      done.catch(() => {});
      const first = await Promise.race([received.then(() => null), done]);
      if (first) expect(first, (c) => c === 226 || c === 250, 'transfer', 'transfer completion');
      await received;
      if (!first) expect(await done, (c) => c === 226 || c === 250, 'transfer', 'transfer completion');
      ctrl.command('QUIT').catch(() => {});
      return Buffer.concat(chunks, size);
    } catch (e) {
      if (e instanceof FtpError) throw e;
      throw new FtpError('protocol', `FTP exchange with ${o.host}:${o.port} failed: ${(e as Error).message}`);
    }
  };
  return Promise.race([run(), deadline]).finally(() => {
    if (timer) clearTimeout(timer);
    for (const s of sockets) {
      s.on('error', () => {});
      s.end();
      setTimeout(() => s.destroy(), 1000).unref?.();
    }
  });
}
