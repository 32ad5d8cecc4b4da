export * from './cache';
export * from './errors';
export * from './keys';
export * from './registry';
export * from './schema';
export * from './sign';
export * from './port-rules';
export * from './port-rule-check';
