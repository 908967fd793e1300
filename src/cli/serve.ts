/**
 * `ykc serve`: the gateway alone with its automatic replies, printing one JSON line per event or
 * frame on stdout — a protocol debugger for site owners. SIGINT / SIGTERM close it cleanly.
 */
import * as fs from 'fs';
import { GatewayOptions, RecordConfirmMode, YkcServer } from '../gateway';
import { DEFAULT_TARIFF, TariffBody } from '../billing';
import { intFlag, parseArgs } from './args';
import { CliIo } from './io';

/** The built-in tariff (src/billing/default-tariff.ts) so piles can charge out of the box. */
export const DEMO_TARIFF: TariffBody = DEFAULT_TARIFF;

const USAGE = `usage: ykc serve [--host 127.0.0.1] [--port 8768] [--allow PILE,PILE…] [--confirm at-once|after-store|never]
                 [--tariff tariff.json] [--raw] [--heartbeats] [--no-time-sync] [--admit-rate 1000]
Prints one JSON line per event: listening, connection, login, online, offline, frame, record, problem, close.`;

export async function run(args: string[], io: CliIo): Promise<number> {
  let opts: Partial<GatewayOptions>;
  let host: string;
  let port: number;
  let tariff: TariffBody = DEMO_TARIFF;
  const { flags } = parseArgs(args);
  if (flags.help || flags.h) {
    io.out(USAGE);
    return 0;
  }
  try {
    host = typeof flags.host === 'string' ? flags.host : '127.0.0.1';
    port = intFlag(flags, 'port', 8768, 0, 65535);
    const confirm = (typeof flags.confirm === 'string' ? flags.confirm : 'at-once') as RecordConfirmMode;
    if (!['at-once', 'after-store', 'never'].includes(confirm)) throw new Error(`--confirm must be at-once, after-store or never, got ${confirm}`);
    if (typeof flags.tariff === 'string') tariff = JSON.parse(fs.readFileSync(flags.tariff, 'utf8')) as TariffBody;
    const allow = typeof flags.allow === 'string' ? flags.allow.split(',').map((s) => s.trim()).filter(Boolean) : [];
    for (const p of allow) if (!/^\d{14}$/.test(p)) throw new Error(`--allow takes 14-digit pile numbers, got ${p}`);
    opts = {
      loginPolicy: allow.length ? 'allowlist' : 'all',
      allowlist: allow,
      recordConfirm: confirm,
      autoTimeSync: !flags['no-time-sync'],
      // New connections read per second; a burst beyond it waits its turn (admitPerSecond).
      admitPerSecond: intFlag(flags, 'admit-rate', 1000, 1, 1_000_000),
    };
  } catch (e) {
    io.err(JSON.stringify({ code: 'YKC_INPUT', message: (e as Error).message }));
    io.err(USAGE);
    return 2;
  }

  const gw = new YkcServer(opts);
  gw.setTariff(null, tariff);
  gw.includeRaw = !!flags.raw;
  const showHeartbeats = !!flags.heartbeats;
  const line = (event: string, data: object) => io.out(JSON.stringify({ event, at: new Date().toISOString(), ...data }));
  gw.on('connection', (e) => line('connection', e));
  gw.on('login', (e) => line('login', e));
  gw.on('online', (e) => line('online', e));
  gw.on('offline', (e) => line('offline', e));
  gw.on('frame', (e) => {
    if (!showHeartbeats && e.frame.type === 0x03) return;
    line('frame', e);
  });
  gw.on('record', (e) => line('record', e));
  gw.on('recordDuplicate', (e) => line('recordDuplicate', e));
  gw.on('recordForeign', (e) => line('recordForeign', e));
  gw.on('gunState', (e) => line('gunState', e));
  gw.on('problem', (e) => line('problem', e));
  if (flags.raw) gw.on('sent', (e) => line('sent', e));

  try {
    const addr = await gw.listen(port, host);
    line('listening', { host: addr.address, port: addr.port });
  } catch (e) {
    io.err(JSON.stringify({ code: (e as { code?: string }).code ?? 'YKC_LISTEN', message: (e as Error).message }));
    await gw.close();
    return 1;
  }
  await new Promise<void>((resolve) => io.onStop(resolve));
  await gw.close();
  line('close', { counters: gw.counters });
  return 0;
}
