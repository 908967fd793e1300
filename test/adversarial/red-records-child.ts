/**
 * A real Node-RED 4 runtime as a child process running examples/records-sqlite.json unchanged but for
 * the gateway's port and the database file (test/adversarial/red-records-kill.spec.ts kills it with
 * SIGKILL at arbitrary moments). Writes "ready" to stdout once the gateway listens.
 *   node red-records-child.js <userDir> <ykcPort> <dbFile>
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { nodesDir, serverNode } from '../support/red-child';
import { REPO_ROOT } from '../support/repo';

const [userDir, ykcPort, dbFile] = process.argv.slice(2);
const NODES = ['ykc-server', 'ykc-in', 'ykc-billing', 'ykc-confirm'];

function withSqlite(): string {
  const dir = nodesDir(userDir, NODES, { locales: false });
  const sqlite = path.dirname(require.resolve('node-red-node-sqlite/package.json'));
  fs.writeFileSync(path.join(dir, 'sqlite.js'), `module.exports = require(${JSON.stringify(path.join(sqlite, 'sqlite.js'))});\n`);
  fs.copyFileSync(path.join(sqlite, 'sqlite.html'), path.join(dir, 'sqlite.html'));
  return dir;
}

async function main(): Promise<void> {
  const example = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'records-sqlite.json'), 'utf8')) as Array<Record<string, unknown>>;
  const flow = example.map((n) => {
    if (n.type === 'ykc-server') return { ...n, host: '127.0.0.1', port: ykcPort };
    if (n.type === 'sqlitedb') return { ...n, db: dbFile, mode: 'RWC' };
    return n;
  });
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require('node-red');
  RED.init(http.createServer(), {
    userDir,
    flowFile: 'flows.json',
    nodesDir: [withSqlite()],
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    credentialSecret: false,
    logging: { console: { level: 'error', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
  });
  await RED.start();
  const id = example.find((n) => n.type === 'ykc-server')!.id as string;
  await serverNode(RED, id);
  process.stdout.write('ready\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
