/**
 * A real Node-RED 4 process for the slow tests (browser, packaging): a temporary user directory,
 * 127.0.0.1 and a free port, the pack installed (a link to a package directory, or an unpacked
 * tarball), the given flows, and a stop() that waits for the process to exit.
 */
import { freePort } from '../support/ports';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from '../support/repo';

export interface NodeRed {
  url: string;
  port: number;
  userDir: string;
  /** Everything the process printed so far. */
  log(): string;
  /** Resolves with the output after `since` (a log() length) once it matches `re`. */
  waitForLog(re: RegExp, since: number, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Flows for flows.json (default: none). */
  flows?: unknown[];
  /** Links <userDir>/node_modules/@openykc/node-red-ykc → this package directory. */
  linkPack?: string;
  /** A user directory prepared by the caller (e.g. the tarball installed into it); a new one otherwise. */
  userDir?: string;
  /** More settings.js entries (JSON-serialisable). */
  settings?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

export function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      })
      .on('error', reject);
  });
}

/**
 * The directory of the compiled pack this test belongs to (dist/ or a /tmp build): the test runs
 * from <compiled>/test/browser. Node-RED looks for html, locales and icons next to each node's
 * .js; `npm run build` copies them there. A build made by plain `tsc` (helpers' /tmp builds)
 * gets them (re)copied here on each run, the same way scripts/copy-assets.js does.
 */
export function compiledRoot(): string {
  const root = path.resolve(__dirname, '..', '..');
  const nodes = path.join(root, 'nodes');
  if (root === path.join(REPO_ROOT, 'dist')) {
    if (!fs.existsSync(path.join(nodes, 'ykc-server.html'))) throw new Error('dist/nodes has no editor files: run npm run build first');
  } else {
    for (const f of fs.readdirSync(path.join(REPO_ROOT, 'nodes'))) if (f.endsWith('.html')) fs.copyFileSync(path.join(REPO_ROOT, 'nodes', f), path.join(nodes, f));
    fs.cpSync(path.join(REPO_ROOT, 'nodes', 'locales'), path.join(nodes, 'locales'), { recursive: true });
    fs.cpSync(path.join(REPO_ROOT, 'icons'), path.join(nodes, 'icons'), { recursive: true });
    const plugins = path.join(REPO_ROOT, 'nodes', 'plugins');
    for (const f of fs.readdirSync(plugins)) if (f.endsWith('.html')) fs.copyFileSync(path.join(plugins, f), path.join(nodes, 'plugins', f));
    fs.cpSync(path.join(plugins, 'locales'), path.join(nodes, 'plugins', 'locales'), { recursive: true });
  }
  return root;
}

/**
 * A package directory for the pack as Node-RED sees it: the repository itself when the build is
 * its dist/, else a temporary directory with package.json, examples and a `dist` link to the build.
 */
export function packDir(): string {
  const compiled = compiledRoot();
  if (compiled === path.join(REPO_ROOT, 'dist')) return REPO_ROOT;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-pack-'));
  fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(compiled, path.join(dir, 'dist'));
  fs.symlinkSync(path.join(REPO_ROOT, 'examples'), path.join(dir, 'examples'));
  return dir;
}

export async function startNodeRed(opts: StartOptions = {}): Promise<NodeRed> {
  const userDir = opts.userDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-nodered-'));
  const port = await freePort();
  if (opts.linkPack) {
    fs.mkdirSync(path.join(userDir, 'node_modules', '@openykc'), { recursive: true });
    const link = path.join(userDir, 'node_modules', '@openykc', 'node-red-ykc');
    if (!fs.existsSync(link)) fs.symlinkSync(opts.linkPack, link);
    const pkgFile = path.join(userDir, 'package.json');
    const pkg = fs.existsSync(pkgFile) ? JSON.parse(fs.readFileSync(pkgFile, 'utf8')) : { name: 'ykc-test-user', private: true, dependencies: {} };
    pkg.dependencies = { ...pkg.dependencies, '@openykc/node-red-ykc': 'file:' + opts.linkPack };
    fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
  }
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(opts.flows ?? []));
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    userDir,
    flowFile: 'flows.json',
    credentialSecret: 'ykc-test',
    logging: { console: { level: 'info', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false }, tours: false },
    // No consent dialog over the editor, no calls home.
    telemetry: { enabled: false, updateNotification: false },
    ...opts.settings,
  };
  const settingsFile = path.join(userDir, 'settings.js');
  fs.writeFileSync(settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);

  const red = require.resolve('node-red/red.js');
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settingsFile], {
    cwd: userDir,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let gone = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      gone = true;
      resolve();
    }),
  );

  const url = `http://127.0.0.1:${port}`;
  const limit = opts.startTimeoutMs ?? 60_000;
  // Node-RED prints "Started flows" once every node is deployed.
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (!/Started flows/.test(out)) return;
      finish();
      resolve();
    };
    const onExit = () => {
      finish();
      reject(new Error(`Node-RED exited while starting:\n${out}`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`Node-RED not started within ${limit} ms:\n${out}`));
    }, limit);
    const finish = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    onData();
  }).catch(async (e) => {
    child.kill('SIGKILL');
    await exited;
    throw e;
  });

  return {
    url,
    port,
    userDir,
    log: () => out,
    waitForLog(re, since, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const onData = () => {
          const tail = out.slice(since);
          if (!re.test(tail)) return;
          finish();
          resolve(tail);
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no ${re} in the Node-RED output within ${timeoutMs} ms:\n${out.slice(since)}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.stderr!.off('data', onData);
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        onData();
      });
    },
    async stop() {
      if (gone) return;
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
