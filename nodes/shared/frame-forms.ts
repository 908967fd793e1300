/**
 * Send forms for platform → pile frames, generated from the codec's schemas (the editor's YKC
 * sidebar builds its inputs from these: field names, encodings, units, enumerations as selects).
 */
import { ALL_FRAMES, describeLayout } from '../../src/protocol';

export /** A frame field as the send form needs it. */
interface FormField {
  name: string;
  enc: string;
  width: number | string;
  unit?: string;
  values?: string;
  /** Parsed from `values` when it lists codes ("1 now, 2 when idle"). */
  options?: Array<{ value: number; label: string }>;
}

/** "1 now, 2 when idle" → options; anything else (ranges, prose) stays free text. */
export function enumOptions(values: string | undefined): FormField['options'] {
  if (!values) return undefined;
  const parts = values.split(/,\s*/);
  const out: Array<{ value: number; label: string }> = [];
  for (const p of parts) {
    const m = /^(0x[0-9a-fA-F]+|\d+) (.+)$/.exec(p.trim());
    if (!m || /…|–/.test(m[2])) return undefined;
    out.push({ value: Number(m[1]), label: m[2] });
  }
  return out.length >= 2 ? out : undefined;
}

/** Platform → pile frames, for the send form (generated from the codec's schemas). */
export function downFrameForms(): Array<{ type: number; name: string; zh: string; en: string; reply: number | null; fields: FormField[]; list: string | null }> {
  return ALL_FRAMES.filter((s) => s.dir === 'down').map((s) => {
    const layout = s.layouts[0];
    return {
      type: s.type,
      name: s.name,
      zh: s.zh,
      en: s.en,
      reply: s.reply ?? null,
      fields: describeLayout(layout)
        .filter((d) => !/^reserved/.test(d.name))
        .map((d) => ({ name: d.name, enc: d.enc, width: d.width, unit: d.unit, values: d.values, options: enumOptions(d.values) })),
      list: layout.list?.name ?? null,
    };
  });
}

