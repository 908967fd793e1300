/** Which frames and events a ykc-in node passes: named groups and explicit frame types. */
import { schemaForName } from '../../src/protocol';

export const GROUPS: Record<string, number[]> = {
  heartbeat: [0x03],
  realtime: [0x13],
  bms: [0x15, 0x17, 0x19, 0x1b, 0x1d, 0x21, 0x23, 0x25],
  billingModel: [0x05, 0x09],
  startRequests: [0x31, 0xa1],
  replies: [0x33, 0x35, 0x41, 0x43, 0x45, 0x47, 0x51, 0x55, 0x57, 0x63, 0x91, 0x93, 0xa3],
  lock: [0x61],
};
export const EVENT_GROUPS = ['session', 'records', 'duplicates', 'gunState', 'problems', 'sent', 'metrics'] as const;
export const DEFAULT_GROUPS = ['session', 'realtime', 'bms', 'billingModel', 'startRequests', 'replies', 'lock', 'records', 'gunState'];

/** "0x13, realtime, 19" → frame type codes; unknown names are reported, not ignored silently. */
export function parseTypes(text: string | undefined): { types: Set<number>; unknown: string[] } {
  const types = new Set<number>();
  const unknown: string[] = [];
  for (const t of String(text ?? '').split(/[\s,;]+/).filter(Boolean)) {
    const n = /^0x[0-9a-f]{1,2}$/i.test(t) ? parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : schemaForName(t)?.type;
    if (n === undefined || n > 255) unknown.push(t);
    else types.add(n);
  }
  return { types, unknown };
}

