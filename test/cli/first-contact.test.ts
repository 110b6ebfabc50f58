// What a new user meets first: `node bin/flux.js` under whatever Node is on the PATH, help for
// every group and command, and errors that say what was wrong.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const flux = join(root, 'bin', 'flux.js');
const dir = mkdtempSync(join(tmpdir(), 'openflux-first-'));

/** Runs `flux ARGS` as a user would, with the Node given (default: this one, Node 24). */
function run(args: string[], node = process.execPath, env: Record<string, string> = {}) {
  const r = spawnSync(node, [flux, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FLUX_API: 'http://127.0.0.1:9', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A Node older than 24 on this machine (Debian's), if there is one. */
function olderNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
      if (Number(version.slice(1).split('.')[0]) < 24) return candidate;
    } catch {}
  }
  return undefined;
}

describe('first contact', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('bin/flux.js runs under an older Node by handing over to the Node 24 that npm installed', (t) => {
    const old = olderNode();
    if (old === undefined) {
      t.skip('no Node older than 24 on this machine');
      console.log('# skipped: no Node older than 24 on this machine');
      return;
    }
    const r = run(['--help'], old);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /usage: flux COMMAND/);
    const failed = run(['chain', 'info'], old);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /cannot reach the node API/);
  });

  it('every group answers --help with its own commands', () => {
    for (const group of ['wallet', 'node', 'job', 'app', 'devnet', 'chain']) {
      const r = run([group, '--help']);
      assert.equal(r.code, 0, `${group}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`usage: flux ${group} COMMAND`));
      for (const line of r.stdout.split('\n').filter((l) => l.startsWith('  ')))
        assert.ok(line.trim().startsWith(`${group} `), line);
    }
    const none = run(['job']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /flux job: which command\?/);
    const unknown = run(['job', 'frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'job frobnicate'/);
  });

  it('every command answers --help with its own usage only', () => {
    const r = run(['devnet', 'up', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: flux devnet up/);
    assert.doesNotMatch(r.stdout, /wallet create/);
  });

  it('app convert on a file that is not YAML says why and prints no spec', () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'services:\n  web: [\n   image: x\n');
    const r = run(['app', 'convert', bad]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /bad\.yml: compose file is not YAML: line 4, column 1: /);
  });

  it("app convert reads --env-file, and this shell's environment over it", () => {
    const compose = join(dir, 'env-compose.yml');
    const envFile = join(dir, 'vars.env');
    writeFileSync(
      compose,
      [
        'services:',
        '  web:',
        `    image: nginx:\${TAG}`,
        '    ports: ["80:80"]',
        '    environment:',
        '      - FROM_SHELL',
        `      - GREETING=\${HELLO:-hi}`,
        '      - NOWHERE',
        '',
      ].join('\n'),
    );
    writeFileSync(envFile, 'TAG=1.0\nHELLO=hello\n');
    const r = run(['app', 'convert', compose, '--env-file', envFile, '--name', 'envapp'], process.execPath, {
      TAG: '1.27',
      FROM_SHELL: 'shell',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /image: nginx:1\.27/);
    assert.match(r.stdout, /FROM_SHELL: shell/);
    assert.match(r.stdout, /GREETING: hello/);
    assert.match(r.stderr, /not carried over: services\.web\.environment\.NOWHERE: has no value/);
    assert.match(r.stderr, /host port 80 -> 8080; the ingress serves it as envapp\.<domain>/);
    const help = run(['app', 'convert', '--help']);
    assert.match(help.stdout, /--env-file \.env/);
  });

  it('app import-flux prints the spec and the report; refuses non-JSON and an unknown version', () => {
    const spec = join(root, 'test', 'fixtures', 'flux-spec', 'v4-wordpress.json');
    const r = run(['app', 'import-flux', spec]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# imported from .*v4-wordpress\.json/);
    assert.match(r.stdout, /WORDPRESS_DB_HOST: db:3306/);
    assert.match(r.stdout, /mount: \/var\/lib\/mysql/);
    assert.match(
      r.stderr,
      /not carried over: compose\.db\.containerData: r: syncs the writes of every running instance/,
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, 'version: 3\n');
    const notJson = run(['app', 'import-flux', bad]);
    assert.equal(notJson.code, 1);
    assert.equal(notJson.stdout, '');
    assert.match(notJson.stderr, /bad\.json: not JSON: /);
    const v9 = join(dir, 'v9.json');
    writeFileSync(v9, '{"version": 9, "name": "x"}');
    assert.match(run(['app', 'import-flux', v9]).stderr, /unknown FluxOS spec version 9/);
    assert.match(run(['app', 'import-flux', '--help']).stdout, /^usage: flux app import-flux SPEC\.json/);
  });
});
