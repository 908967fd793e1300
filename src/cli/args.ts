/** Command-line helpers shared by the ykc commands: flag parsing, JSON errors, stdin lines (no dependency). */
import * as readline from 'readline';
import { isYkcError } from '../protocol';
import { CliIo } from './io';

export interface ParsedArgs {
  flags: Record<string, string | true>;
  positional: string[];
}

/**
 * `switches` are the options that take no value: they never swallow the next argument
 * (`ykc replay --quiet FILE` keeps FILE as the capture to play).
 */
export function parseArgs(args: string[], switches: readonly string[] = []): ParsedArgs {
  const flags: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else if (!switches.includes(a.slice(2)) && i + 1 < args.length && !args[i + 1].startsWith('--')) flags[a.slice(2)] = args[++i];
      else flags[a.slice(2)] = true;
    } else if (a === '-h') flags.h = true; // as decode and encode take it
    else positional.push(a);
  }
  return { flags, positional };
}

/**
 * Refuses an option that needs a value but was given none (`--port` last, or followed by another
 * option): parseArgs reads it as `true`, which Number() turns into 1, so `--port` alone listened on
 * port 1, `--admit-rate` admitted one pile a second and `--allow` allowed every pile. A switch given
 * a value (`--quiet=no`) is refused too.
 */
export function checkFlagValues(flags: ParsedArgs['flags'], switches: readonly string[]): void {
  for (const [k, v] of Object.entries(flags)) {
    if (k === 'help' || k === 'h') continue;
    if (switches.includes(k)) {
      if (v !== true) throw new Error(`--${k} takes no value, got ${v}`);
    } else if (v === true) throw new Error(`--${k} needs a value`);
  }
}

/**
 * Refuses an option the command does not have (`--prot 18770` must not start on the default port):
 * throws naming the first unknown one. `known` lists the names without "--".
 */
export function checkKnownFlags(flags: ParsedArgs['flags'], known: readonly string[]): void {
  for (const k of Object.keys(flags)) {
    if (k !== 'help' && k !== 'h' && !known.includes(k)) throw new Error(`unknown option --${k} (options: ${known.map((x) => '--' + x).join(' ')})`);
  }
}

export function intFlag(flags: ParsedArgs['flags'], name: string, dflt: number, min: number, max: number): number {
  const v = flags[name];
  if (v === undefined) return dflt;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${v === true ? 'no value' : String(v)}`);
  return n;
}

/** A failure as the JSON the CLI prints: {code, message, …details}. */
export function errorJson(e: unknown, extra: Record<string, unknown> = {}): string {
  const base = isYkcError(e) ? e.toJSON() : { code: 'YKC_INPUT', message: e instanceof Error ? e.message : String(e) };
  return JSON.stringify({ ...base, ...extra });
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

/** `--help` prints the usage (exit 0); an unknown option or no frame is a usage error (exit 2); otherwise null. */
export function helpOrUsageError(io: CliIo, usage: string, flags: Record<string, boolean>, rest: string[], unknown: string | undefined): number | null {
  if (flags.help) {
    io.out(usage);
    return 0;
  }
  if (unknown !== undefined || rest.length === 0) {
    io.err(errorJson(new Error(unknown !== undefined ? `unknown option ${unknown}` : 'no frame given')));
    io.err(usage);
    return 2;
  }
  return null;
}
