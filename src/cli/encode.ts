/**
 * `ykc encode '<json>'`: a frame object (the shape `ykc decode` prints, or just
 * {"type"|"name", "seq", "body"}) to upper-case hex on stdout (exit 0), or a JSON error with its
 * stable code on stderr (exit 1). A JSON array encodes each element, one hex line each.
 * `ykc encode -` reads stdin, one JSON frame per line, so `ykc decode - | ykc encode -` gives the
 * input back.
 */
import { encodeFrame, FrameInput, schemaForName, schemaForType, YkcError } from '../protocol';
import { eachLine, errorJson, helpOrUsageError, splitFlags } from './args';
import { CliIo } from './io';

const USAGE = `usage: ykc encode [--spaced] '<json>'|-
  <json>     a frame object, e.g. '{"name":"heartbeatReply","seq":1,"body":{"pileNo":"32010200000001","gunNo":1,"reply":0}}'
             (an array gives one hex line per frame)
  -          read stdin, one JSON frame per line; prints one hex line per frame
  --spaced   put a space between bytes`;

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new YkcError('YKC_INPUT', `not valid JSON: ${(e as Error).message}`, { input: text.length > 200 ? text.slice(0, 200) + '…' : text });
  }
}

/** The keys of a frame object: what `ykc decode` prints (FrameInput and DecodedFrame). */
const FRAME_KEYS = ['type', 'name', 'seq', 'encrypted', 'encryptFlag', 'crcOrder', 'crcValid', 'body'];

/**
 * Refuses what the encoder would silently pass over, as the body check does: a misspelt key
 * (`"sequence": 7` went out as seq 0) and a type and name that name different frames (the type won).
 */
export function checkFrameObject(f: unknown): void {
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return; // encodeFrame says what is wrong
  const o = f as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!FRAME_KEYS.includes(k)) throw new YkcError('YKC_FIELD', `"${k}" is not a key of a frame object (its keys: ${FRAME_KEYS.join(', ')})`, { field: k });
  }
  if (o.type !== undefined && typeof o.name === 'string') {
    const byName = schemaForName(o.name);
    const t = o.type;
    const byType = typeof t === 'number' ? schemaForType(t) : typeof t === 'string' ? (/^0x[0-9a-f]{1,2}$/i.test(t) ? schemaForType(parseInt(t, 16)) : /^\d+$/.test(t) ? schemaForType(Number(t)) : schemaForName(t)) : undefined;
    if (byName && byType && byName.type !== byType.type) {
      throw new YkcError('YKC_FIELD', `"type" ${JSON.stringify(t)} is ${byType.name} but "name" is ${o.name}: give one, or two that agree`, { field: 'name', value: o.name });
    }
  }
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { flags, rest, unknown } = splitFlags(args, { '--spaced': (f) => (f.spaced = true) });
  const early = helpOrUsageError(io, USAGE, flags, rest, unknown);
  if (early !== null) return early;
  const hex = (f: unknown): string => {
    checkFrameObject(f);
    const s = encodeFrame(f as FrameInput).toString('hex').toUpperCase();
    return flags.spaced ? s.replace(/(..)(?!$)/g, '$1 ') : s;
  };
  /** Prints the hex of one frame or of each frame of an array. */
  const emit = (v: unknown): void => {
    for (const f of Array.isArray(v) ? v : [v]) io.out(hex(f));
  };

  if (rest.length === 1 && rest[0] === '-') {
    let failed = 0;
    await eachLine(io, (line, lineNo) => {
      try {
        emit(parse(line));
      } catch (e) {
        failed++;
        io.err(errorJson(e, { line: lineNo }));
      }
    });
    return failed ? 1 : 0;
  }

  try {
    emit(parse(rest.join(' ')));
    return 0;
  } catch (e) {
    io.err(errorJson(e));
    return 1;
  }
}
