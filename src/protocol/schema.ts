/**
 * Declarative frame layouts. A layout is a list of fixed-width fields, optionally followed by a
 * repeated group (offline-card lists). The same layout drives decoding and encoding, so each frame
 * is described once (docs/protocol.md §5) and the two directions cannot drift apart.
 */
import { YkcError, typeHex } from './errors';
import { Body, Field, fieldError, FieldDoc, GenScope, isWholeHex } from './fields';

export interface ListSpec {
  name: string;
  /** Width of the count byte(s) placed right before the items; 0 = items run to the end of the body. */
  countWidth: 0 | 1;
  item: Field[];
  /** Most items the document allows (encoding refuses more; decoding accepts what fits the frame). */
  maxItems?: number;
  doc?: string;
}

export interface LayoutDef {
  fields: Field[];
  list?: ListSpec;
  /** Label of a non-standard layout (e.g. the 5-tier record), reported as `variant`. */
  variant?: string;
  /** For encoding: does this body want this layout? The first layout is the default. */
  match?: (body: Body) => boolean;
}

export interface Layout extends LayoutDef {
  fixedWidth: number;
  itemWidth: number;
  offsets: number[];
  itemOffsets: number[];
  /** The fixed fields, and one list item, compiled into one function each (built on first use). */
  decodeFixed?: BodyDecoder;
  decodeItem?: BodyDecoder;
  /** Body keys the encoder accepts (built on first use, knownKeys()). */
  keys?: ReadonlySet<string>;
  itemKeys?: ReadonlySet<string>;
}

/** Reads the fields of a layout (or of one list item) at b[start…] into a new body object. */
export type BodyDecoder = (b: Buffer, start: number) => Body;

export type Direction = 'up' | 'down';

export interface FrameSchemaDef {
  type: number;
  name: string;
  /** Document title (Chinese) and an English gloss. */
  zh: string;
  en: string;
  dir: Direction;
  /** The frame type that answers this one, or that this one answers. */
  reply?: number;
  answers?: number;
  /** Protocol version the frame first appears in ("1.6" for parallel charging, "1.7" for 0x3D). */
  since?: string;
  /** Versions it belongs to when later ones replaced it ("1.4" for 0x3F), and what is inferred about it. */
  only?: string;
  note?: string;
  layouts: LayoutDef[];
}

export interface FrameSchema extends FrameSchemaDef {
  layouts: Layout[];
}

function compileLayout(def: LayoutDef): Layout {
  const offsets: number[] = [];
  let o = 0;
  for (const f of def.fields) {
    offsets.push(o);
    o += f.width;
  }
  const itemOffsets: number[] = [];
  let iw = 0;
  for (const f of def.list?.item ?? []) {
    itemOffsets.push(iw);
    iw += f.width;
  }
  return { ...def, fixedWidth: o, itemWidth: iw, offsets, itemOffsets };
}

export function defineFrame(def: FrameSchemaDef): FrameSchema {
  return { ...def, layouts: def.layouts.map(compileLayout) };
}

/** Decodes field by field: the reference behaviour, and the fallback where code generation is off. */
function interpreter(fields: readonly Field[], offsets: readonly number[], variant?: string): BodyDecoder {
  return (b, start) => {
    const out: Body = {};
    for (let i = 0; i < fields.length; i++) fields[i].decode(b, start + offsets[i], out);
    for (let i = 0; i < fields.length; i++) fields[i].decodeAfter?.(b, start + offsets[i], out);
    if (variant !== undefined) out.variant = variant;
    return out;
  };
}

/**
 * Compiles fields into one function that reads every field inline and builds the body as a
 * single object literal. Generic per-field calls writing `out[name]` under ever-changing names
 * cost most of the decode time; one literal per layout gives V8 one fixed shape to work with.
 * Fields without `gen` still run their decode() on the result. Only schema text (field names,
 * widths, offsets) goes into the source; values reach it as closure parameters.
 */
export function compileDecoder(fields: readonly Field[], offsets: readonly number[], variant?: string): BodyDecoder {
  const refs: unknown[] = [];
  const ids: string[] = [];
  let locals = 0;
  const scope: GenScope = {
    ref(value) {
      let i = refs.indexOf(value);
      if (i < 0) {
        i = refs.length;
        refs.push(value);
        ids.push(`r${i}`);
      }
      return ids[i];
    },
    local: () => `v${locals++}`,
  };
  let pre = '';
  let post = '';
  let after = '';
  const props: string[] = [];
  fields.forEach((f, i) => {
    const at = (k: number): string => `s+${offsets[i] + k}`;
    if (f.decodeAfter) after += `${scope.ref(f)}.decodeAfter(b,${at(0)},out);`;
    if (!f.gen) {
      post += `${scope.ref(f)}.decode(b,${at(0)},out);`;
      return;
    }
    const g = f.gen('b', at, scope);
    pre += g.pre ?? '';
    for (const [key, expr] of g.props) props.push(`${JSON.stringify(key)}:${expr}`);
    post += g.post ?? '';
  });
  if (variant !== undefined) props.push(`"variant":${JSON.stringify(variant)}`);
  const source = `"use strict";return function decodeBody(b,s){${pre}const out={${props.join(',')}};${post}${after}return out;};`;
  try {
    return new Function(...ids, source)(...refs) as BodyDecoder;
  } catch {
    // e.g. node --disallow-code-generation-from-strings: same results, just slower.
    return interpreter(fields, offsets, variant);
  }
}

/** Largest body a frame can carry: the length byte counts seq(2)+flag(1)+type(1)+body. */
export const MAX_BODY = 255 - 4;

const CTX = new WeakMap<FrameSchema, string>();

/** "0x13 realtime": how messages name a frame (made once per schema, encoding asks every time). */
function ctxOf(schema: FrameSchema): string {
  let c = CTX.get(schema);
  if (c === undefined) CTX.set(schema, (c = `${typeHex(schema.type)} ${schema.name}`));
  return c;
}

function pickLayoutForDecode(schema: FrameSchema, len: number): Layout {
  const ls = schema.layouts;
  if (ls.length === 1) return ls[0];
  for (const l of ls) if (!l.list && l.fixedWidth === len) return l;
  return ls[0];
}

/**
 * Decodes a body (without header or CRC). A body longer than a fixed layout keeps the surplus as
 * `extra` (hex) so vendor additions are visible and still round-trip; `strict` refuses them.
 * `interpret` skips the compiled decoders (tests compare the two).
 */
export function decodeBodyWith(schema: FrameSchema, b: Buffer, start: number, len: number, strict = false, interpret = false): Body {
  const layout = pickLayoutForDecode(schema, len);
  const fixed = layout.fixedWidth;
  if (len < fixed) {
    throw new YkcError('YKC_LENGTH', `${ctxOf(schema)}: body is ${len} bytes, the layout needs ${fixed}`, {
      frame: schema.name,
      type: schema.type,
      bodyLength: len,
      expected: fixed,
    });
  }
  const out = interpret
    ? interpreter(layout.fields, layout.offsets, layout.variant)(b, start)
    : (layout.decodeFixed ??= compileDecoder(layout.fields, layout.offsets, layout.variant))(b, start);
  const list = layout.list;
  if (list) {
    let o = start + fixed;
    const rest = len - fixed - list.countWidth;
    if (rest < 0 || rest % layout.itemWidth !== 0) {
      throw new YkcError('YKC_LENGTH', `${ctxOf(schema)}: body of ${len} bytes is not ${fixed + list.countWidth} + ${layout.itemWidth}·n`, {
        frame: schema.name,
        type: schema.type,
        bodyLength: len,
      });
    }
    const n = rest / layout.itemWidth;
    if (list.countWidth) {
      const count = b[o];
      if (count !== n) {
        throw new YkcError('YKC_LENGTH', `${ctxOf(schema)}: count byte says ${count} items, the body holds ${n}`, {
          frame: schema.name,
          type: schema.type,
          count,
          items: n,
        });
      }
      o += list.countWidth;
    }
    const decodeItem = interpret ? interpreter(list.item, layout.itemOffsets) : (layout.decodeItem ??= compileDecoder(list.item, layout.itemOffsets));
    const items: Body[] = [];
    for (let k = 0; k < n; k++) {
      items.push(decodeItem(b, o));
      o += layout.itemWidth;
    }
    out[list.name] = items;
  } else if (len > fixed) {
    if (strict) {
      throw new YkcError('YKC_LENGTH', `${ctxOf(schema)}: body is ${len} bytes, the layout has ${fixed}`, {
        frame: schema.name,
        type: schema.type,
        bodyLength: len,
        expected: fixed,
      });
    }
    out.extra = b.subarray(start + fixed, start + len).toString('hex').toUpperCase();
  }
  return out;
}

function pickLayoutForEncode(schema: FrameSchema, body: Body): Layout {
  for (const l of schema.layouts) if (l.match?.(body)) return l;
  return schema.layouts[0];
}

/** Body length the encoder will produce for this body. */
export function encodedBodyLength(schema: FrameSchema, body: Body): number {
  const layout = pickLayoutForEncode(schema, body);
  if (layout.list) {
    const items = body[layout.list.name];
    const n = Array.isArray(items) ? items.length : 0;
    // Checked here as well as in encodeBodyWith, so "too many cards" wins over "frame too long".
    if (layout.list.maxItems !== undefined && n > layout.list.maxItems) {
      throw fieldError(ctxOf(schema), layout.list.name, `${n} items`, `holds at most ${layout.list.maxItems} items`);
    }
    return layout.fixedWidth + layout.list.countWidth + n * layout.itemWidth;
  }
  const extra = typeof body.extra === 'string' ? body.extra.length / 2 : 0;
  return layout.fixedWidth + Math.ceil(extra);
}

/**
 * The keys a body of these fields may hold: what decoding all-zero and all-0xFF bytes gives (every
 * enumeration name, bit list, reserved part), plus the keys fields declare (a time's weekday).
 */
function keysOf(fields: readonly Field[], offsets: readonly number[], width: number): Set<string> {
  const keys = new Set<string>();
  const decode = interpreter(fields, offsets);
  for (const fill of [0x00, 0xff]) for (const k of Object.keys(decode(Buffer.alloc(width, fill), 0))) keys.add(k);
  for (const f of fields) {
    keys.add(f.name);
    for (const k of f.keys ?? []) keys.add(k);
  }
  return keys;
}

/** Refuses a key no field of the layout knows (a typo would otherwise be sent as zeros). */
function checkKeys(body: Body, known: ReadonlySet<string>, ctx: string, where = ''): void {
  for (const k in body) {
    if (!Object.hasOwn(body, k) || known.has(k)) continue;
    throw fieldError(ctx, where + k, body[k], `is not a field of this frame (its fields: ${[...known].join(', ')})`);
  }
}

/** Encodes a body into b at start; b must have room for encodedBodyLength() bytes. */
export function encodeBodyWith(schema: FrameSchema, body: Body, b: Buffer, start: number): number {
  const ctx = ctxOf(schema);
  const layout = pickLayoutForEncode(schema, body);
  if (!layout.keys) {
    const keys = keysOf(layout.fields, layout.offsets, layout.fixedWidth);
    keys.add('variant');
    if (layout.list) keys.add(layout.list.name);
    else keys.add('extra');
    layout.keys = keys;
    if (layout.list) layout.itemKeys = keysOf(layout.list.item, layout.itemOffsets, layout.itemWidth);
  }
  checkKeys(body, layout.keys, ctx);
  const fields = layout.fields;
  for (let i = 0; i < fields.length; i++) fields[i].encode(b, start + layout.offsets[i], body, ctx);
  let o = start + layout.fixedWidth;
  const list = layout.list;
  if (list) {
    const items = body[list.name];
    if (!Array.isArray(items)) throw fieldError(ctx, list.name, items, 'must be an array');
    if (list.maxItems !== undefined && items.length > list.maxItems) {
      throw fieldError(ctx, list.name, `${items.length} items`, `holds at most ${list.maxItems} items`);
    }
    if (list.countWidth) b[o++] = items.length;
    for (let k = 0; k < items.length; k++) {
      const item = items[k];
      if (typeof item !== 'object' || item === null) throw fieldError(ctx, `${list.name}[${k}]`, item, 'must be an object');
      checkKeys(item as Body, layout.itemKeys!, ctx, `${list.name}[${k}].`);
      for (let i = 0; i < list.item.length; i++) {
        list.item[i].encode(b, o + layout.itemOffsets[i], item as Body, `${ctx} ${list.name}[${k}]`);
      }
      o += layout.itemWidth;
    }
  } else if (body.extra !== undefined) {
    const extra = body.extra;
    if (typeof extra !== 'string' || !isWholeHex(extra)) throw fieldError(ctx, 'extra', extra, 'must be a hex string of whole bytes');
    o += Buffer.from(extra, 'hex').copy(b, o);
  }
  return o - start;
}

/** Rows for the README frame tables: offset, width, name, encoding, unit, values. */
export interface FieldRow extends FieldDoc {
  offset: number | string;
  width: number | string;
  name: string;
}

export function describeLayout(layout: Layout): FieldRow[] {
  const rows: FieldRow[] = layout.fields.map((f, i) => ({ offset: layout.offsets[i], width: f.width, name: f.name, ...f.doc }));
  if (layout.list) {
    const base = layout.fixedWidth;
    if (layout.list.countWidth) rows.push({ offset: base, width: 1, name: '(count)', enc: 'BIN 1', values: `= ${layout.list.name}.length${layout.list.maxItems !== undefined ? ` (at most ${layout.list.maxItems})` : ''}` });
    const at = base + layout.list.countWidth;
    layout.list.item.forEach((f, i) => rows.push({ offset: `${at}+${layout.itemWidth}k+${layout.itemOffsets[i]}`, width: f.width, name: `${layout.list!.name}[k].${f.name}`, ...f.doc }));
  }
  return rows;
}
