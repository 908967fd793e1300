export * from './topics';
export * from './transport';
export * from './cluster';
