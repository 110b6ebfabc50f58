import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { convertCompose } from '../../../src/core/apps/compose.ts';
import {
  instanceResources,
  isImageReference,
  parseAppSpec,
  startOrder,
  validateAppSpec,
} from '../../../src/core/apps/spec.ts';
import { devnet, mainnet } from '../../../src/core/params/index.ts';
import { GOOD } from './fixtures.ts';

function issues(input: unknown, params = mainnet): string[] {
  const r = validateAppSpec(input, params);
  assert.equal(r.ok, false, 'expected the spec to be refused');
  return r.ok ? [] : r.error.issues.map((i) => `${i.field}: ${i.message}`);
}

describe('app spec', () => {
  it('accepts a good spec and fills in defaults', () => {
    const r = validateAppSpec(GOOD, mainnet);
    assert.ok(r.ok);
    assert.equal(r.spec.components[0].gpu, 0);
    assert.equal(r.spec.components[0].ports[0].protocol, 'tcp');
  });

  it('reads YAML', () => {
    const yaml = `version: 1\nname: yaml-app\ninstances: 1\nexpiryBlocks: 100\ncomponents:\n  - name: web\n    image: busybox\n    cpu: 0.5\n    ram: 128\n    hdd: 2\n`;
    const r = parseAppSpec(yaml, mainnet);
    assert.ok(r.ok, r.ok ? '' : r.error.message);
  });

  it('names the field of a bad host port', () => {
    const bad = structuredClone(GOOD);
    bad.components[0].ports[0].host = 80;
    assert.match(issues(bad).join(), /components\[0\]\.ports\[0\]\.host: host port must be in 1024\.\.65535/);
  });

  it('refuses more RAM than any tier offers', () => {
    const bad = structuredClone(GOOD);
    bad.components[0].ram = 64_001;
    assert.match(
      issues(bad).join(),
      /components\[\]\.ram: .*64001 MB; the largest tier \(stratus\) offers 64000 MB/,
    );
    bad.components[0].ram = 2_500;
    assert.match(issues(bad, devnet).join(), /offers 2000 MB/);
  });

  it('refuses duplicate component names and host ports', () => {
    const bad = structuredClone(GOOD);
    bad.components.push({ ...bad.components[0] });
    const text = issues(bad).join('\n');
    assert.match(text, /components\[1\]\.name: duplicate component name "web"/);
    assert.match(text, /components\[1\]\.ports\[0\]\.host: host port 31000\/tcp is also published/);
  });

  it('accepts a health check and keeps a spec without one valid', () => {
    const withCheck = structuredClone(GOOD) as typeof GOOD & {
      components: Array<(typeof GOOD.components)[0] & { healthCheck?: unknown }>;
    };
    withCheck.components[0].healthCheck = { protocol: 'http', path: '/health?deep=1', intervalSec: 10 };
    const r = validateAppSpec(withCheck, mainnet);
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.deepEqual(r.spec.components[0].healthCheck, {
      protocol: 'http',
      path: '/health?deep=1',
      intervalSec: 10,
    });
    const tcp = structuredClone(withCheck);
    tcp.components[0].healthCheck = { protocol: 'tcp', port: 31000, timeoutSec: 1, unhealthyAfter: 3 };
    assert.ok(validateAppSpec(tcp, mainnet).ok);
    const plain = validateAppSpec(GOOD, mainnet);
    assert.ok(plain.ok);
    assert.equal(plain.spec.components[0].healthCheck, undefined);
    assert.equal('healthCheck' in plain.spec.components[0], false, 'nothing added to a spec without a check');
  });

  it('names the field and the rule of a bad health check', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ protocol: 'udp' }, /components\[0\]\.healthCheck\.protocol: must be 'http' or 'tcp'/],
      [{ protocol: 'http', path: 'health' }, /healthCheck\.path: must start with '\/'/],
      [{ protocol: 'http', path: '/a b' }, /healthCheck\.path: must start with '\/' and contain no spaces/],
      [{ protocol: 'tcp', path: '/health' }, /healthCheck\.path: only an http check has a path/],
      [
        { protocol: 'tcp', port: 32000 },
        /healthCheck\.port: 32000 is not a TCP host port this component publishes \(31000\)/,
      ],
      [{ protocol: 'http', intervalSec: 0 }, /healthCheck\.intervalSec: interval must be in 1\.\.60 seconds/],
      [
        { protocol: 'http', intervalSec: 61 },
        /healthCheck\.intervalSec: interval must be in 1\.\.60 seconds/,
      ],
      [{ protocol: 'http', intervalSec: 1.5 }, /healthCheck\.intervalSec: must be whole seconds/],
      [
        { protocol: 'http', intervalSec: 2, timeoutSec: 5 },
        /healthCheck\.timeoutSec: timeout \(5 s\) must not exceed the interval \(2 s\)/,
      ],
      [
        { protocol: 'http', unhealthyAfter: 0 },
        /healthCheck\.unhealthyAfter: must be in 1\.\.10 consecutive failures/,
      ],
      [{ protocol: 'http', retries: 3 }, /components\[0\]\.healthCheck: .*retries/],
    ];
    for (const [healthCheck, rule] of cases) {
      const bad = structuredClone(GOOD) as unknown as { components: Array<Record<string, unknown>> };
      bad.components[0].healthCheck = healthCheck;
      assert.match(issues(bad).join('\n'), rule, JSON.stringify(healthCheck));
    }
    const noPorts = structuredClone(GOOD) as unknown as { components: Array<Record<string, unknown>> };
    noPorts.components[0].ports = [];
    noPorts.components[0].healthCheck = { protocol: 'tcp' };
    assert.match(
      issues(noPorts).join(),
      /components\[0\]\.healthCheck: the component publishes no TCP port to check/,
    );
  });

  it('checks dependsOn: other components of the app, once each, no cycle; starts dependencies first', () => {
    const app = (deps: Record<string, string[]>) => ({
      ...GOOD,
      components: Object.entries(deps).map(([name, dependsOn], i) => ({
        ...GOOD.components[0],
        name,
        ports: [{ container: 80, host: 30_000 + i }],
        dependsOn,
      })),
    });
    assert.deepEqual(issues(app({ web: ['web'] })), [
      'components[0].dependsOn[0]: a component cannot depend on itself',
    ]);
    assert.deepEqual(issues(app({ web: ['db'] })), [
      'components[0].dependsOn[0]: "db" is not a component of this app',
    ]);
    assert.deepEqual(issues(app({ web: ['db', 'db'], db: [] })), [
      'components[0].dependsOn[1]: lists "db" twice',
    ]);
    assert.deepEqual(issues(app({ a: ['b'], b: ['c'], c: ['a'] })), [
      'components[].dependsOn: a cycle: a -> b -> c -> a',
    ]);
    const r = validateAppSpec(app({ web: ['api'], api: ['db', 'cache'], cache: [], db: [] }), mainnet);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(
      startOrder(r.spec.components).map((c) => c.name),
      ['db', 'cache', 'api', 'web'],
    );
  });

  it('checks volumes: a mount that is not / or the kernel, not over another, one name each, a size that fits', () => {
    const withVolumes = (...volumes: Array<Record<string, unknown>>) => ({
      ...GOOD,
      components: [{ ...GOOD.components[0], volumes }],
    });
    const ok = validateAppSpec(withVolumes({ name: 'data', mount: '/var/lib/db', size: 5 }), mainnet);
    assert.ok(ok.ok, JSON.stringify(ok));
    assert.equal(ok.spec.components[0].volumes?.[0].mode, 'replicated');
    assert.deepEqual(issues(withVolumes({ name: 'a', mount: '/', size: 1 })), [
      'components[0].volumes[0].mount: a volume cannot cover the whole container (/)',
    ]);
    assert.deepEqual(issues(withVolumes({ name: 'a', mount: '/proc/x', size: 1 })), [
      'components[0].volumes[0].mount: /proc/x belongs to the kernel (/proc, /sys, /dev)',
    ]);
    assert.deepEqual(
      issues(
        withVolumes({ name: 'a', mount: '/data', size: 1 }, { name: 'b', mount: '/data/sub/', size: 1 }),
      ),
      ['components[0].volumes[1].mount: /data/sub and /data overlap (one inside the other)'],
    );
    assert.deepEqual(
      issues(withVolumes({ name: 'a', mount: '/x', size: 1 }, { name: 'a', mount: '/y', size: 1 })),
      ['components[0].volumes[1].name: volume "a" is also components[0].volumes[0]'],
    );
    assert.deepEqual(issues(withVolumes({ name: 'a', mount: '/x', size: 0 })), [
      'components[0].volumes[0].size: size must be at least 1 GB',
    ]);
    assert.ok(
      issues(withVolumes({ name: 'a', mount: '/x', size: 5000 })).includes(
        'components[0].volumes[0].size: 5000 GB; the largest tier (stratus) offers 880 GB of disk',
      ),
    );
    assert.deepEqual(issues(withVolumes({ name: 'a', mount: 'relative', size: 1 })), [
      'components[0].volumes[0].mount: must be an absolute path (starting with /, no : or ,)',
    ]);
    // The volume counts in the instance's disk, so in its price.
    const plain = validateAppSpec(GOOD, mainnet);
    assert.ok(plain.ok && ok.ok);
    assert.equal(instanceResources(ok.spec).hddGb, instanceResources(plain.spec).hddGb + 5);
  });

  it('refuses what is not an image reference', () => {
    for (const image of ['Ubuntu', 'nginx:', 'a b', '', 'http://x/y', 'x@sha256:abc']) {
      const bad = structuredClone(GOOD);
      bad.components[0].image = image;
      assert.match(issues(bad).join(), /components\[0\]\.image: is not an image reference/, image);
    }
    for (const image of [
      'busybox',
      'nginx:1.27-alpine',
      'registry.example:5000/team/web:1.2',
      'localhost/app',
      `a/b@sha256:${'a'.repeat(64)}`,
    ])
      assert.ok(isImageReference(image), image);
  });

  it('refuses other versions, bad names, cpu steps and durations', () => {
    assert.match(issues({ ...GOOD, version: 2 }).join(), /version: version must be 1/);
    assert.match(issues({ ...GOOD, name: 'Bad_Name' }).join(), /name: must be 3-32 lowercase/);
    assert.match(issues({ ...GOOD, expiryBlocks: 1 }).join(), /expiryBlocks: must be in 10\.\./);
    const bad = structuredClone(GOOD);
    bad.components[0].cpu = 0.15;
    assert.match(issues(bad).join(), /components\[0\]\.cpu: cpu must be a multiple of 0\.1/);
    assert.match(issues({ ...GOOD, extra: 1 }).join(), /Unrecognized key/);
  });

  it('accepts regions in the FluxNode region format and names the rule otherwise', () => {
    const r = validateAppSpec({ ...GOOD, geolocation: ['EU', 'NA-US'] }, mainnet);
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.deepEqual(r.spec.geolocation, ['EU', 'NA-US']);
    assert.match(
      issues({ ...GOOD, geolocation: ['EU', 'DE'] }).join(),
      /geolocation\[1\]: a region is a continent \(AF, AN, AS, EU, NA, OC, SA\), optionally followed by an ISO 3166-1 alpha-2 country code/,
    );
    assert.match(issues({ ...GOOD, geolocation: ['eu-de'] }).join(), /geolocation\[0\]: a region is/);
    assert.match(issues({ ...GOOD, geolocation: [] }).join(), /geolocation: list at least one region/);
    assert.match(issues({ ...GOOD, geolocation: ['EU', 'EU'] }).join(), /geolocation: lists a region twice/);
  });

  it('never throws on random input and always gives a result', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const r = validateAppSpec(input, mainnet);
        assert.ok(r.ok || (r.error.code === 'BAD_SPEC' && r.error.message.length > 0));
      }),
      { numRuns: 300 },
    );
    const component = fc.record({
      name: fc.string({ maxLength: 6 }),
      image: fc.constantFrom('busybox', 'Bad Image', 'x/y:1'),
      ports: fc.array(
        fc.record({
          container: fc.integer({ min: -5, max: 70_000 }),
          host: fc.integer({ min: 0, max: 70_000 }),
        }),
        { maxLength: 3 },
      ),
      cpu: fc.double({ min: -1, max: 100, noNaN: true }),
      ram: fc.integer({ min: -1, max: 100_000 }),
      hdd: fc.integer({ min: 0, max: 2000 }),
    });
    fc.assert(
      fc.property(
        fc.record({
          version: fc.constantFrom(1, 2),
          name: fc.string({ maxLength: 10 }),
          instances: fc.integer({ min: -1, max: 200 }),
          expiryBlocks: fc.integer({ min: 0, max: 2_000_000 }),
          components: fc.array(component, { maxLength: 3 }),
        }),
        (input) => {
          const r = validateAppSpec(input, mainnet);
          if (!r.ok) for (const i of r.error.issues) assert.ok(i.field.length > 0 && i.message.length > 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('compose conversion', () => {
  it('carries images, ports, env, command and limits, and lists what it dropped', () => {
    const compose = `
services:
  web:
    image: nginx:1.27
    ports: ["8080:80", "127.0.0.1:8443:443/tcp", "9000"]
    environment:
      - MODE=prod
    command: nginx -g "daemon off;"
    volumes: ["./data:/data"]
    deploy:
      replicas: 3
      resources: { limits: { cpus: "0.5", memory: 512M } }
  db:
    build: .
volumes:
  data: {}
`;
    const c = convertCompose(compose, mainnet, { name: 'shop' });
    const web = (c.spec.components as Array<Record<string, unknown>>)[0];
    assert.deepEqual(web.ports, [
      { container: 80, host: 8080, protocol: 'tcp' },
      { container: 443, host: 8443, protocol: 'tcp' },
    ]);
    assert.deepEqual(web.env, { MODE: 'prod' });
    assert.equal(web.cpu, 0.5);
    assert.equal(web.ram, 512);
    assert.equal(c.spec.instances, 3);
    const dropped = c.dropped.join('\n');
    assert.match(
      dropped,
      /services\.web\.volumes\[0\]: a bind mount of the host.s \.\/data is not supported/,
    );
    assert.match(dropped, /services\.db\.build: not supported/);
    assert.match(dropped, /9000 has no host port/);
    assert.doesNotMatch(dropped, /^volumes/m, 'a declared volume with no options needs no word');
    // db has no image: the spec is refused and says where.
    assert.equal(c.result.ok, false);
    assert.match(c.result.ok ? '' : c.result.error.message, /components\[1\]\.image/);
  });
});
