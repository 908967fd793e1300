export * from './options';
export * from './session';
export * from './records';
export * from './gun-state';
export * from './server';
export * from './metrics';
export * from './tariff-history';
