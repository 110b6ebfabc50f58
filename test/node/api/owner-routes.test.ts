// The owner routes of a hosting node with a real container: logs, stats and restart answer the
// app's owner (through the API and through `flux app`) and refuse every other request by its code.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { type ApiError, createClient } from '../../../src/api/client.ts';
import { ownerSigner, signOwnerRequest } from '../../../src/api/owner-auth.ts';
import type { AppSpec } from '../../../src/core/apps/spec.ts';
import { deriveKeyPair } from '../../../src/core/crypto/hd.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { DEVNET_MNEMONIC } from '../../../src/core/params/index.ts';
import type { ApiServer } from '../../../src/node/api/server.ts';
import type { LocalChain } from '../../../src/node/chain/chain.ts';
import { LABELS } from '../../../src/node/fluxos/options.ts';
import type { FluxOs } from '../../../src/node/fluxos/service.ts';
import { testAppSpec } from '../../support/apps.ts';
import { startHostingNode } from '../../support/hosting.ts';
import { fluxInProcess } from '../../support/io.ts';
import { BOB } from '../../support/keys.ts';
import { until } from '../../support/wait.ts';
import { exampleImage, removeContainersOf, testDocker } from '../fluxos/docker.ts';

const env = await testDocker();
const NAME = `own-${process.pid}`;
const OWNER = deriveKeyPair(DEVNET_MNEMONIC, 0, 3);

function spec(image: string, port: number): AppSpec {
  return testAppSpec(NAME, [{ name: 'web', image, ports: [{ container: 8080, host: port }] }]);
}

describe('owner routes on a hosting node (real Docker)', { skip: env.skip, timeout: 120_000 }, () => {
  const docker = env.docker as Docker;
  const dir = mkdtempSync(join(tmpdir(), 'openflux-owner-'));
  let chain: LocalChain;
  let fluxos: FluxOs;
  let server: ApiServer;
  let nodeId: string;
  let url: string;

  before(async () => {
    const image = await exampleImage(docker);
    ({ chain, nodeId, fluxos, server, url } = await startHostingNode({
      dir,
      docker,
      spec: spec(image, 33_000 + (process.pid % 2000)),
      owner: addressBytes(OWNER.publicKey),
    }));
    await until(
      'the container runs',
      () => fluxos.status(NAME)[0]?.state === 'running' || undefined,
      30_000,
      200,
    );
  });
  after(async () => {
    await server?.close();
    await fluxos?.close();
    chain?.close();
    if (docker && nodeId) await removeContainersOf(docker, nodeId);
    rmSync(dir, { recursive: true, force: true });
  });

  const asOwner = () => createClient({ baseUrl: url, sign: ownerSigner(OWNER, nodeId) });
  const refusal = async (p: Promise<unknown>) => {
    try {
      await p;
      return 'OK';
    } catch (e) {
      return `${(e as ApiError).status} ${(e as ApiError).code}`;
    }
  };

  it("gives the owner the container's logs and stats", async () => {
    const logs = await asOwner().appLogs({ params: { name: NAME }, query: { tail: 10 } });
    assert.equal(logs.node, nodeId);
    const stats = await asOwner().appStats({ params: { name: NAME } });
    assert.equal(stats.components.length, 1);
    const [web] = stats.components;
    assert.equal(web.component, 'web');
    assert.ok(web.cpuPercent >= 0);
    assert.equal(web.memory.limit, 32 * 1024 * 1024);
    assert.ok(web.memory.used > 0 && web.memory.used < web.memory.limit);
    assert.ok(web.network.rx >= 0 && web.blockIo.read >= 0);
  });

  it('refuses an unsigned request, another key, another node and a stale time, each by its code', async () => {
    const q = { params: { name: NAME }, query: { tail: 5 } };
    assert.equal(await refusal(createClient({ baseUrl: url }).appLogs(q)), '401 OWNER_SIGNATURE_REQUIRED');
    assert.equal(
      await refusal(createClient({ baseUrl: url, sign: ownerSigner(BOB, nodeId) }).appLogs(q)),
      '403 NOT_OWNER',
    );
    assert.equal(
      await refusal(
        createClient({ baseUrl: url, sign: ownerSigner(OWNER, 'ab'.repeat(32)) }).appStats({
          params: { name: NAME },
        }),
      ),
      '401 WRONG_NODE',
    );
    const stale = createClient({
      baseUrl: url,
      sign: (req) => signOwnerRequest(OWNER, { ...req, nodeId }, { time: Date.now() - 120_000 }),
    });
    assert.equal(await refusal(stale.appRestart({ params: { name: NAME } })), '401 STALE_REQUEST');
  });

  it('refuses a captured signed request sent again as REPLAYED', async () => {
    const target = `${url}/apps/${NAME}/logs?tail=3`;
    const headers = signOwnerRequest(OWNER, {
      method: 'GET',
      pathAndQuery: `/apps/${NAME}/logs?tail=3`,
      nodeId,
    });
    const first = await fetch(target, { headers });
    assert.equal(first.status, 200);
    const again = await fetch(target, { headers });
    assert.equal(again.status, 401);
    assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'REPLAYED');
  });

  it('restarts the container for the owner: the same container, started again', async () => {
    const [before] = (await docker.listContainers({ filters: { label: [`${LABELS.app}=${NAME}`] } })).map(
      (c) => c.Id,
    );
    const startedBefore = (await docker.getContainer(before).inspect()).State.StartedAt;
    const r = await asOwner().appRestart({ params: { name: NAME } });
    assert.equal(r.restarted.length, 1);
    assert.equal(r.restarted[0].containerId, before);
    const after = await docker.getContainer(before).inspect();
    assert.equal(after.State.Running, true);
    assert.notEqual(after.State.StartedAt, startedBefore);
    assert.equal(r.restarted[0].startedAt, after.State.StartedAt);
  });

  it('flux app logs, stats and restart sign with the wallet account that owns the app', async () => {
    const home = join(dir, 'cli');
    const cliEnv = { FLUX_API: url, FLUX_WALLET_DIR: join(home, 'w'), FLUX_PASSWORD: 'pw', HOME: home };
    const imported = await fluxInProcess(
      ['wallet', 'import', '--accounts', '4'],
      cliEnv,
      `${DEVNET_MNEMONIC}\n`,
    );
    assert.equal(imported.code, 0, imported.stderr);
    const stats = await fluxInProcess(['app', 'stats', NAME, '--json'], cliEnv);
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal(JSON.parse(stats.stdout)[0].components[0].component, 'web');
    const logs = await fluxInProcess(['app', 'logs', NAME, '--tail', '5'], cliEnv);
    assert.equal(logs.code, 0, logs.stderr);
    const restart = await fluxInProcess(['app', 'restart', NAME, '--component', 'web'], cliEnv);
    assert.equal(restart.code, 0, restart.stderr);
    assert.match(restart.stdout, /web restarted, running since/);
    const notMine = await fluxInProcess(['app', 'stats', NAME, '--from', '0'], cliEnv);
    assert.equal(notMine.code, 1);
    assert.match(notMine.stderr, /NOT_OWNER/);
  });
});
