/**
 * Packaging: `npm pack` holds what users need and nothing else, and the tarball installed into a
 * fresh Node-RED user directory (as the palette manager or `npm install` would) serves every node,
 * its icon, its help and catalogue in en-US and zh-CN, and the examples, which deploy and start.
 *
 * Packs the repository itself when the build under test is its dist/ (CI: npm run build first);
 * a helper's /tmp build is packed from a staging copy (package.json, README, LICENSE, bin,
 * examples and the whole build, tests included, so the `files` rules are what keeps them out).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import should from 'should';
import { REPO_ROOT } from '../support/repo';
import { deployable, exampleFiles, readExample } from '../browser/browser';
import { compiledRoot, httpGet, NodeRed, startNodeRed } from '../browser/nodered';

const MODULE = '@openykc/node-red-ykc';
const ALLOWED = [/^package\.json$/, /^README\.md$/, /^LICENSE$/, /^bin\//, /^examples\/[^/]+\.json$/, /^dist\/nodes\//, /^dist\/src\//];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

function packSource(): string {
  const compiled = compiledRoot();
  if (compiled === path.join(REPO_ROOT, 'dist')) return REPO_ROOT;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-stage-'));
  for (const f of ['package.json', 'README.md', 'LICENSE']) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(dir, f));
  for (const d of ['bin', 'examples']) fs.cpSync(path.join(REPO_ROOT, d), path.join(dir, d), { recursive: true });
  fs.cpSync(compiled, path.join(dir, 'dist'), { recursive: true });
  return dir;
}

function request(url: string, headers: Record<string, string> = {}) {
  return httpGet(url, headers);
}

describe('npm pack → install into a fresh Node-RED', function () {
  this.timeout(120_000);
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  const types = Object.keys(pkg['node-red'].nodes);
  let packed: PackResult;
  let tarball: string;
  let nr: NodeRed;

  before(async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-pack-out-'));
    // --ignore-scripts: prepack would rebuild (and clean) dist; the build under test is what gets packed.
    const json = execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: packSource(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    packed = JSON.parse(json)[0];
    tarball = path.join(out, packed.filename);

    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ykc-user-'));
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies: {} }));
    execFileSync(npm, ['install', tarball, '--no-audit', '--no-fund', '--offline', '--ignore-scripts', '--loglevel=error'], { cwd: userDir, stdio: ['ignore', 'pipe', 'pipe'] });
    nr = await startNodeRed({ userDir });
  });

  after(async () => {
    await nr?.stop();
  });

  it('the tarball holds the runtime, editor files, icons, locales, examples, CLI, README and licence, and nothing else', () => {
    const paths = packed.files.map((f) => f.path);
    const stray = paths.filter((p) => !ALLOWED.some((re) => re.test(p)));
    should(stray).eql([], `files users do not need: ${stray.join(', ')}`);
    should(paths.filter((p) => /^dist\/(test|bench)\//.test(p))).eql([]);
    for (const t of types) {
      for (const f of [`dist/nodes/${t}.js`, `dist/nodes/${t}.html`, `dist/nodes/icons/${t}.svg`]) should(paths).containEql(f);
      for (const lang of ['en-US', 'zh-CN']) for (const ext of ['json', 'html']) should(paths).containEql(`dist/nodes/locales/${lang}/${t}.${ext}`);
    }
    for (const f of exampleFiles()) should(paths).containEql(`examples/${f}`);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/ykc.js', 'dist/src/index.js', 'dist/src/index.d.ts']) should(paths).containEql(f);
    // eslint-disable-next-line no-console
    console.log(`      ${packed.filename}: ${packed.files.length} files, ${(packed.size / 1024).toFixed(1)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(1)} KiB unpacked`);
  });

  it('package.json passes the flow-library checks: licence, repository, keywords, node-red.version, engines, no runtime dependencies', () => {
    should(pkg.name).match(/^@[a-z0-9-]+\/node-red-/);
    should(pkg.license).equal('Apache-2.0');
    should(fs.existsSync(path.join(REPO_ROOT, 'LICENSE'))).be.true();
    should(pkg.repository.url).match(/^https:\/\/github\.com\//);
    should(pkg.bugs.url).be.a.String();
    should(pkg.keywords).containEql('node-red');
    should(pkg['node-red'].version).equal('>=4.0.0');
    should(pkg.engines.node).equal('>=20');
    should(Object.keys(pkg.dependencies ?? {})).eql([]);
  });

  it('Node-RED loads every node from the installed package, none with an error', async () => {
    const res = await request(`${nr.url}/nodes`, { Accept: 'application/json' });
    should(res.status).equal(200);
    const sets = (JSON.parse(res.text) as Array<{ module: string; name: string; types: string[]; enabled: boolean; err?: string; version: string }>).filter((s) => s.module === MODULE);
    should(sets.map((s) => s.name).sort()).eql([...types].sort());
    for (const s of sets) {
      should(s.err).be.undefined();
      should(s).match({ enabled: true, version: pkg.version });
      should(s.types).eql([s.name]);
    }
    should(nr.log()).not.match(/\[(warn|error)\].*node-red-ykc/);
  });

  it('serves the editor files with help in en-US and zh-CN', async () => {
    for (const lang of ['en-US', 'zh-CN']) {
      // The editor asks with its browser's language (Accept-Language), as here.
      const res = await request(`${nr.url}/nodes`, { Accept: 'text/html', 'Accept-Language': lang });
      should(res.status).equal(200);
      const missing = types.filter((t) => !res.text.includes(`data-template-name="${t}"`) || !res.text.includes(`data-help-name="${t}"`));
      should(missing).eql([], `${lang}: no dialog or help for ${missing.join(', ')}`);
      const ykcHelp = res.text.slice(res.text.indexOf('data-help-name="ykc-start"'));
      if (lang === 'zh-CN') should(ykcHelp.slice(0, 400)).match(/[\u4e00-\u9fff]/);
    }
  });

  it('serves every icon and both message catalogues of every node', async () => {
    const icons = JSON.parse((await request(`${nr.url}/icons`, { Accept: 'application/json' })).text) as Record<string, string[]>;
    for (const t of types) should(icons[MODULE]).containEql(`${t}.svg`);
    for (const t of types) {
      const svg = await request(`${nr.url}/icons/${MODULE}/${t}.svg`);
      should(svg.status).equal(200);
      should(svg.text).match(/<svg[^>]*viewBox="0 0 40 60"/);
      for (const lang of ['en-US', 'zh-CN']) {
        const cat = await request(`${nr.url}/locales/${MODULE}/${t}?lng=${lang}`);
        should(cat.status).equal(200);
        // Node-RED's i18next serves "x_plural" keys as "x_other".
        const file = fs.readFileSync(path.join(REPO_ROOT, 'nodes', 'locales', lang, `${t}.json`), 'utf8').replace(/_plural"/g, '_other"');
        should(JSON.parse(cat.text)).eql(JSON.parse(file), `${t} ${lang}`);
      }
    }
  });

  it('lists the examples under Import → Examples, and each one comes back as shipped', async () => {
    const modules = JSON.parse((await request(`${nr.url}/library/examples/flows/`)).text) as string[];
    should(modules).containEql(MODULE);
    const entries = JSON.parse((await request(`${nr.url}/library/examples/flows/${MODULE}/`)).text) as Array<{ fn: string }>;
    const names = entries.map((e) => e.fn);
    for (const f of exampleFiles()) {
      const base = f.replace(/\.json$/, '');
      should(names).containEql(base);
      const flow = await request(`${nr.url}/library/examples/flows/${MODULE}/${encodeURIComponent(base)}`);
      should(flow.status).equal(200);
      should(JSON.parse(flow.text)).eql(readExample(f));
    }
  });

  it('every example deploys on the installed package and starts without an error', async () => {
    const flows = await deployable(exampleFiles().flatMap(readExample));
    const before = nr.log().length;
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const body = Buffer.from(JSON.stringify({ flows }));
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const req = (require('http') as typeof import('http')).request(
        `${nr.url}/flows`,
        { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': body.length, 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' } },
        (r) => {
          let text = '';
          r.on('data', (c: Buffer) => (text += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    should(res.status).equal(200, res.text);
    const log = await nr.waitForLog(/Started flows/, before);
    should(log).not.match(/missing types|Unknown type|\[error\]/);
    const deployed = JSON.parse((await request(`${nr.url}/flows`, { 'Node-RED-API-Version': 'v2' })).text).flows as Array<{ type: string }>;
    for (const t of types) should(deployed.some((n) => n.type === t)).equal(true, `no ${t} deployed`);
  });
});
