/** The registry of every frame type, by type code and by name. */
import { FrameSchema } from '../schema';
import { legacyFrames } from './legacy';
import { operationFrames } from './operations';
import { parallelFrames } from './parallel';
import { realtimeFrames } from './realtime';
import { registrationFrames } from './registration';
import { settingFrames } from './settings';

export const ALL_FRAMES: readonly FrameSchema[] = [...registrationFrames, ...realtimeFrames, ...operationFrames, ...legacyFrames, ...settingFrames, ...parallelFrames].sort(
  (a, b) => a.type - b.type,
);

const byType: (FrameSchema | undefined)[] = new Array(256);
const byName = new Map<string, FrameSchema>();
for (const s of ALL_FRAMES) {
  if (byType[s.type] || byName.has(s.name)) throw new Error(`duplicate frame schema ${s.type}/${s.name}`);
  byType[s.type] = s;
  byName.set(s.name, s);
}

export function schemaForType(type: number): FrameSchema | undefined {
  return byType[type];
}

export function schemaForName(name: string): FrameSchema | undefined {
  return byName.get(name);
}

export { isTransactionRecordType, RECORD_TYPES } from './legacy';
