/**
 * `ykc decode <hex>`: one frame as JSON on stdout (exit 0), or a JSON error with its stable code
 * on stderr (exit 1). The hex may contain spaces, so all remaining arguments are joined.
 * `ykc decode -` reads stdin, one frame per line, and prints one JSON line per frame; the exit
 * code is 1 if any line failed. Blank lines and lines starting with # are skipped.
 */
import { decodeFrame, DecodeOptions } from '../protocol';
import { eachLine, errorJson, helpOrUsageError, splitFlags } from './args';
import { CliIo } from './io';

const USAGE = `usage: ykc decode [--no-crc] [--strict] [--pretty] <hex>|-
  <hex>      one frame; spaces, 0x prefixes and colons are ignored
  -          read stdin, one frame per line; prints one JSON line per frame
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
