import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { importFluxSpec } from '../../../src/core/apps/flux-spec.ts';
import { type AppSpec, validateAppSpec } from '../../../src/core/apps/spec.ts';
import { devnet, mainnet } from '../../../src/core/params/index.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/flux-spec/${name}`, import.meta.url), 'utf8');

function imported(name: string, params = mainnet) {
  const c = importFluxSpec(fixture(name), params);
  assert.ok(c.result.ok, JSON.stringify(c.result));
  // What the importer hands back is a spec the chain accepts as it is.
  assert.ok(validateAppSpec(c.result.spec, params).ok);
  return { ...c, spec: c.result.spec as AppSpec };
}

describe('FluxOS spec import, real and realistic specs', () => {
  it('v1: one component from the top-level fields; tiered takes the Cumulus size and says so', () => {
    const { spec, dropped, defaults } = imported('v1-foldingathome.json');
    assert.equal(spec.name, 'foldingathome');
    assert.equal(spec.owner, '1CbErtneaX2QVyUfwU7JGB7VzvPgrgc3uC');
    assert.equal(spec.instances, 3);
    assert.equal(spec.expiryBlocks, 88_000);
    assert.equal(spec.components.length, 1);
    const [c] = spec.components;
    assert.equal(c.image, 'yurinnick/folding-at-home:latest');
    assert.deepEqual(c.ports, [{ container: 7396, host: 30001, protocol: 'tcp' }]);
    assert.deepEqual(c.env, { USER: 'foldingUser', TEAM: '262156', ENABLE_GPU: 'false', ENABLE_SMP: 'true' });
    assert.deepEqual(c.command, ['--allow', '0/0', '--web-allow', '0/0']);
    // Flux's hdd is the data's disk: the containerData volume gets it, the container the least.
    assert.deepEqual([c.cpu, c.ram, c.hdd], [0.5, 500, 1]);
    assert.deepEqual(c.volumes, [{ name: 'foldingathome-data', mount: '/config', size: 5, mode: 'local' }]);
    assert.ok(
      dropped.some((d) => d.startsWith('(app).tiered: ') && d.includes('Stratus 2 cpu/2000 MB/5 GB')),
    );
    assert.ok(defaults.includes("instances: 3, FluxOS's minimum (the spec predates instances)"));
    assert.ok(defaults.some((d) => d.startsWith("expiryBlocks: Flux's default lifetime")));
  });

  it('v2: string ports pair with containerPorts; each domain and each database field is reported', () => {
    const { spec, dropped } = imported('v2-polkadotnode.json');
    assert.deepEqual(
      spec.components[0].ports.map((p) => [p.host, p.container]),
      [
        [31116, 30333],
        [31115, 9933],
        [31114, 9944],
      ],
    );
    assert.equal(dropped.filter((d) => d.includes('the spec has no custom domains')).length, 3);
    for (const key of ['_id', 'hash', 'height'])
      assert.ok(dropped.includes(`${key}: not a FluxOS v2 field; ignored`), key);
  });

  it('v3: instances carried, a shell command kept as its arguments, the empty domain is not reported', () => {
    const { spec, dropped } = imported('v3-kadena-tiered.json');
    assert.equal(spec.instances, 3);
    assert.equal(spec.components[0].command?.[0], '/bin/bash');
    assert.equal(spec.components[0].cpu, 2.5);
    assert.equal(dropped.filter((d) => d.includes('domains[')).length, 1);
  });

  it('v4: compose[] becomes components; flux<component>_<app> hosts become component names', () => {
    const { spec, dropped, defaults } = imported('v4-wordpress.json');
    assert.deepEqual(
      spec.components.map((c) => c.name),
      ['wp', 'db'],
    );
    assert.equal(spec.components[0].env.WORDPRESS_DB_HOST, 'db:3306');
    assert.ok(defaults.some((d) => d.includes('host fluxdb_wordpress1700000000 -> db')));
    assert.equal(spec.components[1].volumes?.[0].mode, 'replicated', 'r: is a primary with standbys');
    assert.ok(dropped.some((d) => d.startsWith('compose.wp.domains[0]: "blog.example.com"')));
    assert.ok(
      !dropped.some((d) => d.startsWith('compose.db.description')),
      'an empty description is not news',
    );
  });

  it('v7: geolocation maps to regions; denies, contacts, staticip and an invalid env name are reported', () => {
    const { spec, dropped, defaults } = imported('v7-minecraft.json');
    assert.deepEqual(spec.geolocation, ['EU', 'NA-US']);
    assert.equal(spec.instances, 1);
    assert.equal(spec.expiryBlocks, 88_000, 'Flux blocks are 30 s since PoN, as mainnet blocks here');
    assert.equal(spec.components[0].hdd, 1);
    assert.equal(spec.components[0].volumes?.[0].size, 21);
    assert.equal(spec.components[0].env['enable-rcon'], undefined);
    for (const start of [
      'geolocation: "acNA_US_CA": regions are continents and countries here; widened to NA-US',
      'geolocation: "a!cEU_RU": placement cannot exclude',
      'contacts: 1 contact(s)',
      'staticip: ',
      'compose.mc.environmentParameters.enable-rcon: environment names',
    ])
      assert.ok(
        dropped.some((d) => d.startsWith(start)),
        start,
      );
    assert.ok(defaults.includes('compose.mc: hdd 20.5 -> 21 GB (at least 1, steps of 1)'));
  });

  it('v8: carried whole; /tmp as containerData needs no volume', () => {
    const { spec, dropped } = imported('v8-e2etestapp.json');
    assert.equal(spec.name, 'e2etestapp');
    assert.equal(spec.expiryBlocks, 22_000);
    assert.deepEqual(spec.components[0].ports, [{ container: 80, host: 31111, protocol: 'tcp' }]);
    assert.ok(!dropped.some((d) => d.includes('containerData')));
  });

  it('v8 enterprise: refused, since its components are encrypted', () => {
    const c = importFluxSpec(fixture('v8-enterprise.json'), mainnet);
    assert.ok(!c.result.ok);
    assert.match(c.result.error.message, /enterprise app/);
    assert.deepEqual(c.spec, {});
  });
});

describe('FluxOS spec import, case by case', () => {
  const v8 = JSON.parse(fixture('v8-e2etestapp.json')) as Record<string, unknown>;

  it('refuses text that is not JSON, and an unknown version, saying which', () => {
    const notJson = importFluxSpec('name: web\n', mainnet);
    assert.ok(!notJson.result.ok);
    assert.match(notJson.result.error.message, /^not JSON: /);
    const v9 = importFluxSpec(JSON.stringify({ ...v8, version: 9 }), mainnet);
    assert.ok(!v9.result.ok);
    assert.match(
      v9.result.error.message,
      /unknown FluxOS spec version 9 \(this importer knows 1, 2, 3, 4, 5, 6, 7, 8\)/,
    );
    const none = importFluxSpec('{"name":"x"}', mainnet);
    assert.ok(!none.result.ok);
    assert.match(none.result.error.message, /unknown FluxOS spec version null/);
  });

  it("unwraps FluxOS's API answer ({status, data})", () => {
    const c = importFluxSpec(JSON.stringify({ status: 'success', data: v8 }), mainnet);
    assert.ok(c.result.ok);
    assert.equal(c.result.spec.name, 'e2etestapp');
  });

  it('converts expire to this chain’s block time and clamps it into its bounds', () => {
    const c = importFluxSpec(JSON.stringify({ ...v8, expire: 1_000_000 }), devnet);
    assert.ok(c.result.ok, JSON.stringify(c.result));
    assert.ok(c.result.spec.expiryBlocks <= devnet.apps.maxBlocks);
    const tiny = importFluxSpec(JSON.stringify({ ...v8, expire: 1 }), mainnet);
    assert.ok(tiny.result.ok);
    assert.equal(tiny.result.spec.expiryBlocks, mainnet.apps.minBlocks);
    assert.ok(tiny.defaults.some((d) => d.startsWith('expiryBlocks: 1 -> 10')));
  });

  it('reports chosen nodes, repoauth and v7 secrets, and legacy geolocation pins', () => {
    const c = importFluxSpec(
      JSON.stringify({
        ...v8,
        version: 7,
        enterprise: undefined,
        nodes: ['abc:0'],
        geolocation: ['aEU', 'bDE'],
        compose: [{ ...(v8.compose as object[])[0], repoauth: 'pgp...', secrets: 'pgp...', tiered: false }],
      }),
      mainnet,
    );
    assert.ok(c.result.ok, JSON.stringify(c.result));
    assert.deepEqual(c.result.spec.geolocation, ['EU-DE']);
    for (const start of [
      'nodes: 1 chosen Flux node(s)',
      'compose.e2eTestApp.repoauth:',
      'compose.e2eTestApp.secrets:',
    ])
      assert.ok(
        c.dropped.some((d) => d.startsWith(start)),
        start,
      );
  });

  it('acALL leaves placement unconstrained; a country without a continent is reported', () => {
    const all = importFluxSpec(JSON.stringify({ ...v8, geolocation: ['acALL'] }), mainnet);
    assert.ok(all.result.ok);
    assert.equal(all.result.spec.geolocation, undefined);
    const country = importFluxSpec(JSON.stringify({ ...v8, geolocation: ['bDE'] }), mainnet);
    assert.ok(country.result.ok);
    assert.equal(country.result.spec.geolocation, undefined);
    assert.ok(
      country.dropped.some((d) => d.startsWith('geolocation: "bDE": a country without its continent')),
    );
  });

  it('a spec our validation refuses still comes back, with the issues (a port below 1024)', () => {
    const low = { ...v8, compose: [{ ...(v8.compose as object[])[0], ports: [80] }] };
    const c = importFluxSpec(JSON.stringify(low), mainnet);
    assert.ok(!c.result.ok);
    assert.ok(c.result.error.issues.some((i) => i.field === 'components[0].ports[0].host'));
    assert.equal((c.spec.components as unknown[]).length, 1);
  });

  it('is deterministic: the same text gives the same spec and report', () => {
    const text = fixture('v7-minecraft.json');
    assert.deepEqual(importFluxSpec(text, mainnet), importFluxSpec(text, mainnet));
  });
});
