/**
 * A real Node-RED 4 runtime in a child process, shared by the adversarial kill specs, the cluster
 * instance (test/cluster/red-instance.ts) and the Node-RED benches: the nodes directory it loads the
 * compiled ykc nodes from, the wait for the ykc-server node to listen, the "stop and exit" handler,
 * and (in the parent) starting such a child and waiting for its "ready".
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import type * as http from 'http';
import * as path from 'path';
import { REPO_ROOT } from './repo';

/** A nodes directory: one-line .js requiring each compiled node (dist/nodes), beside its editor html and, unless told otherwise, its locales. */
export function nodesDir(userDir: string, names: string[], opts: { locales?: boolean } = {}): string {
  const dir = path.join(userDir, 'nodes');
  fs.mkdirSync(dir, { recursive: true });
  for (const name of names) {
    const compiled = path.join(__dirname, '..', '..', 'nodes', `${name}.js`);
    fs.writeFileSync(path.join(dir, `${name}.js`), `module.exports = require(${JSON.stringify(compiled)});\n`);
    fs.copyFileSync(path.join(REPO_ROOT, 'nodes', `${name}.html`), path.join(dir, `${name}.html`));
    if (opts.locales === false) continue;
    for (const lang of ['en-US', 'zh-CN']) {
      const to = path.join(dir, 'locales', lang);
      fs.mkdirSync(to, { recursive: true });
      for (const ext of ['json', 'html']) {
        const f = path.join(REPO_ROOT, 'nodes', 'locales', lang, `${name}.${ext}`);
        if (fs.existsSync(f)) fs.copyFileSync(f, path.join(to, `${name}.${ext}`));
      }
    }
  }
  return dir;
}

interface Red {
  nodes: { getNode(id: string): unknown };
  stop(): Promise<void>;
}

/** The ykc-server node `id` once its gateway listens (polled: the flow starts after RED.start resolves); `also` must hold too. */
export async function serverNode<T extends { ready?: Promise<void> }>(RED: Red, id: string, opts: { tries?: number; everyMs?: number; also?: () => boolean } = {}): Promise<T> {
  const { tries = 400, everyMs = 25, also = () => true } = opts;
  for (let t = 0; t < tries; t++) {
    const srv = RED.nodes.getNode(id) as T | null;
    if (srv?.ready && also()) {
      await srv.ready;
      return srv;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error('ykc-server did not start');
}

/** The child's "close" handler: stops Node-RED, removes its user directory and exits. */
export function stopAndExit(RED: Red, server: http.Server, userDir: string): () => Promise<Record<string, never>> {
  return async () => {
    await RED.stop();
    server.close();
    fs.rmSync(userDir, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return {};
  };
}

/** Starts `node <script> ...args` and resolves once it writes "ready" to stdout (60 s, else it is killed). */
export function startRedChild(script: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('Node-RED child not ready within 60 s'));
    }, 60_000);
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes('ready')) {
        clearTimeout(t);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`Node-RED child exited (${code})`));
    });
  });
}
