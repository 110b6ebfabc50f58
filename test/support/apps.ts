// App specs for tests: components with the smallest devnet sizes unless given, validated on devnet.
import assert from 'node:assert/strict';
import { type AppSpec, validateAppSpec } from '../../src/core/apps/spec.ts';
import { devnet } from '../../src/core/params/index.ts';

/** A valid devnet spec of one instance; each component gets 0.1 core, 32 MB, 1 GB, no ports unless set. */
export function testAppSpec(
  name: string,
  components: Array<Record<string, unknown>>,
  opts: { expiryBlocks?: number } = {},
): AppSpec {
  const r = validateAppSpec(
    {
      version: 1,
      name,
      instances: 1,
      expiryBlocks: opts.expiryBlocks ?? 100,
      components: components.map((c) => ({ ports: [], cpu: 0.1, ram: 32, hdd: 1, ...c })),
    },
    devnet,
  );
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.spec;
}
