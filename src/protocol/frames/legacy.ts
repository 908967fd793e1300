/**
 * Transaction records of piles older than YKC 1.5 (§9, version history; docs/architecture.md):
 *   1.2–1.3 send the record as 0x39, 1.4 as 0x3F; 1.5 renamed it 0x3B and widened the meter readings
 *   to 5 bytes. "1.4 → 1.5: only the record's type code and the meter start/stop width changed."
 * The old width is not published. A derivative protocol that kept type 0x39 (the "Xl" bus-pile parser)
 * uses 4-byte meter readings with an otherwise identical layout, body 156 bytes: that is the layout
 * here, for both types [inferred]. 1.4 moved the record's energies to 4 decimals; 1.2–1.3 piles may
 * send fewer, which the audit would then report as mismatches [not known]. Field names are those of
 * 0x3B, so billing and the flows read the three alike; the platform answers all of them with 0x40.
 *
 * The layout is chosen by the body's length (docs/protocol.md: key on L): a 158-byte body is exactly the
 * 0x3B layout with 5-byte meter readings — firmware that widened the meters but kept the old type code
 * — and is read so (variant "meter5"). Read with 4-byte meters, every field from the meter readings on
 * shifts: a 12.3456 kWh session became 379,584 kWh and ¥192,806, stored and acknowledged.
 */
import { defineFrame } from '../schema';
import { recordFields } from './operations';

/** Both layouts of a pre-1.5 record: 4-byte meters (body 156, the inferred one) and 5-byte (body 158). */
const legacyLayouts = () => [
  { fields: recordFields({ meterWidth: 4 }) },
  { fields: recordFields({}), variant: 'meter5', match: (b: Record<string, unknown>) => b.variant === 'meter5' },
];

const INFERRED =
  'Layout inferred (protocol notes §9, version history): 0x3B with 4-byte meter readings (body 156), from a derivative protocol that kept 0x39; ' +
  'the official 1.4 table is not published. A 158-byte body is read as the 0x3B layout (5-byte meter readings, variant "meter5"). ' +
  'Same field names as 0x3B; acknowledged with 0x40.';

export const legacyFrames = [
  defineFrame({
    type: 0x39, name: 'transactionRecordV12', zh: '交易记录(1.2–1.3)', en: 'transaction record (1.2–1.3)', dir: 'up', reply: 0x40, since: '1.2', only: '1.2–1.3',
    note: INFERRED + ' 1.2–1.3 energies may have had fewer than 4 decimals (1.4 changed them): not known.',
    layouts: legacyLayouts(),
  }),
  defineFrame({
    type: 0x3f, name: 'transactionRecordV14', zh: '交易记录(1.4)', en: 'transaction record (1.4)', dir: 'up', reply: 0x40, since: '1.4', only: '1.4',
    note: INFERRED,
    layouts: legacyLayouts(),
  }),
];

/** Every frame type that is a transaction record (answered with 0x40 recordAck). */
export const RECORD_TYPES: ReadonlySet<number> = new Set([0x39, 0x3b, 0x3d, 0x3f]);

/** Is this frame type a transaction record (0x3B, 1.7's 0x3D, 1.4's 0x3F, 1.2–1.3's 0x39)? */
export function isTransactionRecordType(type: number): boolean {
  return RECORD_TYPES.has(type);
}
