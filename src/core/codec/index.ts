export * from './ids.ts';
export * from './types.ts';
