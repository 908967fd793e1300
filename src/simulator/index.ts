/** The pile side of the protocol: virtual piles for tests, demos and load runs. */
export * from './clock';
export * from './random';
export * from './meter';
export * from './cards';
export * from './car';
export * from './link';
export * from './pile';
export * from './fleet';
export * from './ftp';
export * from './ota';
