/**
 * `npm start` (scripts/start.js) as a child process, in a sandbox that looks like a checkout: the real
 * script, the real node_modules (linked), a package.json whose "build" script only records that it ran
 * and writes dist/nodes/ykc-server.js. Node-RED really starts each time; the test waits until the
 * editor answers over HTTP, then stops it with SIGTERM.
 *
 * Proves: a build when dist/ is missing and again when a source is newer than the build, none when
 * nothing changed; settings.js written from HOST / PORT while it is ours (also the fixed-port file
 * older versions wrote), and kept byte for byte once the user edited it.
 */
import * as fs from 'fs';
import * as path from 'path';
import should from 'should';
import { freePort } from '../support/ports';
import { sandboxCheckout, startUntilEditor as runStart } from '../support/start-script';

interface Run {
  output: string;
}

describe('npm start (scripts/start.js)', function () {
  this.timeout(180_000);
  let dir: string;
  let settings: string;
  const builds = () => (fs.existsSync(path.join(dir, 'build.log')) ? fs.readFileSync(path.join(dir, 'build.log'), 'utf8').trim().split('\n').length : 0);

  /** Runs start.js until the editor answers on `editorPort`, then stops it; fails if it exits first. */
  const startUntilEditor = async (editorPort: number, env: Record<string, string>): Promise<Run> => ({ output: await runStart(dir, editorPort, env) });

  before(() => {
    dir = sandboxCheckout('ykc-start-');
    fs.writeFileSync(
      path.join(dir, 'build.js'),
      "const fs = require('fs');\nfs.mkdirSync('dist/nodes', { recursive: true });\nfs.writeFileSync('dist/nodes/ykc-server.js', '');\nfs.appendFileSync('build.log', 'built\\n');\n",
    );
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'sandbox', private: true, scripts: { build: 'node build.js' } }));
    settings = path.join(dir, '.node-red-user', 'settings.js');
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('first start: builds (no dist/), replaces the fixed-port settings.js of older versions, listens on HOST:PORT', async () => {
    // What start.js wrote before (up to 0.1.0), verbatim: port and directory fixed in the file.
    fs.mkdirSync(path.dirname(settings), { recursive: true });
    fs.writeFileSync(
      settings,
      `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: 1880,
  flowFile: 'flows.json',
  userDir: ${JSON.stringify(path.join(dir, '.node-red-user'))},
  // The demo has no secrets worth encrypting; a fixed key keeps restarts quiet.
  credentialSecret: 'ykc-demo',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  // No consent dialog over the editor in the first minutes; turn it on in User Settings if you like.
  telemetry: { enabled: false, updateNotification: false },
};
`,
    );

    const port = await freePort();
    const run = await startUntilEditor(port, { PORT: String(port), HOST: '127.0.0.1' });
    should(builds()).equal(1);
    should(run.output).match(new RegExp(`editor http://127\\.0\\.0\\.1:${port}/`));
    const text = fs.readFileSync(settings, 'utf8');
    should(text).match(/^\/\/ Written by scripts\/start\.js \(sha256 [0-9a-f]{64}\)/);
    should(text).match(/uiHost: process\.env\.HOST/);
    should(text).match(/uiPort: Number\(process\.env\.PORT/);
  });

  it('keeps a settings.js the user edited, byte for byte, and does not rebuild when nothing changed', async () => {
    const mine = await freePort();
    const edited = fs
      .readFileSync(settings, 'utf8')
      .replace(/uiPort: Number\(process\.env\.PORT \|\| 1880\)/, `uiPort: ${mine}`)
      .concat('// my own settings\n');
    fs.writeFileSync(settings, edited);
    const other = await freePort();
    const run = await startUntilEditor(mine, { PORT: String(other) });
    should(fs.readFileSync(settings, 'utf8')).equal(edited);
    should(run.output).match(/Keeping \.node-red-user\/settings\.js: you edited it/);
    should(builds()).equal(1);
  });

  it('rebuilds when a source is newer than the build', async () => {
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dir, 'src', 'index.ts'), later, later);
    const port = Number(/uiPort: (\d+)/.exec(fs.readFileSync(settings, 'utf8'))![1]);
    const run = await startUntilEditor(port, {});
    should(builds()).equal(2);
    should(run.output).match(/Sources changed since the last build: rebuilding/);
  });
});
