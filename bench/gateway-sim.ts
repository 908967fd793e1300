/**
 * The gateway under a fleet of virtual piles (src/simulator), the real pile behaviour rather than
 * raw sockets: logins, billing-model flow, heartbeats per gun, realtime data, charge sessions and
 * records, at real time (speed 1). Prints piles online, frames/s, the piles' missed heartbeat
 * replies (heartbeat timeouts and reconnects seen by the piles), records confirmed, gateway RSS
 * per pile and CPU. The heartbeat reply latency percentiles come from bench/gateway.ts.
 *
 *   node dist/bench/gateway-sim.js [--piles 10000] [--guns 1] [--ramp-seconds 20] [--duration 60]
 */
import { fork } from 'child_process';
import * as path from 'path';
import { Fleet } from '../src/simulator';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const PILES = Number(flag('piles', '10000'));
const GUNS = Number(flag('guns', '1'));
const RAMP_S = Number(flag('ramp-seconds', '20'));
const DURATION_S = Number(flag('duration', '60'));

interface GwStats {
  rss: number;
  cpu: { user: number; system: number };
  online: number;
  frames: number;
  counters: Record<string, number>;
}

(async () => {
  const child = fork(path.join(__dirname, 'gateway-server.js'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ port: number }>((r) => child.once('message', (m) => r(m as { port: number })));
  const ask = () =>
    new Promise<GwStats>((resolve) => {
      const on = (m: { cmd: string } & GwStats) => {
        if (m.cmd === 'stats') {
          child.off('message', on);
          resolve(m);
        }
      };
      child.on('message', on);
      child.send({ cmd: 'stats' });
    });
  const idle = await ask();
  console.log(`gateway + virtual-pile fleet: ${PILES} piles × ${GUNS} gun(s), real time, ramp ${RAMP_S} s, measured ${DURATION_S} s`);
  const fleet = new Fleet({ port: ready.port, piles: PILES, guns: GUNS, scenario: 'charge', speed: 1, connectSpreadMs: RAMP_S * 1000, seed: 7 });
  const t0 = Date.now();
  fleet.start();
  let online = 0;
  while (Date.now() - t0 < (RAMP_S + 30) * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    online = fleet.stats().online;
    if (online === PILES) break;
  }
  const rampS = (Date.now() - t0) / 1000;
  const before = await ask();
  const s0 = fleet.stats();
  const m0 = Date.now();
  await new Promise((r) => setTimeout(r, DURATION_S * 1000));
  const after = await ask();
  const s1 = fleet.stats();
  const secs = (Date.now() - m0) / 1000;
  const cpuS = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1e6;
  console.log(
    JSON.stringify({
      piles: PILES,
      guns: GUNS,
      onlineAfterRamp: online,
      rampSeconds: +rampS.toFixed(1),
      onlineAtEnd: s1.online,
      gatewayOnline: after.online,
      measureSeconds: +secs.toFixed(1),
      gatewayFramesPerSecond: +((after.frames - before.frames) / secs).toFixed(0),
      pileHeartbeatTimeouts: s1.heartbeatTimeouts - s0.heartbeatTimeouts,
      pileReconnects: s1.reconnects - s0.reconnects,
      sessionsStarted: s1.sessionsStarted - s0.sessionsStarted,
      recordsSent: s1.recordsSent - s0.recordsSent,
      recordsConfirmed: s1.recordsConfirmed - s0.recordsConfirmed,
      gatewayRssMB: +(after.rss / 1048576).toFixed(1),
      gatewayRssPerPileKB: +((after.rss - idle.rss) / PILES / 1024).toFixed(1),
      gatewayCpuPercent: +((cpuS / secs) * 100).toFixed(1),
      loadGeneratorRssMB: +(process.memoryUsage().rss / 1048576).toFixed(0),
    }),
  );
  await fleet.close();
  child.send({ cmd: 'close' });
  await new Promise((r) => child.once('exit', r));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
