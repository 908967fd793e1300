/** Library entry: the protocol core and the gateway, usable without Node-RED. */
export * from './protocol';
export * from './gateway';
