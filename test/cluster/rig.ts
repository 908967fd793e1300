/**
 * Real processes for the cluster: a Mosquitto broker and HAProxy (Debian packages), Node-RED
 * runtimes as child processes (red-instance.ts). Used by test/cluster/processes.spec.ts and
 * bench/cluster.ts. Everything started here is stopped by Rig.close(), also after a failure.
 */
import { ChildProcess, execFileSync, fork, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { freePort } from '../support/ports';

export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const f = path.join(dir, cmd);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Resolves once something accepts TCP connections on the port (bounded). */
export async function waitPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RedChild {
  instance: string;
  ykcPort: number;
  child: ChildProcess;
  userDir: string;
}

let askSeq = 0;
export function ask<T = Record<string, unknown>>(r: RedChild, cmd: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
  const id = ++askSeq;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      r.child.off('message', on);
      reject(new Error(`instance ${r.instance}: no answer to ${cmd} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (m: { id?: number }) => {
      if (m && m.id === id) {
        clearTimeout(t);
        r.child.off('message', on);
        resolve(m as T);
      }
    };
    r.child.on('message', on);
    r.child.send({ cmd, id, ...args });
  });
}

export class Rig {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-cluster-rig-'));
  brokerPort = 0;
  lbPort = 0;
  readonly reds: RedChild[] = [];
  private readonly procs: ChildProcess[] = [];

  /** Mosquitto on a free port (anonymous, no persistence: a clean broker per run). */
  async mosquitto(): Promise<number> {
    this.brokerPort = await freePort();
    const conf = path.join(this.dir, 'mosquitto.conf');
    fs.writeFileSync(conf, `listener ${this.brokerPort} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\nmax_queued_messages 100000\n`);
    const p = spawn(which('mosquitto')!, ['-c', conf], { stdio: 'ignore' });
    this.procs.push(p);
    await waitPort(this.brokerPort);
    return this.brokerPort;
  }

  /** HAProxy in TCP mode in front of the gateways: round robin, health checks, redispatch on a dead backend. */
  async haproxy(backends: number[]): Promise<number> {
    this.lbPort = await freePort();
    const cfg = path.join(this.dir, 'haproxy.cfg');
    fs.writeFileSync(
      cfg,
      [
        'global',
        '  maxconn 8000',
        'defaults',
        '  mode tcp',
        '  timeout connect 1s',
        '  timeout client 1h',
        '  timeout server 1h',
        '  retries 3',
        '  option redispatch',
        'frontend piles',
        `  bind 127.0.0.1:${this.lbPort}`,
        '  default_backend gateways',
        'backend gateways',
        '  balance roundrobin',
        ...backends.map((port, i) => `  server g${i} 127.0.0.1:${port} check inter 1s fall 2 rise 2`),
        '',
      ].join('\n'),
    );
    execFileSync(which('haproxy')!, ['-c', '-q', '-f', cfg]);
    const p = spawn(which('haproxy')!, ['-db', '-f', cfg], { stdio: 'ignore' });
    this.procs.push(p);
    await waitPort(this.lbPort);
    return this.lbPort;
  }

  /** A Node-RED runtime (red-instance.ts) joined to the cluster; resolves once its gateway and cluster are up. */
  async red(instance: string, mqttVersion = '5', scope = 'cluster'): Promise<RedChild> {
    const ykcPort = await freePort();
    const child = fork(path.join(__dirname, 'red-instance.js'), ['--instance', instance, '--ykc-port', String(ykcPort), '--broker-port', String(this.brokerPort), '--mqtt-version', mqttVersion, '--scope', scope], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.procs.push(child);
    const hello = await new Promise<{ userDir: string }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`instance ${instance} not ready within 40 s`)), 40_000);
      child.once('message', (m) => {
        clearTimeout(t);
        resolve(m as { userDir: string });
      });
      child.once('exit', (code) => reject(new Error(`instance ${instance} exited with ${code} before it was ready`)));
    });
    const r = { instance, ykcPort, child, userDir: hello.userDir };
    this.reds.push(r);
    return r;
  }

  /** kill -9 (no clean MQTT disconnect: the broker publishes its will). */
  kill9(r: RedChild): Promise<void> {
    const exited = new Promise<void>((res) => (r.child.exitCode !== null || r.child.signalCode !== null ? res() : r.child.once('exit', () => res())));
    r.child.kill('SIGKILL');
    return exited.then(() => fs.rmSync(r.userDir, { recursive: true, force: true }));
  }

  async close(): Promise<void> {
    await Promise.all(
      this.reds.map(async (r) => {
        if (r.child.exitCode !== null || r.child.signalCode !== null) return;
        const exited = new Promise<void>((res) => r.child.once('exit', () => res()));
        const hard = setTimeout(() => r.child.kill('SIGKILL'), 5000);
        try {
          r.child.send({ cmd: 'close', id: 0 });
        } catch {
          r.child.kill('SIGKILL');
        }
        await exited;
        clearTimeout(hard);
        fs.rmSync(r.userDir, { recursive: true, force: true });
      }),
    );
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null) {
        const exited = new Promise<void>((res) => p.once('exit', () => res()));
        p.kill('SIGTERM');
        const hard = setTimeout(() => p.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(hard);
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
