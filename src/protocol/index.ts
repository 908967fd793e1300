export * from './errors';
export * from './crc16';
export * from './fields';
export * from './cp56';
export * from './enums';
export * from './schema';
export * from './frame';
export * from './splitter';
export { ALL_FRAMES, schemaForName, schemaForType } from './frames';
