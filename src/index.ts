/** Library entry: the protocol core (usable without Node-RED). */
export * from './protocol';
