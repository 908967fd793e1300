/** Library entry: protocol core, gateway and billing, usable without Node-RED. */
export * from './protocol';
export * from './gateway';
export * from './billing';
