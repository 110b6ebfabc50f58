// Every route, fed arbitrary path parameters, query strings and bodies, answers with a status
// below 500 and, when it refuses, the documented `{"error": {"code", "message"}}` body. This is
// the property that found a bech32m address with non-zero padding answering 500 INTERNAL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bech32m } from '@scure/base';
import fc from 'fast-check';
import type { RouteDef } from '../../../src/api/route.ts';
import { routes } from '../../../src/api/routes.ts';
import { decodeAddress } from '../../../src/core/crypto/keys.ts';
import { devnetParams } from '../../../src/node/genesis.ts';
import { JobDataStore } from '../../../src/node/jobs/store.ts';
import { apiFixture } from './fixture.ts';

const params = devnetParams(Date.now());
const prefix = params.addressPrefix;

/** bech32m strings with a valid checksum over words that need not decode to 20 bytes. */
const checksummed = fc
  .array(fc.integer({ min: 0, max: 31 }), { minLength: 0, maxLength: 60 })
  .map((words) => bech32m.encode(prefix, words, 200));

const hostileText = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('0', '-1', '1e9', '99999999999999999999', '0x', 'ff', '..', '%', '%zz', ' ', 'null'),
  fc.stringMatching(/^[0-9a-f]{0,70}$/),
  checksummed,
);

const hostileBody = fc.oneof(
  fc.jsonValue(),
  fc.string({ maxLength: 40 }).map((s) => ({ tx: s, name: s, spec: s, data: s })),
);

const jobsDir = mkdtempSync(join(tmpdir(), 'openflux-hostile-jobs-'));

describe('hostile input', () => {
  after(() => rmSync(jobsDir, { recursive: true, force: true }));
  const api = apiFixture(params, 'hostile', (chain) => ({
    apps: { state: chain.state },
    jobs: { state: chain.state, data: new JobDataStore(jobsDir, params.pouw) },
  }));

  const check = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api.server.url}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.status < 500, `${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    if (res.status >= 400) {
      const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      assert.equal(typeof parsed.error?.code, 'string', `${method} ${path}: ${text.slice(0, 200)}`);
      assert.ok(
        typeof parsed.error?.message === 'string' && parsed.error.message.length > 0,
        `${method} ${path}: ${text}`,
      );
    }
  };

  it('the address decoder refuses a checksummed string with non-zero padding, naming it', () => {
    // 33 words carry 165 bits: 160 of address and 5 of padding, here not zero.
    const words = [...new Array(32).fill(0), 1];
    const text = bech32m.encode(prefix, words);
    const decoded = decodeAddress(prefix, text);
    assert.equal(decoded.ok, false);
    assert.match(decoded.ok ? '' : decoded.error, /not a valid address/);
  });

  const defs = Object.entries(routes as Record<string, RouteDef>);
  for (const [name, def] of defs) {
    it(`${def.method} ${def.path} (${name}) never answers 5xx`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(hostileText, { minLength: 3, maxLength: 3 }),
          fc.dictionary(fc.constantFrom('limit', 'from', 'to', 'offset', 'before', 'n'), hostileText, {
            maxKeys: 2,
          }),
          hostileBody,
          async (values, query, body) => {
            let i = 0;
            const path = def.path.replace(/:[a-zA-Z]+/g, () => encodeURIComponent(values[i++] ?? ''));
            const qs = new URLSearchParams(query).toString();
            await check(
              def.method,
              qs === '' ? path : `${path}?${qs}`,
              def.method === 'POST' ? body : undefined,
            );
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});
