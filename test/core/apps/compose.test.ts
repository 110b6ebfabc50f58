import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertCompose, memoryMb, parseEnvFile, splitShellWords } from '../../../src/core/apps/compose.ts';
import { validateAppSpec } from '../../../src/core/apps/spec.ts';
import { mainnet } from '../../../src/core/params/index.ts';
import { GOOD } from './fixtures.ts';

type Component = Record<string, unknown> & { env: Record<string, string>; ports: unknown[] };
const components = (c: ReturnType<typeof convertCompose>) => c.spec.components as Component[];

describe('compose conversion, case by case', () => {
  it('follows merge keys: the inherited environment, volumes and command arrive', () => {
    const c = convertCompose(
      `
x-common: &common
  image: busybox:1.36
  command: ["sleep", "1000"]
  environment: &env
    A: "1"
  volumes: ["data:/data"]
services:
  one:
    <<: *common
  two:
    <<: *common
    environment:
      <<: *env
      B: "2"
`,
      mainnet,
      { name: 'merged' },
    );
    assert.ok(c.result.ok, JSON.stringify(c.result));
    const [one, two] = components(c);
    assert.equal(one.image, 'busybox:1.36');
    assert.deepEqual(one.command, ['sleep', '1000']);
    assert.deepEqual(one.env, { A: '1' });
    assert.deepEqual(two.env, { A: '1', B: '2' });
    assert.deepEqual(one.volumes, [{ name: 'data', mount: '/data', size: 1 }]);
    // The inherited volume is one component's: the second service to mount it is told.
    assert.ok(
      c.dropped.some((d) =>
        d.startsWith('services.two.volumes[0]: volume data is also mounted by services.one'),
      ),
    );
    assert.ok(!c.dropped.some((d) => d.includes('<<') || d.startsWith('x-common')));
  });

  it('interpolates braced, defaulted and bare variables and $$ from the variables passed in', () => {
    const c = convertCompose(
      `
services:
  web:
    image: nginx:\${TAG:-1.27}
    environment:
      SET: \${SET}
      EMPTY_COLON: \${EMPTY:-fallback}
      EMPTY_DASH: \${EMPTY-fallback}
      BARE: $SET/x
      DOLLAR: "$$HOME"
      NESTED: \${NOPE:-\${SET}}
      MISSING: \${MISSING}
`,
      mainnet,
      { name: 'interp', variables: { SET: 'yes', EMPTY: '' } },
    );
    const [web] = components(c);
    assert.equal(web.image, 'nginx:1.27');
    assert.deepEqual(web.env, {
      SET: 'yes',
      EMPTY_COLON: 'fallback',
      EMPTY_DASH: '',
      BARE: 'yes/x',
      DOLLAR: '$HOME',
      NESTED: 'yes',
      MISSING: '',
    });
    assert.ok(
      c.dropped.includes("services.web.environment.MISSING: variable MISSING is not set; substituted ''"),
    );
    assert.ok(!c.dropped.some((d) => /variable (TAG|NOPE|EMPTY)/.test(d)), c.dropped.join('\n'));
  });

  it('names a required variable that is not set', () => {
    const c = convertCompose(`services:\n  a:\n    image: "x:\${T:?set T first}"\n`, mainnet, {
      name: 'req',
    });
    assert.ok(c.dropped.some((d) => d.includes('required variable T is not set (set T first)')));
  });

  it('takes a list entry without = from the variables, or names it', () => {
    const c = convertCompose(
      'services:\n  a:\n    image: busybox\n    environment: [FROM_VARS, NOT_SET, "X=1"]\n',
      mainnet,
      { name: 'envlist', variables: { FROM_VARS: 'v' } },
    );
    assert.deepEqual(components(c)[0].env, { FROM_VARS: 'v', X: '1' });
    assert.ok(c.dropped.some((d) => d.startsWith('services.a.environment.NOT_SET: has no value')));
  });

  it('splits a string command by shell rules', () => {
    assert.deepEqual(splitShellWords(`sh -c "a && b"`), { ok: true, words: ['sh', '-c', 'a && b'] });
    assert.deepEqual(splitShellWords(`echo 'it''s' "a \\"q\\" \\$x" b\\ c ""`), {
      ok: true,
      words: ['echo', 'its', 'a "q" $x', 'b c', ''],
    });
    assert.equal(splitShellWords(`echo "open`).ok, false);
    const c = convertCompose(`services:\n  a:\n    image: busybox\n    command: sh -c "a && b"\n`, mainnet, {
      name: 'cmd',
    });
    assert.deepEqual(components(c)[0].command, ['sh', '-c', 'a && b']);
  });

  it('reads memory in binary units', () => {
    assert.equal(memoryMb('1.5G'), 1536);
    assert.equal(memoryMb('512m'), 512);
    assert.equal(memoryMb('512MB'), 512);
    assert.equal(memoryMb('1GiB'), 1024);
    assert.equal(memoryMb('2048k'), 2);
    assert.equal(memoryMb(268435456), 256);
    assert.equal(memoryMb('lots'), undefined);
    const c = convertCompose(
      'services:\n  a:\n    image: busybox\n    deploy: {resources: {limits: {memory: 1.5G}}}\n',
      mainnet,
      { name: 'mem' },
    );
    assert.equal(components(c)[0].ram, 1536);
  });

  it('says on which line the YAML parser refused the file', () => {
    const c = convertCompose('services:\n  web: [\n   image: x\n', mainnet);
    assert.equal(c.result.ok, false);
    assert.match(c.result.ok ? '' : c.result.error.message, /^compose file is not YAML: line 4, column 1: /);
    const scalar = convertCompose('just a string', mainnet);
    assert.match(scalar.result.ok ? '' : scalar.result.error.message, /not a mapping/);
  });

  it('names the rule for an environment name with a dot', () => {
    const c = convertCompose(
      'services:\n  es:\n    image: elasticsearch:8.15.0\n    environment: ["discovery.type=single-node"]\n',
      mainnet,
      { name: 'es' },
    );
    assert.ok(
      c.dropped.includes(
        "services.es.environment.discovery.type: environment names are letters, digits and _, not starting with a digit (the spec's rule); left out",
      ),
    );
    // The spec itself names the rule too, not zod's generic "Invalid key in record".
    const spec = structuredClone(GOOD) as { components: Array<{ env: Record<string, string> }> };
    spec.components[0].env = { 'discovery.type': 'single-node' };
    const r = validateAppSpec(spec, mainnet);
    assert.equal(r.ok, false);
    assert.match(
      r.ok ? '' : r.error.message,
      /^components\[0\]\.env: "discovery\.type": environment names are letters, digits and _/,
    );
  });

  it('moves host ports below 1024 up; port 80 becomes the ingress route, listed first', () => {
    const c = convertCompose(
      `
services:
  db:
    image: postgres:16
    ports: ["5432:5432"]
  web:
    image: nginx:1.27
    ports: ["80:80", "8080:8081", "53:53/udp"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost/healthz"]
      interval: 10s
      timeout: 3s
      retries: 3
`,
      mainnet,
      { name: 'site' },
    );
    assert.ok(c.result.ok, JSON.stringify(c.result));
    const [web, db] = components(c);
    assert.equal(web.name, 'web');
    assert.equal(db.name, 'db');
    // 80 + 8000 = 8080 is taken, so the next free port.
    assert.deepEqual(web.ports, [
      { container: 80, host: 8081, protocol: 'tcp' },
      { container: 8081, host: 8080, protocol: 'tcp' },
      { container: 53, host: 8053, protocol: 'udp' },
    ]);
    assert.deepEqual(web.healthCheck, {
      protocol: 'http',
      path: '/healthz',
      port: 8081,
      intervalSec: 10,
      timeoutSec: 3,
      unhealthyAfter: 3,
    });
    assert.ok(c.defaults.some((d) => d.includes('80 -> 8081; the ingress serves it as site.<domain>')));
    assert.ok(c.defaults.some((d) => d.includes('53/udp -> 8053')));
  });

  it('names a healthcheck it cannot carry', () => {
    const c = convertCompose(
      'services:\n  db:\n    image: redis:7\n    ports: ["6379:6379"]\n    healthcheck: {test: ["CMD", "redis-cli", "ping"]}\n',
      mainnet,
      { name: 'hc' },
    );
    assert.equal(components(c)[0].healthCheck, undefined);
    assert.ok(
      c.dropped.some((d) => d.startsWith('services.db.healthcheck: "CMD redis-cli ping" is not an HTTP GET')),
    );
  });

  it('carries depends_on (list or map) as dependsOn, saying how a condition is taken', () => {
    const text = [
      'services:',
      '  web:',
      '    image: nginx',
      '    depends_on:',
      '      db: { condition: service_healthy }',
      '      cache: { condition: service_started, restart: true }',
      '  worker: { image: busybox, depends_on: [db, ghost] }',
      '  db: { image: postgres }',
      '  cache: { image: redis }',
      '',
    ].join('\n');
    const c = convertCompose(text, mainnet, { name: 'deps' });
    assert.ok(c.result.ok, JSON.stringify(c.result));
    const [web, worker] = components(c);
    assert.deepEqual(web.dependsOn, ['db', 'cache']);
    assert.deepEqual(worker.dependsOn, ['db']);
    assert.deepEqual(
      c.dropped.filter((d) => d.includes('depends_on')),
      [
        'services.web.depends_on.db.condition: service_healthy taken as service_started (the spec waits until it runs)',
        'services.web.depends_on.cache.restart: not supported',
        'services.worker.depends_on.ghost: no such service; left out',
      ],
    );
  });

  it('carries entrypoint, a string one split by shell rules', () => {
    const c = convertCompose(
      `services:\n  a:\n    image: busybox\n    entrypoint: /bin/sh -c\n    command: ["echo hi && sleep 1"]\n`,
      mainnet,
      { name: 'entry' },
    );
    assert.ok(c.result.ok);
    assert.deepEqual(components(c)[0].entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(components(c)[0].command, ['echo hi && sleep 1']);
  });

  it('reads env_file through the reader, environment winning; names a file it cannot read', () => {
    const files: Record<string, string> = { 'app.env': 'A=from-file\nB=file\nbad.name=x\n' };
    const text = [
      'services:',
      '  a:',
      '    image: busybox',
      '    env_file: [app.env, missing.env, { path: optional.env, required: false }]',
      '    environment: { B: from-environment }',
      '',
    ].join('\n');
    const c = convertCompose(text, mainnet, { name: 'envf', readEnvFile: (p) => files[p] });
    assert.deepEqual(components(c)[0].env, { A: 'from-file', B: 'from-environment' });
    assert.deepEqual(
      c.dropped.filter((d) => d.includes('env_file')),
      [
        "services.a.env_file app.env: bad.name: environment names are letters, digits and _, not starting with a digit (the spec's rule); left out",
        'services.a.env_file: missing.env could not be read; its variables are left out',
      ],
    );
  });

  it('carries named and anonymous volumes of 1 GB, and names bind mounts and shared volumes', () => {
    const text = [
      'services:',
      '  db:',
      '    image: postgres',
      '    volumes: [pgdata:/var/lib/postgresql/data, /scratch, ./init.sql:/docker-entrypoint-initdb.d/init.sql]',
      '  backup:',
      '    image: busybox',
      '    volumes: [{ type: volume, source: pgdata, target: /backup }]',
      'volumes:',
      '  pgdata: {}',
      '',
    ].join('\n');
    const c = convertCompose(text, mainnet, { name: 'vols' });
    assert.ok(c.result.ok, JSON.stringify(c.result));
    assert.deepEqual(c.result.spec.components[0].volumes, [
      { name: 'pgdata', mount: '/var/lib/postgresql/data', size: 1, mode: 'replicated' },
      { name: 'scratch', mount: '/scratch', size: 1, mode: 'replicated' },
    ]);
    assert.equal(c.result.spec.components[1].volumes, undefined);
    assert.deepEqual(
      c.dropped.filter((d) => d.includes('volumes')),
      [
        "services.db.volumes[2]: a bind mount of the host's ./init.sql is not supported (only named volumes, which the node keeps); left out",
        'services.backup.volumes[0]: volume pgdata is also mounted by services.db; a volume belongs to one component; left out',
      ],
    );
    assert.ok(
      c.defaults.includes(
        'services.db.volumes[0]: volume pgdata of 1 GB at /var/lib/postgresql/data (compose does not size volumes)',
      ),
    );
  });

  it('reads an env file', () => {
    assert.deepEqual(parseEnvFile('# c\nA=1\nexport B="two words"\nC=x # note\nD=\'$lit\'\n\nbad line\n'), {
      A: '1',
      B: 'two words',
      C: 'x',
      D: '$lit',
    });
  });
});

describe('spec refuses control characters', () => {
  for (const [field, edit] of [
    ['components[0].env.A', (c: Record<string, unknown>) => Object.assign(c, { env: { A: 'a\u0000b' } })],
    [
      'components[0].command[1]',
      (c: Record<string, unknown>) => Object.assign(c, { command: ['sh', 'a\u0000b'] }),
    ],
    [
      'components[0].env.B',
      (c: Record<string, unknown>) => Object.assign(c, { env: { B: 'esc\u001b[31m' } }),
    ],
  ] as const) {
    it(`names ${field}`, () => {
      const spec = structuredClone(GOOD) as { components: Array<Record<string, unknown>> };
      edit(spec.components[0]);
      const r = validateAppSpec(spec, mainnet);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.error.code, 'BAD_SPEC');
      assert.ok(
        r.error.issues.some((i) => i.field === field && /NUL or other control characters/.test(i.message)),
        r.error.message,
      );
    });
  }
  it('lets a multi-line shell script through in a command and an environment value', () => {
    const spec = structuredClone(GOOD) as { components: Array<Record<string, unknown>> };
    Object.assign(spec.components[0], {
      command: ['sh', '-c', 'set -e\n\tmkdir -p /data\n'],
      env: { S: 'a\tb\nc' },
    });
    const r = validateAppSpec(spec, mainnet);
    assert.equal(r.ok, true, r.ok ? '' : r.error.message);
  });
  it('names the description', () => {
    const r = validateAppSpec({ ...structuredClone(GOOD), description: 'bell\u0007' }, mainnet);
    assert.match(r.ok ? '' : r.error.message, /^description: must not contain NUL/);
  });
});
