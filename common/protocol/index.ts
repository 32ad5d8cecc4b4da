export * from './errors';
export * from './frame';
export * from './messages';
export * from './version';
