// The house's layering, checked on the import lines of src: the API contract (src/api) and the
// wallet (src/wallet) are libraries below both the node and the CLI; the CLI reaches into the
// node only where it runs one. And of the tests: what tests and benches share lives in
// test/support, which src never imports.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** Each relative import of a source file (static, dynamic and re-exports), as a path from the root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found = text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)'(\.{1,2}\/[^']+)'/gm);
  return [...found].map((m) => relative(ROOT, resolve(ROOT, dirname(file), m[1])));
}

function importsUnder(dir: string, target: string): string[] {
  return sources(dir).flatMap((f) =>
    importsOf(f)
      .filter((i) => i.startsWith(target))
      .map((i) => `${f} -> ${i}`),
  );
}

/** The CLI's imports of node modules, each where the command runs (part of) a node. */
const CLI_RUNS_A_NODE = new Set([
  // fluxd / flux node run: the daemon itself
  'src/cli/daemon.ts -> src/node/node.ts',
  'src/cli/daemon.ts -> src/node/genesis.ts',
  'src/cli/daemon.ts -> src/node/api/server.ts',
  'src/cli/daemon.ts -> src/node/miner/display.ts',
  // flux devnet: starts nodes, writes their genesis, keys and benchmark reports
  'src/cli/devnet.ts -> src/node/node.ts',
  'src/cli/devnet.ts -> src/node/genesis.ts',
  'src/cli/devnet.ts -> src/node/api/server.ts',
  'src/cli/devnet.ts -> src/node/p2p/index.ts',
  'src/cli/devnet-nodes.ts -> src/node/genesis.ts',
  'src/cli/devnet-nodes.ts -> src/node/fluxnode/benchmark.ts',
  'src/cli/devnet-nodes.ts -> src/node/fluxnode/devnet.ts',
  'src/cli/devnet-nodes.ts -> src/node/fluxnode/operator.ts',
  // flux devnet: the example image, and the devnet's app containers removed on `down`
  'src/cli/devnet-app.ts -> src/node/genesis.ts',
  'src/cli/devnet-app.ts -> src/node/fluxos/options.ts',
  'src/cli/devnet-app.ts -> src/node/fluxos/runtime.ts',
  'src/cli/devnet-app.ts -> src/node/fluxos/example-image.ts',
  // flux app build-example: builds the example image into the local Docker engine
  'src/cli/apps.ts -> src/node/fluxos/example-image.ts',
  // flux node benchmark / node start --datadir: the operator's machine measured, its node's datadir
  'src/cli/nodes.ts -> src/node/fluxnode/benchmark.ts',
  'src/cli/nodes.ts -> src/node/fluxnode/operator.ts',
]);

describe('layers', () => {
  it('keeps the API contract and the wallet below the node and the CLI', () => {
    assert.deepEqual([...importsUnder('src/api', 'src/node'), ...importsUnder('src/api', 'src/cli')], []);
    assert.deepEqual(importsUnder('src/api', 'src/wallet'), []);
    assert.deepEqual(
      [...importsUnder('src/wallet', 'src/node'), ...importsUnder('src/wallet', 'src/cli')],
      [],
    );
  });

  it('lets the node call a route without the typed client', () => {
    assert.deepEqual(importsUnder('src/node', 'src/api/client.ts'), []);
    assert.deepEqual(importsUnder('src/node', 'src/client'), []);
    // The node submits its own transactions to its chain (node/chain/submit.ts), not over HTTP.
    assert.deepEqual(importsUnder('src/node', 'src/wallet/send.ts'), []);
  });

  it('lets the CLI import node modules only where it runs a node', () => {
    const reached = importsUnder('src/cli', 'src/node/');
    assert.deepEqual(
      reached.filter((i) => !CLI_RUNS_A_NODE.has(i)),
      [],
    );
    // An entry no longer imported leaves the list, so the list stays what the CLI really reaches.
    assert.deepEqual(
      [...CLI_RUNS_A_NODE].filter((i) => !reached.includes(i)),
      [],
    );
  });

  it('keeps src free of test code, and test/support free of tests and benches', () => {
    assert.deepEqual(importsUnder('src', 'test/'), []);
    assert.deepEqual(importsUnder('src', 'bench/'), []);
    assert.deepEqual(
      importsUnder('test/support', 'test/').filter((i) => !i.split(' -> ')[1].startsWith('test/support/')),
      [],
    );
    assert.deepEqual(importsUnder('test/support', 'bench/'), []);
  });

  it('lets benches reach into the tests only through test/support', () => {
    // The chaos benchmark drives the chaos suite's own cluster (test/chaos), the one exception.
    const reached = importsUnder('bench', 'test/').filter(
      (i) => !i.split(' -> ')[1].startsWith('test/support/'),
    );
    assert.deepEqual(
      reached.filter((i) => !i.startsWith('bench/chaos.bench.ts -> test/chaos/')),
      [],
    );
  });

  it('says on the first line of each test/support module what it is for', () => {
    const silent = sources('test/support').filter(
      (f) => !readFileSync(join(ROOT, f), 'utf8').startsWith('// '),
    );
    assert.deepEqual(silent, []);
  });
});
