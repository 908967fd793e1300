/**
 * The gateway under test, in its own process so its memory and CPU are measured alone.
 * Started by bench/gateway.ts over IPC: replies with the port, then answers stats requests.
 */
import { YkcServer } from '../src/gateway';
import { DEMO_TARIFF } from '../src/cli/serve';

const gw = new YkcServer({ autoTimeSync: false, recordConfirm: 'at-once', maxConnections: 50_000, loginTimeoutMs: 120_000 });
// Virtual piles need a billing model before they charge.
gw.setTariff(null, DEMO_TARIFF);
let frames = 0;
gw.on('frame', () => frames++);

const send = (m: unknown) => process.send?.(m);

process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'stats') {
    if (global.gc) global.gc();
    const mem = process.memoryUsage();
    send({ cmd: 'stats', rss: mem.rss, heapUsed: mem.heapUsed, cpu: process.cpuUsage(), online: gw.onlineCount(), connections: gw.connectionCount(), frames, counters: gw.counters });
  } else if (m.cmd === 'close') {
    gw.close().then(() => process.exit(0));
  }
});

gw.listen(0, '127.0.0.1').then((a) => {
  const mem = process.memoryUsage();
  send({ cmd: 'ready', port: a.port, baseRss: mem.rss });
});
