'use strict';
/**
 * `npm start`: a local Node-RED 4 with this pack loaded and the demo flow, for trying the pack
 * without hardware. The user directory lives in .node-red-user/ (git-ignored); the pack is linked
 * into it, and rebuilt here whenever a source is newer than the build.
 *
 *   npm start                      editor on http://127.0.0.1:1880
 *   PORT=1881 npm start            another port
 *   HOST=0.0.0.0 npm start         the editor reachable from other machines (it has no login: think first)
 *   YKC_DEMO_RESET=1 npm start     start again from the shipped demo flow
 *   YKC_REBUILD=1 npm start        rebuild even if the build looks current
 *
 * settings.js is written only while it is absent or still exactly what this script wrote (a marker line
 * carries a hash of the rest): once you edit it, it is yours and is kept as it is.
 */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawnSync, spawn } = require('child_process');

const root = path.join(__dirname, '..');
const userDir = path.join(root, '.node-red-user');
const port = Number(process.env.PORT || 1880);
const host = process.env.HOST || '127.0.0.1';

// ---- build when dist/ is missing or older than any source --------------------------------------

/** Newest modification time under dir (files only), 0 when it does not exist. */
function newest(p) {
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const name of fs.readdirSync(p)) max = Math.max(max, newest(path.join(p, name)));
  return max;
}

// Every build starts from an empty dist/ (scripts/clean.js), so one compiled file dates the whole build.
const built = path.join(root, 'dist', 'nodes', 'ykc-server.js');
const builtAt = fs.existsSync(built) ? fs.statSync(built).mtimeMs : 0;
const sources = ['src', 'nodes', 'icons', 'tsconfig.json', path.join('scripts', 'copy-assets.js')];
const sourcesAt = Math.max(...sources.map((s) => newest(path.join(root, s))));
if (!builtAt || sourcesAt > builtAt || process.env.YKC_REBUILD) {
  console.log(builtAt ? 'Sources changed since the last build: rebuilding (npm run build)…' : 'Building the pack (npm run build)…');
  const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) process.exit(r.status || 1);
}

// ---- the user directory ------------------------------------------------------------------------

fs.mkdirSync(path.join(userDir, 'node_modules', '@openykc'), { recursive: true });
const link = path.join(userDir, 'node_modules', '@openykc', 'node-red-ykc');
try {
  fs.lstatSync(link);
} catch {
  fs.symlinkSync(root, link, 'junction');
}
// Node-RED only scans packages listed in the user directory's package.json.
const pkgFile = path.join(userDir, 'package.json');
const pkg = fs.existsSync(pkgFile) ? JSON.parse(fs.readFileSync(pkgFile, 'utf8')) : { name: 'node-red-ykc-demo', private: true, dependencies: {} };
pkg.dependencies = pkg.dependencies || {};
pkg.dependencies['@openykc/node-red-ykc'] = 'file:..';
fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));

const flows = path.join(userDir, 'flows.json');
const demo = path.join(root, 'examples', 'demo.json');
if ((!fs.existsSync(flows) || process.env.YKC_DEMO_RESET) && fs.existsSync(demo)) fs.copyFileSync(demo, flows);
else if (oldDemo(flows)) {
  // flows.json is kept across updates, so a checkout updated from before DEMO_PILES still runs the old
  // demo, whose schedule starts and stops every pile online on the gateway — real ones included.
  console.warn(
    'WARNING: .node-red-user/flows.json holds an older demo flow that commands EVERY pile on its gateway, real piles\n' +
      'included (no DEMO_PILES on the tab "YKC demo"). Run `YKC_DEMO_RESET=1 npm start` once to replace it with the\n' +
      'current demo (your other tabs are replaced too: export them first), or disable that tab before piles connect.\n' +
      '警告: .node-red-user/flows.json 中是旧版演示流程, 会对网关上的所有充电桩(包括真实充电桩)远程启停。请执行一次\n' +
      '`YKC_DEMO_RESET=1 npm start` 换成当前演示(其他标签页也会被替换, 请先导出), 或在充电桩接入前停用该标签页。',
  );
}

/** True when flows.json has the demo tab from before the demo commanded only its own piles (no DEMO_PILES). */
function oldDemo(file) {
  let nodes;
  try {
    nodes = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
  if (!Array.isArray(nodes)) return false;
  const tab = nodes.find((n) => n && n.type === 'tab' && n.id === 'ykc-demo');
  if (!tab || tab.disabled) return false;
  return !(Array.isArray(tab.env) && tab.env.some((e) => e && e.name === 'DEMO_PILES'));
}

// ---- settings.js: ours until you edit it -------------------------------------------------------

const SETTINGS_BODY = `module.exports = {
  // npm start passes HOST and PORT from the environment (default 127.0.0.1:1880).
  uiHost: process.env.HOST || '127.0.0.1',
  uiPort: Number(process.env.PORT || 1880),
  flowFile: 'flows.json',
  userDir: __dirname,
  // The demo has no secrets worth encrypting; a fixed key keeps restarts quiet.
  credentialSecret: 'ykc-demo',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  // No consent dialog over the editor in the first minutes; turn it on in User Settings if you like.
  telemetry: { enabled: false, updateNotification: false },
};
`;
const MARKER = /^\/\/ Written by scripts\/start\.js \(sha256 ([0-9a-f]{64})\)\.[^\n]*\n/;
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
const generated = `// Written by scripts/start.js (sha256 ${sha(SETTINGS_BODY)}). Edit freely: once changed, npm start keeps this file.\n${SETTINGS_BODY}`;

/** What start.js wrote before the marker existed (port and directory fixed in the file): still ours. */
function legacy(text) {
  const m = /^ {2}uiPort: (\d+),$/m.exec(text);
  return !!m && text === legacyBody(m[1]);
}
function legacyBody(p) {
  return `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${p},
  flowFile: 'flows.json',
  userDir: ${JSON.stringify(userDir)},
  // The demo has no secrets worth encrypting; a fixed key keeps restarts quiet.
  credentialSecret: 'ykc-demo',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  // No consent dialog over the editor in the first minutes; turn it on in User Settings if you like.
  telemetry: { enabled: false, updateNotification: false },
};
`;
}

const settings = path.join(userDir, 'settings.js');
const current = fs.existsSync(settings) ? fs.readFileSync(settings, 'utf8') : null;
const marked = current === null ? null : MARKER.exec(current);
const ours = current === null || legacy(current) || (!!marked && sha(current.slice(marked[0].length)) === marked[1]);
if (ours) {
  if (current !== generated) fs.writeFileSync(settings, generated);
} else {
  console.log(`Keeping ${path.relative(root, settings)}: you edited it (HOST / PORT apply only where it reads them).`);
}

const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
console.log(
  ours
    ? `Starting Node-RED with @openykc/node-red-ykc: editor http://${shown}:${port}/  (dashboard: http://${shown}:${port}/dashboard)`
    : 'Starting Node-RED with @openykc/node-red-ykc (address and port as your settings.js says).',
);
const red = require.resolve('node-red/red.js');
// Run inside the user directory: relative paths in flows (the demo's SQLite file) land there, not in the checkout.
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settings], {
  cwd: userDir,
  stdio: 'inherit',
  env: { ...process.env, HOST: host, PORT: String(port) },
});
const stop = () => child.kill('SIGINT');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => process.exit(code ?? 0));
