/**
 * Secrets in frames (the OTA 0x94 FTP password, sent in clear text by the protocol): masked in
 * every copy the pack reports — the gateway's 'sent' and 'frame' events, their raw hex, problem
 * hex, ykc-pile's messages — so debug nodes, logs and `ykc serve --raw` never show them. The bytes
 * on the wire are of course the real ones. A field is secret when its schema says so (`secret`).
 */
import { SECRET_MASK } from './fields';
import { ALL_FRAMES } from './frames';
import type { DecodedFrame } from './frame';

interface SecretSpan {
  name: string;
  /** Body offset and width. */
  offset: number;
  width: number;
}

/** Per frame type, per fixed body width: the secret fields. Built once from the schemas. */
const SECRETS = new Map<number, Array<{ fixedWidth: number; spans: SecretSpan[] }>>();
for (const schema of ALL_FRAMES) {
  const layouts = schema.layouts
    .map((l) => ({ fixedWidth: l.fixedWidth, spans: l.fields.flatMap((f, i) => (f.secret ? [{ name: f.name, offset: l.offsets[i], width: f.width }] : [])) }))
    .filter((l) => l.spans.length);
  if (layouts.length) SECRETS.set(schema.type, layouts);
}

/** Does this frame type carry a secret? (Cheap: callers test it before copying anything.) */
export function hasSecrets(type: number): boolean {
  return SECRETS.has(type);
}

/** The frame with every secret field of its body replaced by "******" (a copy; the input is untouched). */
export function maskFrame<F extends DecodedFrame>(frame: F): F {
  const layouts = SECRETS.get(frame.type);
  if (!layouts || frame.encrypted) return frame;
  const body = { ...frame.body };
  for (const l of layouts) for (const s of l.spans) if (typeof body[s.name] === 'string' && body[s.name] !== '') body[s.name] = SECRET_MASK;
  return { ...frame, body };
}

/**
 * Upper-case hex of a frame (68 … CRC) with the bytes of every secret field replaced by "*" (0x2A):
 * still shaped like the frame, but its CRC no longer matches. A frame cut short (a problem's hex)
 * is masked as far as it goes. Other types and encrypted bodies come out unchanged.
 */
export function maskedHex(buf: Buffer): string {
  const hex = buf.toString('hex').toUpperCase();
  if (buf.length < 7 || buf[0] !== 0x68 || buf[4] !== 0) return hex;
  const layouts = SECRETS.get(buf[5]);
  if (!layouts) return hex;
  const l = layouts.find((x) => x.fixedWidth === buf.length - 8) ?? layouts[0];
  let out = hex;
  for (const s of l.spans) {
    const from = 6 + s.offset;
    const to = Math.min(from + s.width, buf.length);
    if (to > from) out = out.slice(0, from * 2) + '2A'.repeat(to - from) + out.slice(to * 2);
  }
  return out;
}
