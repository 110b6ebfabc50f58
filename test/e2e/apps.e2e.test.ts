// End to end with real Docker: a 3-node devnet (`flux devnet up`), the example app deployed with
// 2 instances through the CLI; both answer HTTP on their nodes' own addresses; an update shows the
// new environment value; a cancel removes the containers and refunds the unused blocks.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { createClient } from '../../src/api/client.ts';
import { deriveKeyPair } from '../../src/core/crypto/hd.ts';
import { addressBytes, encodeAddress } from '../../src/core/crypto/keys.ts';
import { DEVNET_MNEMONIC } from '../../src/core/params/index.ts';
import { LABELS } from '../../src/node/fluxos/options.ts';
import { exampleImage, testDocker } from '../node/fluxos/docker.ts';
import { devnetUp, EXAMPLE, flux as runFlux, tearDownDevnet } from '../support/devnet.ts';
import { httpText } from '../support/http.ts';

/** The CLI with this file's longer limit: deploys wait for containers. */
const flux = (args: string[], env: Record<string, string>, stdin = '') => runFlux(args, env, stdin, 120_000);
const env = await testDocker();

describe('apps on a 3-node devnet with real Docker', { skip: env.skip, timeout: 240_000 }, () => {
  const docker = env.docker as Docker;
  const dir = mkdtempSync(join(tmpdir(), 'openflux-apps-'));
  const devnetDir = join(dir, 'devnet');
  const fluxEnv = { FLUX_WALLET_DIR: join(dir, 'wallet'), FLUX_PASSWORD: 'pw', HOME: dir };
  const name = `e2e-${process.pid}`;
  const port = 31_100 + (process.pid % 800);
  const owner = encodeAddress('tflux', addressBytes(deriveKeyPair(DEVNET_MNEMONIC, 0, 3).publicKey));
  let nodes: Array<{ index: number; api: string; pid: number }> = [];
  let api = '';

  const json = async (args: string[], stdin?: string) => {
    const r = await flux([...args, '--json', '--api', api], fluxEnv, stdin);
    assert.equal(r.code, 0, `flux ${args.join(' ')}:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const writeSpec = (greeting: string) => {
    const text = readFileSync(EXAMPLE, 'utf8')
      .replace('name: hello-web', `name: ${name}`)
      .replace('host: 31080', `host: ${port}`)
      .replace('GREETING: hello', `GREETING: ${greeting}`);
    const file = join(dir, `${greeting}.yaml`);
    writeFileSync(file, text);
    return file;
  };
  const containers = () =>
    docker.listContainers({ all: true, filters: { label: [`${LABELS.app}=${name}`] } });

  after(() => tearDownDevnet({ dir, devnetDir, env: fluxEnv, nodes, docker, app: name }));

  it('deploys 2 instances that answer HTTP, updates them, and cancels with a refund', async () => {
    await exampleImage(docker);
    const up = await devnetUp(devnetDir, fluxEnv, 3);
    nodes = up.nodes;
    api = nodes[0].api;
    await json(['wallet', 'import', '--accounts', '4'], `${DEVNET_MNEMONIC}\n`);

    const price = await json(['app', 'price', writeSpec('hello')]);
    assert.ok(BigInt(price.price.total) > 0n);

    const deployed = await json(['app', 'deploy', writeSpec('hello'), '--from', '3', '--timeout', '90']);
    assert.equal(deployed.running, 2);
    assert.equal(deployed.instances.length, 2);
    const endpoints: string[] = deployed.instances.map((i: { endpoints: string[] }) => i.endpoints[0]);
    assert.equal(new Set(endpoints).size, 2, 'two different nodes');
    for (const e of endpoints) {
      assert.match(e, new RegExp(`^127\\.0\\.0\\.\\d+:${port}$`));
      assert.equal(await httpText(`http://${e}/`), `hello from ${name}`);
    }
    const list = await containers();
    assert.equal(list.length, 2);
    assert.equal(new Set(list.map((c) => c.Labels[LABELS.node])).size, 2);

    const logs = await flux(['app', 'logs', name, '--instance', '1', '--api', api], fluxEnv);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /response:200/, 'the request shows in the logs of instance 1');

    const status = await json(['app', 'status', name]);
    assert.deepEqual(
      status.instances.map((i: { state: string }) => i.state),
      ['running', 'running'],
    );

    const updated = await json(['app', 'update', writeSpec('updated'), '--from', '3', '--timeout', '90']);
    assert.equal(updated.revision, 2);
    for (const i of updated.instances) {
      let text: string | undefined;
      for (let t = 0; t < 40 && text !== `updated from ${name}`; t++) {
        text = await httpText(`http://${i.endpoints[0]}/`);
        if (text !== `updated from ${name}`) await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(text, `updated from ${name}`);
    }

    const client = createClient({ baseUrl: api });
    const before = BigInt((await client.account({ params: { address: owner } })).balance);
    const cancelled = await json(['app', 'cancel', name, '--from', '3']);
    const fee = BigInt((await client.tx({ params: { id: cancelled.tx } })).fee);
    const refund = BigInt(cancelled.refund);
    assert.ok(refund > 0n);
    const afterBalance = BigInt((await client.account({ params: { address: owner } })).balance);
    assert.equal(afterBalance, before + refund - fee);
    for (let t = 0; t < 60 && (await containers()).length > 0; t++)
      await new Promise((r) => setTimeout(r, 250));
    assert.equal((await containers()).length, 0, 'containers removed after the cancel');
  });
});
