'use strict';
/**
 * `npm start`: a local Node-RED 4 with this pack loaded and the demo flow, for trying the pack
 * without hardware. The user directory lives in .node-red-user/ (git-ignored); the pack is linked
 * into it, so a rebuild (npm run build) is picked up on the next start.
 *
 *   npm start                      editor on http://127.0.0.1:1880
 *   PORT=1881 npm start            another port
 *   YKC_DEMO_RESET=1 npm start     start again from the shipped demo flow
 */
const fs = require('fs');
const path = require('path');
const { spawnSync, spawn } = require('child_process');

const root = path.join(__dirname, '..');
const userDir = path.join(root, '.node-red-user');
const port = Number(process.env.PORT || 1880);

if (!fs.existsSync(path.join(root, 'dist', 'nodes', 'ykc-server.js')) || process.env.YKC_REBUILD) {
  console.log('Building the pack (npm run build)…');
  const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status || 1);
}

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

const settings = path.join(userDir, 'settings.js');
fs.writeFileSync(
  settings,
  `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  flowFile: 'flows.json',
  userDir: ${JSON.stringify(userDir)},
  // The demo has no secrets worth encrypting; a fixed key keeps restarts quiet.
  credentialSecret: 'ykc-demo',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  // No consent dialog over the editor in the first minutes; turn it on in User Settings if you like.
  telemetry: { enabled: false, updateNotification: false },
};
`,
);

console.log(`Starting Node-RED with @openykc/node-red-ykc: editor http://127.0.0.1:${port}/  (dashboard: http://127.0.0.1:${port}/dashboard)`);
const red = require.resolve('node-red/red.js');
// Run inside the user directory: relative paths in flows (the demo's SQLite file) land there, not in the checkout.
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settings], { cwd: userDir, stdio: 'inherit' });
const stop = () => child.kill('SIGINT');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => process.exit(code ?? 0));
