/**
 * `ykc replay FILE --host H --port P`: plays a capture's pile → platform frames against a gateway as
 * that pile, at the captured pace (or --speed), answering nothing it was not recorded sending, and
 * reports where the gateway's answers differ from the captured ones: one JSON line per difference
 * on stdout, a JSON report at the end. Exit 0 when every expected answer matched, 1 when something
 * differed or was missing, 2 for a usage error or an unreadable capture.
 */
import * as fs from 'fs';
import { CaptureLine, parseCaptureLine } from '../gateway/capture';
import { CaptureReplay } from '../simulator/replay';
import { decodeFrame } from '../protocol';
import { checkFlagValues, checkKnownFlags, errorJson, parseArgs } from './args';
import { CliIo } from './io';

const USAGE = `usage: ykc replay FILE --port P [--host 127.0.0.1] [--pile PILENO] [--speed 1] [--answer-timeout 5] [--max-gap 60] [--quiet]
Plays the pile → platform frames of a capture (JSON lines: {"at","dir","pileNo","hex"}, as the editor's YKC
sidebar or \`ykc serve --capture\` write them) against a gateway, as that pile, keeping the original timing
(--speed 10 plays ten times faster, --speed 0 sends each frame once the previous one is answered).
It answers nothing by itself. Prints each difference between the gateway's answers and the captured ones
as a JSON line ("differs" with the fields, "missing", "extra"), then a report. Exit 1 if anything differed.`;

const OPTIONS = ['host', 'port', 'pile', 'speed', 'answer-timeout', 'max-gap', 'quiet'];
/** Options that take no value (the rest need one). */
const SWITCHES = ['quiet'];

function number(v: string | true | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got ${String(v)}`);
  return n;
}

/** Reads a capture file; every broken line is named (file:line) and the whole file refused. */
export function readCapture(file: string): CaptureLine[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: CaptureLine[] = [];
  text.split('\n').forEach((line, i) => {
    try {
      const l = parseCaptureLine(line);
      if (!l) return;
      // The replay plans with the decoded frames: a hex that is no frame is this line's fault, said here.
      // A frame the recording gateway could not use itself (`unreadable`: bad CRC, bad body) is played as it came.
      if (l.name !== 'unreadable') decodeFrame(l.hex, { verifyCrc: false });
      out.push(l);
    } catch (e) {
      throw Object.assign(e as Error, { message: `${file}:${i + 1}: ${(e as Error).message}` });
    }
  });
  return out;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { flags, positional } = parseArgs(args, SWITCHES);
  if (flags.help || flags.h) {
    io.out(USAGE);
    return 0;
  }
  let replay: CaptureReplay;
  try {
    checkKnownFlags(flags, OPTIONS);
    checkFlagValues(flags, SWITCHES);
    if (positional.length !== 1) throw new Error('give exactly one capture file');
    if (flags.port === undefined) throw new Error('--port is required');
    const pile = flags.pile;
    if (pile !== undefined && (typeof pile !== 'string' || !/^\d{14}$/.test(pile))) throw new Error('--pile must be a 14-digit pile number');
    let lines: CaptureLine[];
    try {
      lines = readCapture(positional[0]);
    } catch (e) {
      io.err(errorJson(e));
      return 2;
    }
    if (!lines.some((l) => l.dir === 'in')) throw new Error(`${positional[0]} has no pile → platform frames to play`);
    replay = new CaptureReplay(lines, {
      host: typeof flags.host === 'string' ? flags.host : '127.0.0.1',
      port: number(flags.port, 'port', 0, 1, 65535),
      pileNo: typeof pile === 'string' ? pile : undefined,
      speed: number(flags.speed, 'speed', 1, 0, 1_000_000),
      answerTimeoutMs: number(flags['answer-timeout'], 'answer-timeout', 5, 0.05, 3600) * 1000,
      maxGapMs: number(flags['max-gap'], 'max-gap', 60, 0, 86_400) * 1000,
    });
  } catch (e) {
    io.err(errorJson(e));
    io.err(USAGE);
    return 2;
  }
  replay.on('difference', (d) => io.out(JSON.stringify({ event: d.kind, ...d })));
  if (!flags.quiet) replay.on('sent', (f) => io.err(`→ ${f.name} seq ${f.seq}`));
  try {
    const report = await replay.run();
    io.out(JSON.stringify({ event: 'report', ...report }));
    return report.differs || report.missing ? 1 : 0;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    io.err(JSON.stringify({ code: 'YKC_OFFLINE', message: `cannot replay against ${typeof flags.host === 'string' ? flags.host : '127.0.0.1'}:${String(flags.port)}: ${err.code ?? err.message}` }));
    return 1;
  }
}
