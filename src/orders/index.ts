export * from './order';
export * from './alarms';
export * from './journal';
export * from './tracker';
