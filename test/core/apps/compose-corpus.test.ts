// Real compose files from public projects (test/fixtures/compose/SOURCES.md), each converted and
// compared with the expected spec, refusal and report beside it. OFX_UPDATE_FIXTURES=1 rewrites the
// expectations; read the diff before committing it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type ComposeOptions, convertCompose } from '../../../src/core/apps/compose.ts';
import { mainnet } from '../../../src/core/params/index.ts';

const DIR = join(import.meta.dirname, '../../fixtures/compose');
const UPDATE = process.env.OFX_UPDATE_FIXTURES === '1';

// The variables a fixture is converted with, as `--env-file` would give them (none: the shell's
// environment never reaches core, so an unset variable shows in the report).
const VARIABLES: Record<string, Record<string, string>> = {
  'airflow-with-env': { AIRFLOW_IMAGE_NAME: 'apache/airflow:2.10.5', AIRFLOW_UID: '50000' },
  'awesome-wireguard': { TIMEZONE: 'Europe/Berlin', VPN_SERVER_URL: 'vpn.example.org' },
};
// A second conversion of a file under another name, with other variables.
const ALIASES: Record<string, string> = { 'airflow-with-env': 'airflow' };

function expectation(file: string, opts: ComposeOptions) {
  const c = convertCompose(readFileSync(join(DIR, file), 'utf8'), mainnet, opts);
  return {
    valid: c.result.ok,
    ...(c.result.ok ? { spec: c.result.spec } : { refused: c.result.error.message, spec: c.spec }),
    dropped: c.dropped,
    defaults: c.defaults,
  };
}

const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => f.slice(0, -4));

describe('compose corpus', () => {
  it('holds at least 30 real compose files, each with a source and an expectation', () => {
    const sources = readFileSync(join(DIR, 'SOURCES.md'), 'utf8');
    assert.ok(fixtures.length >= 30, `only ${fixtures.length} fixtures`);
    for (const f of fixtures) assert.match(sources, new RegExp(`\`${f}\\.yml\``), `${f}.yml has no source`);
  });

  for (const name of [...fixtures, ...Object.keys(ALIASES)].sort()) {
    it(`converts ${name}`, () => {
      const file = `${ALIASES[name] ?? name}.yml`;
      const got = expectation(file, {
        name: name
          .replace(/^awesome-/, '')
          .toLowerCase()
          .slice(0, 32),
        variables: VARIABLES[name],
        // A service's env_file, beside the compose file as the CLI reads it (none is committed: its absence shows).
        readEnvFile: (p) => {
          try {
            return readFileSync(join(DIR, p), 'utf8');
          } catch {
            return undefined;
          }
        },
      });
      const path = join(DIR, `${name}.expected.json`);
      if (UPDATE) writeFileSync(path, `${JSON.stringify(got, null, 2)}\n`);
      assert.deepEqual(got, JSON.parse(readFileSync(path, 'utf8')));
    });
  }
});
