/**
 * `ykc serve`: the gateway alone with its automatic replies, printing one JSON line per event or
 * frame on stdout — a protocol debugger for site owners. SIGINT / SIGTERM close it cleanly.
 */
import * as fs from 'fs';
import { FrameEvent, GatewayOptions, RecordConfirmMode, RecordEvent, YkcServer } from '../gateway';
import { captureLine } from '../gateway/capture';
import { DEFAULT_TARIFF, Tariff, TariffBody } from '../billing';
import { YkcError } from '../protocol';
import { checkFlagValues, checkKnownFlags, errorJson, intFlag, parseArgs } from './args';
import { CliIo } from './io';

/** The built-in tariff (src/billing/default-tariff.ts) so piles can charge out of the box. */
export const DEMO_TARIFF: TariffBody = DEFAULT_TARIFF;

const USAGE = `usage: ykc serve [--host 127.0.0.1] [--port 8768] [--allow PILE,PILE…] [--confirm at-once|never]
                 [--records FILE] [--capture FILE] [--tariff tariff.json] [--raw] [--heartbeats] [--no-time-sync] [--admit-rate 1000]
Prints one JSON line per event: listening, connection, login, online, offline, frame, record, stored, problem, close.
--records FILE appends each transaction record to FILE as a JSON line, makes it durable (fsync), and only
then acknowledges it to the pile (0x40); a record that cannot be written is not acknowledged (the pile resends).
--capture FILE appends every frame, both directions and heartbeats included, as capture lines
({"at","dir":"in"|"out","pileNo","hex"}) for \`ykc decode FILE\` and \`ykc replay FILE\`.`;

const OPTIONS = ['host', 'port', 'allow', 'confirm', 'records', 'capture', 'tariff', 'raw', 'heartbeats', 'no-time-sync', 'admit-rate'];
/** Options that take no value (the rest need one). */
const SWITCHES = ['raw', 'heartbeats', 'no-time-sync'];

/** Capture bytes waiting for the disk before lines are dropped (and counted) instead of queued. */
export const CAPTURE_MAX_BUFFERED = 8 * 1024 * 1024;

/** The --tariff file, checked as the gateway will use it: unreadable, not JSON or not a tariff → exit 2. */
function readTariff(file: string): TariffBody {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new YkcError('YKC_INPUT', `--tariff ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new YkcError('YKC_TARIFF', `--tariff ${file}: not JSON (${(e as Error).message})`, { file });
  }
  try {
    return Tariff.from(parsed).toBody();
  } catch (e) {
    throw new YkcError('YKC_TARIFF', `--tariff ${file}: ${(e as Error).message}`, { file });
  }
}

export async function run(args: string[], io: CliIo): Promise<number> {
  let opts: Partial<GatewayOptions>;
  let host: string;
  let port: number;
  let tariff: TariffBody = DEMO_TARIFF;
  let recordsFd: number | null = null;
  let capture: fs.WriteStream | null = null;
  const { flags, positional } = parseArgs(args, SWITCHES);
  if (flags.help || flags.h) {
    io.out(USAGE);
    return 0;
  }
  try {
    checkKnownFlags(flags, OPTIONS);
    checkFlagValues(flags, SWITCHES);
    if (positional.length) throw new Error(`unexpected argument ${positional[0]}`);
    host = typeof flags.host === 'string' ? flags.host : '127.0.0.1';
    port = intFlag(flags, 'port', 8768, 0, 65535);
    if (flags.records !== undefined && typeof flags.records !== 'string') throw new Error('--records needs a file name');
    const records = typeof flags.records === 'string' ? flags.records : null;
    if (flags.confirm === 'after-store' && !records) {
      throw new Error('--confirm after-store needs a store: use --records FILE (each record is written and made durable, then acknowledged)');
    }
    if (records && flags.confirm !== undefined && flags.confirm !== 'after-store') throw new Error(`--records acknowledges each record after writing it; it cannot be combined with --confirm ${String(flags.confirm)}`);
    const confirm = (records ? 'after-store' : typeof flags.confirm === 'string' ? flags.confirm : 'at-once') as RecordConfirmMode;
    if (!['at-once', 'after-store', 'never'].includes(confirm)) throw new Error(`--confirm must be at-once or never (or give --records FILE), got ${String(flags.confirm)}`);
    if (flags.tariff !== undefined) {
      if (typeof flags.tariff !== 'string') throw new Error('--tariff needs a file name');
      tariff = readTariff(flags.tariff);
    }
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
    if (flags.capture !== undefined) {
      if (typeof flags.capture !== 'string') throw new Error('--capture needs a file name');
      try {
        // Opened now so a bad path is a usage error, not a surprise at the first frame.
        capture = fs.createWriteStream('', { fd: fs.openSync(flags.capture, 'a') });
      } catch (e) {
        throw new YkcError('YKC_STORE', `--capture ${flags.capture}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: flags.capture });
      }
    }
    if (records) {
      try {
        recordsFd = fs.openSync(records, 'a');
      } catch (e) {
        throw new YkcError('YKC_STORE', `--records ${records}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: records });
      }
    }
  } catch (e) {
    io.err(errorJson(e));
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
  gw.on('record', (e) => {
    line('record', e);
    if (recordsFd !== null && e.held) store(e);
  });
  /** One JSON line per record, fsync'd, then the 0x40: a record is acknowledged only once it is durable. */
  // A write that failed part way left a line without its end: the next record starts on a new line.
  let torn = false;
  const store = (e: RecordEvent): void => {
    const tradeNo = String(e.frame.body.tradeNo);
    const text = JSON.stringify({ storedAt: new Date().toISOString(), pileNo: e.pileNo, tradeNo, id: e.id, version: e.version, frame: e.frame }) + '\n';
    const buf = Buffer.from(torn ? '\n' + text : text);
    let written = 0;
    try {
      // writeSync may write only part (a disk that fills up, a file size limit) and say so only in its
      // return value: a record is durable when every byte is written, and only then acknowledged.
      while (written < buf.length) written += fs.writeSync(recordsFd!, buf, written, buf.length - written);
      torn = false;
      fs.fsyncSync(recordsFd!);
    } catch (err) {
      if (written > 0 && written < buf.length) torn = true;
      line('problem', { code: 'YKC_STORE', message: `record ${tradeNo} of pile ${e.pileNo} not written (${(err as Error).message}): not acknowledged, the pile will resend it`, pileNo: e.pileNo, tradeNo });
      return;
    }
    try {
      line('stored', { id: e.id, ...gw.confirm({ tradeNo, pileNo: e.pileNo ?? undefined, id: e.id }) });
    } catch (err) {
      line('problem', { code: (err as YkcError).code ?? 'YKC_INPUT', message: (err as Error).message, pileNo: e.pileNo, tradeNo });
    }
  };
  gw.on('recordDuplicate', (e) => line('recordDuplicate', e));
  gw.on('recordForeign', (e) => line('recordForeign', e));
  gw.on('gunState', (e) => line('gunState', e));
  gw.on('problem', (e) => line('problem', e));
  if (flags.raw) gw.on('sent', (e) => line('sent', e));
  if (capture) {
    const out = capture;
    let dropped = 0;
    const captureFrame = (dir: 'in' | 'out') => (e: FrameEvent) => {
      const l = captureLine(dir, e);
      if (!l) return;
      if (out.writableLength > CAPTURE_MAX_BUFFERED) {
        if (dropped++ === 0) line('problem', { code: 'YKC_STORE', message: `--capture: the disk is slower than the traffic; frames are dropped from the capture (more than ${CAPTURE_MAX_BUFFERED} bytes waiting)` });
        return;
      }
      out.write(JSON.stringify(l) + '\n');
    };
    for (const ev of ['frame', 'record', 'recordDuplicate', 'recordForeign'] as const) gw.on(ev, captureFrame('in'));
    gw.on('sent', captureFrame('out'));
    out.on('error', (err) => line('problem', { code: 'YKC_STORE', message: `--capture: ${err.message}` }));
  }
  const closeCapture = () => new Promise<void>((resolve) => (capture ? capture.end(() => resolve()) : resolve()));

  try {
    const addr = await gw.listen(port, host);
    line('listening', { host: addr.address, port: addr.port });
  } catch (e) {
    io.err(JSON.stringify({ code: (e as { code?: string }).code ?? 'YKC_LISTEN', message: (e as Error).message }));
    await gw.close();
    await closeCapture();
    if (recordsFd !== null) fs.closeSync(recordsFd);
    return 1;
  }
  await new Promise<void>((resolve) => io.onStop(resolve));
  await gw.close();
  await closeCapture();
  if (recordsFd !== null) fs.closeSync(recordsFd);
  line('close', { counters: gw.counters });
  return 0;
}
