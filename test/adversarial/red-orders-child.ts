/**
 * A real Node-RED 4 runtime as a child process running examples/orders-alarms.json — its MQTT nodes
 * swapped for inactive debug nodes, the gateway's port and thresholds set by the test — with file
 * nodes appending every output of ykc orders as JSON lines (test/adversarial/red-orders-kill.spec.ts
 * kills it with SIGKILL mid-charge and starts it again on the same user directory).
 *   node red-orders-child.js <userDir> <ykcPort> <statesFile> <alarmsFile>
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { nodesDir, serverNode } from '../support/red-child';
import { REPO_ROOT } from '../support/repo';

const [userDir, ykcPort, statesFile, alarmsFile] = process.argv.slice(2);
const NODES = ['ykc-server', 'ykc-in', 'ykc-billing', 'ykc-confirm', 'ykc-orders'];

async function main(): Promise<void> {
  const example = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'orders-alarms.json'), 'utf8')) as Array<Record<string, unknown>>;
  const file = (id: string, filename: string) => ({ id, type: 'file', z: 'ykc-example-orders', filename, filenameType: 'str', appendNewline: true, createDir: true, overwriteFile: 'false', encoding: 'utf8', wires: [[]] });
  const flow: Array<Record<string, unknown>> = example
    .filter((n) => n.type !== 'mqtt in' && n.type !== 'mqtt-broker')
    .map((n) => {
      if (n.type === 'mqtt out') return { id: n.id, type: 'debug', z: n.z, active: false, wires: [] };
      if (n.type === 'ykc-server') return { ...n, port: Number(ykcPort), autoTimeSync: false };
      if (n.type === 'ykc-orders') {
        const w = n.wires as string[][];
        return { ...n, offlineWhileCharging: 1, realtimeSilent: 30, wires: [[...w[0], 'red.states'], [...w[1], 'red.alarms'], w[2]] };
      }
      return n;
    });
  flow.push(file('red.states', statesFile), file('red.alarms', alarmsFile));
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require('node-red');
  RED.init(http.createServer(), {
    userDir,
    flowFile: 'flows.json',
    nodesDir: [nodesDir(userDir, NODES, { locales: false })],
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    credentialSecret: false,
    logging: { console: { level: process.env.RED_LOG ?? 'error', metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
  });
  await RED.start();
  const id = example.find((n) => n.type === 'ykc-server')!.id as string;
  await serverNode(RED, id, { also: () => !!RED.nodes.getNode('orders.watch') });
  process.stdout.write('ready\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
