/**
 * `ykc decode <hex>`: one frame as JSON on stdout (exit 0), or a JSON error with its stable code
 * on stderr (exit 1). The hex may contain spaces, so all remaining arguments are joined.
 * `ykc decode -` reads stdin, one frame per line, and prints one JSON line per frame; the exit
 * code is 1 if any line failed. Blank lines and lines starting with # are skipped.
 */
import * as readline from 'readline';
import { decodeFrame, DecodeOptions, isYkcError } from '../protocol';
import { CliIo } from './io';

const USAGE = `usage: ykc decode [--no-crc] [--strict] [--pretty] <hex>|-
  <hex>      one frame; spaces, 0x prefixes and colons are ignored
  -          read stdin, one frame per line; prints one JSON line per frame
  --no-crc   decode even when the CRC is wrong (the result says "crcValid": false)
  --strict   refuse bytes beyond a frame's layout instead of showing them as "extra"
  --pretty   indent the JSON`;

/** A failure as the JSON the CLI prints: {code, message, …details}. */
export function errorJson(e: unknown, extra: Record<string, unknown> = {}): string {
  const base = isYkcError(e) ? e.toJSON() : { code: 'YKC_INPUT', message: e instanceof Error ? e.message : String(e) };
  return JSON.stringify({ ...base, ...extra });
}

export interface CliOptions {
  help: boolean;
  pretty: boolean;
  rest: string[];
}

/** Splits known flags from the rest; an unknown flag is an error (exit 2). */
export function splitFlags(args: string[], known: Record<string, (o: Record<string, boolean>) => void>): { flags: Record<string, boolean>; rest: string[]; unknown?: string } {
  const flags: Record<string, boolean> = {};
  const rest: string[] = [];
  for (const a of args) {
    if (a === '-h' || a === '--help') flags.help = true;
    else if (a.startsWith('--')) {
      const set = known[a];
      if (!set) return { flags, rest, unknown: a };
      set(flags);
    } else rest.push(a);
  }
  return { flags, rest };
}

/** Calls fn for each non-blank, non-comment line of stdin; resolves when stdin ends. */
export async function eachLine(io: CliIo, fn: (line: string, lineNo: number) => void): Promise<void> {
  const rl = readline.createInterface({ input: io.stdin, crlfDelay: Infinity });
  let n = 0;
  for await (const raw of rl) {
    n++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    fn(line, n);
  }
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { flags, rest, unknown } = splitFlags(args, {
    '--no-crc': (f) => (f.noCrc = true),
    '--strict': (f) => (f.strict = true),
    '--pretty': (f) => (f.pretty = true),
  });
  if (flags.help) {
    io.out(USAGE);
    return 0;
  }
  if (unknown !== undefined || rest.length === 0) {
    io.err(errorJson(new Error(unknown !== undefined ? `unknown option ${unknown}` : 'no frame given')));
    io.err(USAGE);
    return 2;
  }
  const opts: DecodeOptions = { verifyCrc: !flags.noCrc, strict: !!flags.strict };
  const show = (v: unknown): string => (flags.pretty ? JSON.stringify(v, null, 2) : JSON.stringify(v));

  if (rest.length === 1 && rest[0] === '-') {
    let failed = 0;
    await eachLine(io, (line, lineNo) => {
      try {
        io.out(show(decodeFrame(line, opts)));
      } catch (e) {
        failed++;
        io.err(errorJson(e, { line: lineNo }));
      }
    });
    return failed ? 1 : 0;
  }

  try {
    io.out(show(decodeFrame(rest.join(' '), opts)));
    return 0;
  } catch (e) {
    io.err(errorJson(e));
    return 1;
  }
}
