export * from './handlers.ts';
export * from './lifecycle.ts';
export * from './payloads.ts';
export * from './queries.ts';
export * from './region.ts';
export * from './report.ts';
export * from './types.ts';
