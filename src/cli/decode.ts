/**
 * `ykc decode <hex>`: one frame as JSON on stdout (exit 0), or a JSON error with its stable code
 * on stderr (exit 1). The hex may contain spaces, so all remaining arguments are joined.
 * `ykc decode -` reads stdin, one frame per line, and prints one JSON line per frame; the exit
 * code is 1 if any line failed. Blank lines and lines starting with # are skipped.
 */
import * as fs from 'fs';
import { parseCaptureLine } from '../gateway/capture';
import { decodeFrame, DecodeOptions } from '../protocol';
import { eachLine, errorJson, helpOrUsageError, splitFlags } from './args';
import { CliIo } from './io';

const USAGE = `usage: ykc decode [--no-crc] [--strict] [--pretty] <hex>|FILE|-
  <hex>      one frame; spaces, 0x prefixes and colons are ignored
  FILE       a capture file (JSON lines {"at","dir","pileNo","hex"}, from the editor's YKC sidebar or
             \`ykc serve --capture\`): one JSON line per frame, with its at, dir and pileNo
  -          read stdin, one frame per line (hex, or a capture line); prints one JSON line per frame
  --no-crc   decode even when the CRC is wrong (the result says "crcValid": false)
  --strict   refuse bytes beyond a frame's layout instead of showing them as "extra"
  --pretty   indent the JSON`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { flags, rest, unknown } = splitFlags(args, {
    '--no-crc': (f) => (f.noCrc = true),
    '--strict': (f) => (f.strict = true),
    '--pretty': (f) => (f.pretty = true),
  });
  const early = helpOrUsageError(io, USAGE, flags, rest, unknown);
  if (early !== null) return early;
  const opts: DecodeOptions = { verifyCrc: !flags.noCrc, strict: !!flags.strict };
  const show = (v: unknown): string => (flags.pretty ? JSON.stringify(v, null, 2) : JSON.stringify(v));

  /** A hex line, or a capture line whose frame is decoded and shown with its time, direction and pile. */
  const decodeLine = (line: string): unknown => {
    if (!line.startsWith('{')) return decodeFrame(line, opts);
    const c = parseCaptureLine(line)!;
    return { at: c.at, dir: c.dir, pileNo: c.pileNo, frame: decodeFrame(c.hex, opts) };
  };
  const lines = (fn: (line: string, lineNo: number) => void): Promise<void> => {
    // A file name (hex has no dot or slash): read it like stdin.
    if (rest[0] !== '-') {
      fs.readFileSync(rest[0], 'utf8').split('\n').forEach((raw, i) => {
        const line = raw.trim();
        if (line && !line.startsWith('#')) fn(line, i + 1);
      });
      return Promise.resolve();
    }
    return eachLine(io, fn);
  };

  if (rest.length === 1 && (rest[0] === '-' || /[./\\]/.test(rest[0]))) {
    let failed = 0;
    try {
      await lines((line, lineNo) => {
        try {
          io.out(show(decodeLine(line)));
        } catch (e) {
          failed++;
          io.err(errorJson(e, { line: lineNo }));
        }
      });
    } catch (e) {
      io.err(errorJson(new Error(`${rest[0]}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)));
      return 2;
    }
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
