/**
 * Library entry: protocol core, gateway and billing, usable without Node-RED. The virtual pile
 * is under `simulator` (its event types share names with the gateway's).
 */
export * from './protocol';
export * from './gateway';
export * from './billing';
export * as simulator from './simulator';
export * as cluster from './cluster';
