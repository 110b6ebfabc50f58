// End to end with real Docker: a 3-node devnet runs the example app (2 instances, its page is
// "$GREETING from $FLUX_APP"). `flux app secret set NAME GREETING` with the value on stdin puts
// it into both containers' environment, and the value is nowhere else: not in any file of any
// node (chain database, logs, the sealed store), not in any API answer, not in the CLI's other
// output. A non-owner's set is refused. Then a hosting node dies; the third node takes the
// instance over and its container has the secret, handed over by the surviving holder; an unset
// takes it out of the containers again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { signOwnerRequest } from '../../src/api/owner-auth.ts';
import { DEVNET_MNEMONIC } from '../../src/core/params/index.ts';
import { LABELS } from '../../src/node/fluxos/options.ts';
import { exampleImage, testDocker } from '../node/fluxos/docker.ts';
import { devnetLogLines, devnetUp, EXAMPLE, flux as runFlux, tearDownDevnet } from '../support/devnet.ts';
import { httpText } from '../support/http.ts';
import { BOB } from '../support/keys.ts';
import { until } from '../support/wait.ts';

const flux = (args: string[], env: Record<string, string>, stdin = '') => runFlux(args, env, stdin, 120_000);
const env = await testDocker();

interface Instance {
  node: string;
  api: string;
  state: string;
  endpoints: string[];
  extra?: boolean;
}

/** Every file under `dir`, as bytes. */
function filesUnder(dir: string): Array<{ path: string; bytes: Buffer }> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...filesUnder(path));
    else if (st.isFile()) out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}

describe('app secrets on a 3-node devnet with real Docker', { skip: env.skip, timeout: 240_000 }, () => {
  const docker = env.docker as Docker;
  const dir = mkdtempSync(join(tmpdir(), 'openflux-secrets-'));
  const devnetDir = join(dir, 'devnet');
  const fluxEnv = { FLUX_WALLET_DIR: join(dir, 'wallet'), FLUX_PASSWORD: 'pw', HOME: dir };
  const name = `sec-${process.pid}`;
  const port = 32_800 + (process.pid % 800);
  const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;
  let nodes: Array<{ index: number; api: string; pid: number; ingress: string }> = [];

  const json = async (args: string[], api: string, stdin?: string) => {
    const r = await flux([...args, '--json', '--api', api], fluxEnv, stdin);
    assert.equal(r.code, 0, `flux ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
    return { value: JSON.parse(r.stdout), text: r.stdout + r.stderr };
  };
  const text = async (args: string[], api: string) => {
    const r = await flux([...args, '--api', api], fluxEnv);
    assert.equal(r.code, 0, `flux ${args.join(' ')}:\n${r.stderr}`);
    return r.stdout + r.stderr;
  };
  const logs = () => devnetLogLines(devnetDir, nodes, /fluxos|secret|liveness/, 15);
  const page = `${secret} from ${name}`;

  after(() => tearDownDevnet({ dir, devnetDir, env: fluxEnv, nodes, docker, app: name }));

  it('puts the value into the containers and nowhere else, and hands it to the node that takes an instance over', async () => {
    await exampleImage(docker);
    const spec = join(dir, 'app.yaml');
    writeFileSync(
      spec,
      readFileSync(EXAMPLE, 'utf8')
        .replace('name: hello-web', `name: ${name}`)
        .replace('host: 31080', `host: ${port}`),
    );
    const up = await devnetUp(devnetDir, fluxEnv, 3, ['--app', spec]);
    nodes = up.nodes;
    assert.deepEqual(up.app, { file: spec, running: true }, up.stderr);
    const api0 = nodes[0].api;
    // The devnet deploys its app from account 3 of the devnet mnemonic: the owner's wallet.
    await json(['wallet', 'import', '--accounts', '4'], api0, `${DEVNET_MNEMONIC}\n`);
    const deployed = (await json(['app', 'status', name], api0)).value;
    const hosts = (deployed.instances as Instance[]).map((i) => i.node);
    assert.equal(hosts.length, 2);

    // The owner sets it, the value on stdin (as a pipe gives it: one trailing newline).
    const set = await json(['app', 'secret', 'set', name, 'GREETING'], api0, `${secret}\n`);
    assert.equal(set.value.length, 2);
    assert.ok(
      set.value.every((o: { ok: boolean }) => o.ok),
      set.text,
    );
    assert.ok(!set.text.includes(secret));

    // Both containers are recreated with it: their page shows it.
    let last: unknown;
    await until(
      () => `both instances to serve the secret; last status:\n${JSON.stringify(last, null, 1)}\n${logs()}`,
      async () => {
        const s = (await json(['app', 'status', name], api0)).value;
        last = s;
        const running = (s.instances as Instance[]).filter((i) => i.state === 'running' && !i.extra);
        if (running.length < 2) return undefined;
        const pages = await Promise.all(running.map((i) => httpText(`http://${i.endpoints[0]}/`)));
        return pages.every((p) => p === page) ? true : undefined;
      },
      60_000,
      250,
    );

    // Nowhere in clear: the API's answers (public and the owner's), the CLI's, every node's files.
    const seen: string[] = [];
    for (const n of nodes) {
      for (const path of [
        `/apps/${name}`,
        `/apps/${name}/status`,
        `/apps/${name}/local`,
        '/apps',
        '/chain/info',
      ])
        seen.push(await (await fetch(`${n.api}${path}`)).text());
    }
    const listed = await json(['app', 'secret', 'list', name], api0);
    seen.push(listed.text);
    seen.push(await text(['app', 'secret', 'list', name], api0));
    seen.push(await text(['app', 'logs', name, '--tail', '1000'], api0));
    seen.push((await json(['app', 'stats', name], api0)).text);
    for (const t of seen) assert.ok(!t.includes(secret), `an answer holds the secret:\n${t.slice(0, 400)}`);
    assert.deepEqual(
      (listed.value as Array<{ secrets?: Array<{ key: string }> }>).map((l) => l.secrets?.map((s) => s.key)),
      [['GREETING'], ['GREETING']],
    );
    for (const f of filesUnder(devnetDir))
      assert.ok(!f.bytes.includes(secret), `${f.path} holds the secret in clear`);

    // A non-owner's set is refused, whatever it carries.
    const host = (deployed.instances as Instance[])[0];
    const path = `/apps/${name}/secrets/GREETING`;
    const body = JSON.stringify({
      version: Date.now() + 1,
      sealed: Buffer.from('x'.repeat(60)).toString('base64'),
    });
    const refused = await fetch(`http://${host.api}${path}`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        ...signOwnerRequest(BOB, {
          method: 'PUT',
          pathAndQuery: path,
          body: new TextEncoder().encode(body),
          nodeId: host.node,
        }),
      },
      body,
    });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'NOT_OWNER');

    // A hosting node dies; the third node takes its instance and gets the secret from the other holder.
    const apiOf = (i: Instance) => nodes.find((n) => n.api.endsWith(`//${i.api}`) || n.api.endsWith(i.api));
    const victimInstance = (deployed.instances as Instance[]).find((i) => apiOf(i)?.index !== 0)!;
    const victim = apiOf(victimInstance)!;
    process.kill(victim.pid, 'SIGKILL');
    for (const c of await docker.listContainers({
      filters: { label: [`${LABELS.node}=${victimInstance.node}`] },
    }))
      await docker
        .getContainer(c.Id)
        .kill()
        .catch(() => {});
    const killedAt = Date.now();
    const fresh = await until(
      () => `the third node to serve the secret; last status:\n${JSON.stringify(last, null, 1)}\n${logs()}`,
      async () => {
        const s = (await json(['app', 'status', name], api0)).value;
        last = s;
        const i = (s.instances as Instance[]).find((x) => x.state === 'running' && !hosts.includes(x.node));
        if (!i) return undefined;
        return (await httpText(`http://${i.endpoints[0]}/`)) === page ? i : undefined;
      },
      60_000,
      250,
    );
    console.log(`hand-over: the new holder served the secret ${Date.now() - killedAt} ms after the kill`);
    assert.ok(!hosts.includes(fresh.node));
    // Handed over before its container started: only the two first holders recreated theirs.
    assert.match(
      devnetLogLines(devnetDir, nodes, /handed over/),
      new RegExp(`${name}: 1 secret\\(s\\) handed over`),
    );
    const recreated = devnetLogLines(devnetDir, nodes, /\(secrets changed\)/, 100)
      .split('\n')
      .filter((l) => l.includes('secrets changed'));
    assert.equal(recreated.length, 2, recreated.join('\n'));

    // The hand-over route answers only a request signed by the operator key of the node it names.
    const survivor = (deployed.instances as Instance[]).find((i) => i.node !== victimInstance.node)!;
    const sealedPath = `/apps/${name}/secrets/sealed?for=${fresh.node}`;
    const unsigned = await fetch(`http://${survivor.api}${sealedPath}`);
    assert.equal(unsigned.status, 401);
    const notOperator = await fetch(`http://${survivor.api}${sealedPath}`, {
      headers: signOwnerRequest(BOB, { method: 'GET', pathAndQuery: sealedPath, nodeId: survivor.node }),
    });
    assert.equal(notOperator.status, 403);
    assert.equal(((await notOperator.json()) as { error: { code: string } }).error.code, 'NOT_OPERATOR');

    // Unset, the spec's GREETING comes back on the nodes that hold the app now.
    const unset = await json(['app', 'secret', 'unset', name, 'GREETING'], api0);
    assert.ok(
      unset.value.every((o: { ok: boolean }) => o.ok),
      unset.text,
    );
    await until(
      () =>
        `the instances to serve the spec's greeting again; last status:\n${JSON.stringify(last, null, 1)}`,
      async () => {
        const s = (await json(['app', 'status', name], api0)).value;
        last = s;
        const running = (s.instances as Instance[]).filter((i) => i.state === 'running' && !i.extra);
        if (running.length < 2) return undefined;
        const pages = await Promise.all(running.map((i) => httpText(`http://${i.endpoints[0]}/`)));
        return pages.every((p) => p === `hello from ${name}`) ? true : undefined;
      },
      30_000,
      250,
    );
  });
});
