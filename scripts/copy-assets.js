'use strict';
// Node-RED looks for the editor html, locales and icons next to each runtime .js file,
// so they are copied beside the compiled nodes in dist/nodes.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'dist', 'nodes');
fs.mkdirSync(out, { recursive: true });
for (const f of fs.readdirSync(path.join(root, 'nodes'))) {
  if (f.endsWith('.html')) fs.copyFileSync(path.join(root, 'nodes', f), path.join(out, f));
}
const copyDir = (from, to) => {
  if (fs.existsSync(from)) fs.cpSync(from, to, { recursive: true });
};
copyDir(path.join(root, 'nodes', 'locales'), path.join(out, 'locales'));
copyDir(path.join(root, 'icons'), path.join(out, 'icons'));
// Plugins (the editor's YKC sidebar): their html and catalogues beside their .js in dist/nodes/plugins.
const plugins = path.join(root, 'nodes', 'plugins');
if (fs.existsSync(plugins)) {
  fs.mkdirSync(path.join(out, 'plugins'), { recursive: true });
  for (const f of fs.readdirSync(plugins)) {
    if (f.endsWith('.html')) fs.copyFileSync(path.join(plugins, f), path.join(out, 'plugins', f));
  }
  copyDir(path.join(plugins, 'locales'), path.join(out, 'plugins', 'locales'));
}
