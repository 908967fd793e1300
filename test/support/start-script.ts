/**
 * The real scripts/start.js (`npm start`) as a child process in a sandbox that looks like a checkout:
 * shared by test/scripts/start.spec.ts and test/adversarial/first-hour-start.spec.ts.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from './repo';

/** Whether the editor answers 200 on 127.0.0.1:port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** A new temp directory with the real scripts/start.js, the real node_modules (linked) and a src/index.ts. */
export function sandboxCheckout(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.mkdirSync(path.join(dir, 'scripts'));
  fs.copyFileSync(path.join(REPO_ROOT, 'scripts', 'start.js'), path.join(dir, 'scripts', 'start.js'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'junction');
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src', 'index.ts'), 'export {};\n');
  return dir;
}

/** Runs `dir`/scripts/start.js until the editor answers on `editorPort`, then stops it; fails if it exits first. Resolves with all it printed. */
export async function startUntilEditor(dir: string, editorPort: number, env: Record<string, string>): Promise<string> {
  const child: ChildProcess = spawn(process.execPath, [path.join(dir, 'scripts', 'start.js')], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => ((exited = true), resolve())));
  try {
    const end = Date.now() + 120_000;
    for (;;) {
      if (exited) throw new Error(`start.js exited before the editor answered:\n${output}`);
      if (await answers(editorPort)) break;
      if (Date.now() > end) throw new Error(`the editor never answered on ${editorPort}:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    if (!exited) child.kill('SIGTERM');
    await exit;
  }
  return output;
}
