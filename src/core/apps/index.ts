// FluxOS applications: spec, price, transactions, placement, compose conversion.
export * from './compose.ts';
export * from './flux-spec.ts';
export * from './handlers.ts';
export * from './placement.ts';
export * from './price.ts';
export * from './spec.ts';
export * from './types.ts';
