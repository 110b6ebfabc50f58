// What the API tests share: a chain in a temporary directory and an API server on a free
// loopback port, opened before a describe block's tests and closed after them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { createClient, type FluxClient } from '../../../src/api/client.ts';
import type { ChainParams } from '../../../src/core/params/index.ts';
import { type ApiServer, type ApiServerOptions, startApiServer } from '../../../src/node/api/server.ts';
import { type LocalChain, openChain } from '../../../src/node/chain/chain.ts';

export interface ApiFixture {
  dir: string;
  chain: LocalChain;
  server: ApiServer;
  client: FluxClient;
}

/** Registers the hooks of the enclosing describe block; the fields are set once `before` ran. */
export function apiFixture(
  params: ChainParams,
  name: string,
  options: (chain: LocalChain) => Partial<ApiServerOptions> = () => ({}),
): ApiFixture {
  const f = {} as ApiFixture;
  before(async () => {
    f.dir = mkdtempSync(join(tmpdir(), `openflux-${name}-`));
    f.chain = openChain({ params, dbPath: join(f.dir, 'chain.db') });
    f.server = await startApiServer({ ...options(f.chain), chain: f.chain, port: 0 });
    f.client = createClient({ baseUrl: f.server.url });
  });
  after(async () => {
    await f.server.close();
    f.chain.close();
    rmSync(f.dir, { recursive: true, force: true });
  });
  return f;
}
