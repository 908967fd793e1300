/** Billing: tariffs, exact fees, session splitting and bill audit (no I/O, no Node-RED). */
export * from './fees';
export * from './tariff';
export * from './compute';
export * from './audit';
export * from './default-tariff';
