// Backup and restore of an app volume on a hosting node, with a real container over a real
// loop-mounted volume (root): `flux app backup` gives a tar of what the container wrote, `flux app
// restore` puts it back and the container runs again; other keys, replays, a body that is not the
// one signed, a hostile archive and one larger than the volume are refused, the data untouched.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { callRawRoute } from '../../../src/api/call.ts';
import { ownerSigner, signOwnerRequest } from '../../../src/api/owner-auth.ts';
import type { ApiError } from '../../../src/api/route.ts';
import { routes } from '../../../src/api/routes.ts';
import type { AppSpec } from '../../../src/core/apps/spec.ts';
import { deriveKeyPair } from '../../../src/core/crypto/hd.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { createParams, DEVNET_MNEMONIC } from '../../../src/core/params/index.ts';
import type { ApiServer } from '../../../src/node/api/server.ts';
import type { LocalChain } from '../../../src/node/chain/chain.ts';
import { pickVolume, restoreVolume, tarStream } from '../../../src/node/fluxos/backup.ts';
import { LABELS, networkOptions } from '../../../src/node/fluxos/options.ts';
import type { PlacementView } from '../../../src/node/fluxos/placement.ts';
import { demuxDockerLog } from '../../../src/node/fluxos/runtime.ts';
import type { FluxOs } from '../../../src/node/fluxos/service.ts';
import { createLoopVolumes, type VolumeStore } from '../../../src/node/fluxos/volumes.ts';
import { testAppSpec } from '../../support/apps.ts';
import { extend } from '../../support/chain.ts';
import { startHostingNode } from '../../support/hosting.ts';
import { fluxInProcess } from '../../support/io.ts';
import { BOB } from '../../support/keys.ts';
import { until } from '../../support/wait.ts';
import { exampleImage, removeContainersOf, testDocker } from '../fluxos/docker.ts';

const env = await testDocker();
const root = process.getuid?.() === 0;
if (!env.skip && !root) console.log('# SKIPPED backup tests: loop mounts need root');
const skip = env.skip ?? (root ? undefined : 'loop mounts need root');
const NAME = `bak-${process.pid}`;
const OWNER = deriveKeyPair(DEVNET_MNEMONIC, 0, 3);
const BB = '/bin/busybox';
const GB = 1024 ** 3;

/** Writes hello.txt on its volume the first time, says what it holds at each start, stops on TERM. */
function spec(image: string): AppSpec {
  const script = `trap "exit 0" TERM; [ -f /data/hello.txt ] || echo original > /data/hello.txt; echo "start: $(${BB} cat /data/hello.txt)"; while true; do ${BB} sleep 1; done`;
  return testAppSpec(NAME, [
    {
      name: 'main',
      image,
      entrypoint: [BB, 'sh', '-c'],
      command: [script],
      volumes: [{ name: 'data', mount: '/data', size: 1 }],
    },
  ]);
}

/** A ustar archive of these members, written byte by byte (a hostile one no tar tool would make). */
function ustar(members: Array<{ name: string; data?: string; symlink?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data ?? '');
    const h = Buffer.alloc(512);
    const put = (text: string, at: number, len: number) => h.write(text.slice(0, len), at, len, 'latin1');
    const octal = (n: number, at: number, len: number) =>
      put(`${n.toString(8).padStart(len - 1, '0')}\0`, at, len);
    put(m.name, 0, 100);
    octal(m.symlink ? 0o777 : 0o644, 100, 8);
    octal(0, 108, 8);
    octal(0, 116, 8);
    octal(m.symlink ? 0 : data.length, 124, 12);
    octal(0, 136, 12);
    put('        ', 148, 8);
    put(m.symlink ? '2' : '0', 156, 1);
    if (m.symlink) put(m.symlink, 157, 100);
    put('ustar\u000000', 257, 8);
    let sum = 0;
    for (const b of h) sum += b;
    put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    blocks.push(h);
    if (!m.symlink && data.length > 0) blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

describe('picking the volume of a backup', () => {
  // Only the fields pickVolume reads (two volumes would not fit a devnet instance's disk).
  const app = (volumes: Array<{ name: string; size: number }>) =>
    ({ name: 'db-app', components: [{ name: 'db', volumes }] }) as unknown as AppSpec;
  it('takes the only volume, asks which of several, and names a missing one', () => {
    const one = app([{ name: 'pg', size: 2 }]);
    const two = app([
      { name: 'pg', size: 1 },
      { name: 'wal', size: 1 },
    ]);
    assert.equal(pickVolume(one).name, 'pg');
    assert.equal(pickVolume(one).sizeBytes, 2 * GB);
    assert.throws(() => pickVolume(two), /has volumes pg, wal: say which/);
    assert.equal(pickVolume(two, 'wal').component.name, 'db');
    assert.throws(() => pickVolume(two, 'logs'), /no volume logs \(its volumes: pg, wal\)/);
    assert.throws(() => pickVolume(app([])), /has no volumes/);
  });
});

describe('tar streams and restores over a plain directory (no Docker)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-restore-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const volume = () => {
    const data = join(mkdtempSync(join(dir, 'mnt-')), 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'old.txt'), 'old\n');
    return data;
  };
  const read = async (stream: AsyncIterable<Uint8Array>) => {
    const parts: Uint8Array[] = [];
    for await (const c of stream) parts.push(c);
    return Buffer.concat(parts);
  };

  it('fails the stream, not ends it, when tar fails', async () => {
    let told: Error | undefined;
    const stream = tarStream(join(dir, 'missing'), (e) => {
      told = e;
    });
    await assert.rejects(read(stream), /tar exited with 2/);
    assert.match(String(told), /tar exited/);
  });

  it('swaps in a checked archive (owners kept), and touches nothing for a bad one', async () => {
    const source = volume();
    writeFileSync(join(source, 'new.txt'), 'new\n');
    if (root) chownSync(join(source, 'new.txt'), 1234, 2345);
    const tar = await read(tarStream(source, () => {}));
    const data = volume();
    const steps: string[] = [];
    const restore = (body: Uint8Array[], signed: Uint8Array, limit = 10 * 1024 * 1024) =>
      restoreVolume({
        dataDir: data,
        body: Readable.from(body),
        sha256: signed,
        limit,
        stop: async () => void steps.push('stop'),
        start: async () => void steps.push('start'),
      });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'OK',
        (e: { code?: string }) => e.code,
      );
    assert.equal(await code(restore([tar], sha256(Buffer.from('other')))), 'BODY_MISMATCH');
    // Sent in pieces with no length up front: counted as it arrives.
    const pieces = [tar.subarray(0, 4096), tar.subarray(4096)];
    assert.equal(await code(restore(pieces, sha256(tar), 4096)), 'TOO_LARGE');
    assert.equal(await code(restore([Buffer.alloc(1024, 1)], sha256(Buffer.alloc(1024, 1)))), 'BAD_ARCHIVE');
    assert.deepEqual(steps, [], 'never stopped');
    assert.deepEqual(readdirSync(data), ['old.txt']);
    assert.deepEqual(readdirSync(dirname(data)), ['data'], 'no temporary directory left');
    assert.equal(await restore(pieces, sha256(tar)), tar.length);
    assert.deepEqual(steps, ['stop', 'start']);
    assert.deepEqual(readdirSync(data).sort(), ['new.txt', 'old.txt']);
    if (root)
      assert.deepEqual(
        [statSync(join(data, 'new.txt')).uid, statSync(join(data, 'new.txt')).gid],
        [1234, 2345],
      );
    assert.deepEqual(readdirSync(dirname(data)), ['data']);
  });
});

describe('volume backup and restore on a hosting node (real Docker)', { skip, timeout: 180_000 }, () => {
  const docker = env.docker as Docker;
  const dir = mkdtempSync(join(tmpdir(), 'openflux-backup-'));
  let chain: LocalChain;
  let fluxos: FluxOs;
  let volumes: VolumeStore;
  let server: ApiServer;
  let nodeId: string;
  let url: string;
  let data: string;
  let cliEnv: Record<string, string>;
  let viewOf: PlacementView;
  const logLines: string[] = [];
  const backupFile = join(dir, 'snapshot.tar');

  const container = async () => {
    const [c] = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.app}=${NAME}`, `${LABELS.node}=${nodeId}`] },
    });
    return docker.getContainer(c.Id).inspect();
  };
  const logs = async () => {
    const c = await container();
    const buf = (await docker.getContainer(c.Id).logs({ stdout: true, stderr: true })) as unknown as Buffer;
    return demuxDockerLog(Buffer.from(buf));
  };
  const refusal = async (p: Promise<unknown>) => {
    try {
      await p;
      return 'OK';
    } catch (e) {
      return `${(e as ApiError).status} ${(e as ApiError).code}`;
    }
  };
  const restorePath = `/apps/${NAME}/restore`;
  const putTar = (tar: Buffer, headers: Record<string, string>) =>
    fetch(`${url}${restorePath}`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/x-tar' },
      body: tar,
    });
  const signedFor = (body: Uint8Array) =>
    signOwnerRequest(OWNER, { method: 'PUT', pathAndQuery: restorePath, bodySha256: sha256(body), nodeId });

  before(async () => {
    const image = await exampleImage(docker);
    volumes = createLoopVolumes(join(dir, 'volumes'));
    ({
      chain,
      nodeId,
      fluxos,
      server,
      url,
      view: viewOf,
    } = await startHostingNode({
      dir,
      docker,
      spec: spec(image),
      owner: addressBytes(OWNER.publicKey),
      // Volumes of an app gone from the chain are kept 2 blocks here (the last test waits them out).
      params: (base) => createParams(base, { apps: { ...base.apps, volumeGraceBlocks: 2 } }),
      agent: { intervalMs: 500, volumes, log: (line) => logLines.push(line) },
      // The app network made here, on a subnet of its own (outside the pools ensure-docker.sh
      // gives, 10.200.0.0/14): an engine shared with other test runs may have no default pool
      // left. The agent keeps it (it fits).
      beforeAgent: async ({ nodeId: id, network }) => {
        await docker.createNetwork({
          ...networkOptions({ network, nodeId: id, app: spec(image) }),
          IPAM: { Config: [{ Subnet: `10.${210 + (process.pid % 40)}.${process.pid % 250}.0/24` }] },
        });
      },
    }));
    await until(
      () => `the container runs and wrote its file (${JSON.stringify(fluxos.status(NAME))})`,
      () => {
        const v = volumes.list().find((x) => x.app === NAME);
        const ready =
          fluxos.status(NAME)[0]?.state === 'running' && v && existsSync(join(v.path, 'hello.txt'));
        return ready ? v : undefined;
      },
      30_000,
      200,
    );
    data = volumes.list().find((x) => x.app === NAME)!.path;
    const home = join(dir, 'cli');
    cliEnv = { FLUX_API: url, FLUX_WALLET_DIR: join(home, 'w'), FLUX_PASSWORD: 'pw', HOME: home };
    const imported = await fluxInProcess(
      ['wallet', 'import', '--accounts', '4'],
      cliEnv,
      `${DEVNET_MNEMONIC}\n`,
    );
    assert.equal(imported.code, 0, imported.stderr);
  });
  after(async () => {
    await server?.close();
    await fluxos?.close();
    await volumes?.remove(NAME).catch(() => {});
    chain?.close();
    if (docker && nodeId) await removeContainersOf(docker, nodeId);
    rmSync(dir, { recursive: true, force: true });
  });

  it('flux app backup gives a tar of what the container wrote, and the container runs on', async () => {
    const out = await fluxInProcess(['app', 'backup', NAME, '-o', backupFile], cliEnv);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /wrote .*snapshot\.tar: volume data of bak-\d+, [\d,]+ bytes, from #0 node/);
    const members = execFileSync('tar', ['-tf', backupFile], { encoding: 'utf8' }).split('\n');
    assert.ok(members.includes('./hello.txt'), members.join(' '));
    assert.equal(
      execFileSync('tar', ['-xOf', backupFile, './hello.txt'], { encoding: 'utf8' }),
      'original\n',
    );
    assert.equal(existsSync(`${backupFile}.part`), false);
    const c = await container();
    assert.equal(c.State.Running, true);
    assert.equal(c.State.Paused, false, 'unpaused once tar is done');
    const help = await fluxInProcess(['app', 'backup', '--help'], cliEnv);
    assert.match(help.stdout, /usage: flux app backup NAME \[--volume V\] \[--instance N\] \[-o FILE\]/);
  });

  it('keeps the container paused while tar reads, and unpauses it when the reader hangs up', async () => {
    // Larger than what the sockets buffer: tar waits for the reader, the container stays paused.
    const big = join(data, 'big.bin');
    writeFileSync(big, Buffer.alloc(64 * 1024 * 1024, 7));
    try {
      const res = await callRawRoute(
        url,
        routes.appBackup,
        { params: { name: NAME } },
        { sign: ownerSigner(OWNER, nodeId) },
      );
      assert.equal(res.headers.get('content-type'), 'application/x-tar');
      assert.equal((await container()).State.Paused, true);
      await res.body?.cancel();
      await until(
        'the container to be unpaused',
        async () => (await container()).State.Paused === false,
        10_000,
        100,
      );
      assert.equal((await container()).State.Running, true);
    } finally {
      rmSync(big, { force: true });
    }
  });

  it('unpauses a container that a backup cut short left paused', async () => {
    const c = await container();
    await docker.getContainer(c.Id).pause();
    await until(
      'the agent to unpause it',
      async () => (await container()).State.Paused === false,
      10_000,
      100,
    );
    assert.equal((await container()).State.StartedAt, c.State.StartedAt, 'the same run, not a restart');
  });

  it('flux app restore puts the old contents back and starts the container again', async () => {
    writeFileSync(join(data, 'hello.txt'), 'changed\n');
    writeFileSync(join(data, 'extra.txt'), 'new since the backup\n');
    const startedBefore = (await container()).State.StartedAt;
    const out = await fluxInProcess(['app', 'restore', NAME, backupFile], cliEnv);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /#0 node .*: restored [\d,]+ bytes into volume data; main running again since/);
    assert.match(out.stdout, /on all 1 hosting node\(s\) \(volumes are local to each node/);
    assert.equal(readFileSync(join(data, 'hello.txt'), 'utf8'), 'original\n');
    assert.equal(existsSync(join(data, 'extra.txt')), false);
    assert.deepEqual(
      readdirSync(dirname(data)).filter((f) => f.startsWith('.restore')),
      [],
      'no temporary directory left',
    );
    const c = await container();
    assert.equal(c.State.Running, true);
    assert.notEqual(c.State.StartedAt, startedBefore);
    // The container itself sees the restored file when it starts again.
    await until(
      'the new start to be logged',
      async () => ((await logs()).match(/start: original/g) ?? []).length >= 2 || undefined,
    );
    const help = await fluxInProcess(['app', 'restore', '--help'], cliEnv);
    assert.match(help.stdout, /usage: flux app restore NAME FILE\.tar \[--volume V\] \[--instance N\]/);
  });

  it("refuses another key's backup and restore, a replay and a body other than the one signed", async () => {
    const tar = readFileSync(backupFile);
    const asBob = ownerSigner(BOB, nodeId);
    assert.equal(
      await refusal(callRawRoute(url, routes.appBackup, { params: { name: NAME } }, { sign: asBob })),
      '403 NOT_OWNER',
    );
    assert.equal(
      await refusal(
        callRawRoute(
          url,
          routes.appRestore,
          { params: { name: NAME } },
          { sign: asBob, body: { stream: Readable.from([tar]), length: tar.length, sha256: sha256(tar) } },
        ),
      ),
      '403 NOT_OWNER',
    );
    const unsigned = await putTar(tar, {});
    assert.equal(unsigned.status, 401);
    const headers = signedFor(tar);
    const first = await putTar(tar, headers);
    assert.equal(first.status, 200, await first.clone().text());
    const restored = (await first.json()) as { bytes: number; volume: string };
    assert.equal(restored.bytes, tar.length);
    assert.equal(restored.volume, 'data');
    const again = await putTar(tar, headers);
    assert.equal(again.status, 401);
    assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'REPLAYED');
    // Signed over one archive, sent another: nothing restored.
    writeFileSync(join(data, 'hello.txt'), 'kept\n');
    const other = ustar([{ name: './hello.txt', data: 'swapped\n' }]);
    const swapped = await putTar(other, signedFor(tar));
    assert.equal(swapped.status, 400);
    assert.equal(((await swapped.json()) as { error: { code: string } }).error.code, 'BODY_MISMATCH');
    assert.equal(readFileSync(join(data, 'hello.txt'), 'utf8'), 'kept\n');
  });

  it('writes nothing outside the volume from a hostile archive, and leaves the volume as it was', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside, { recursive: true });
    const absolute = join(dir, `abs-${process.pid}`);
    const evil = ustar([
      { name: './ok.txt', data: 'fine\n' },
      { name: '../x', data: 'up one\n' },
      { name: absolute, data: 'absolute\n' },
      { name: 'link', symlink: outside },
      { name: 'link/pwned', data: 'through the link\n' },
      { name: 'rel', symlink: '../../outside' },
      { name: 'rel/pwned2', data: 'through a relative link\n' },
    ]);
    writeFileSync(join(data, 'hello.txt'), 'before the attack\n');
    const startedBefore = (await container()).State.StartedAt;
    const res = await putTar(evil, signedFor(evil));
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error.code, 'BAD_ARCHIVE');
    assert.match(body.error.message, /Member name contains '\.\.'/);
    assert.deepEqual(readdirSync(outside), []);
    assert.equal(existsSync(absolute), false);
    assert.equal(existsSync(join(dirname(data), 'x')), false);
    assert.equal(existsSync(join(dirname(dirname(data)), 'x')), false);
    assert.equal(readFileSync(join(data, 'hello.txt'), 'utf8'), 'before the attack\n');
    assert.equal(existsSync(join(data, 'ok.txt')), false);
    assert.deepEqual(
      readdirSync(dirname(data)).filter((f) => f.startsWith('.restore')),
      [],
    );
    assert.equal((await container()).State.StartedAt, startedBefore, 'the container was not stopped');
  });

  it('refuses an archive larger than the volume (413) before reading it, the data untouched', async () => {
    writeFileSync(join(data, 'hello.txt'), 'untouched\n');
    const startedBefore = (await container()).State.StartedAt;
    const claimed = new Uint8Array(32).fill(1);
    const headers = signOwnerRequest(OWNER, {
      method: 'PUT',
      pathAndQuery: restorePath,
      bodySha256: claimed,
      nodeId,
    });
    const req = request(`${url}${restorePath}`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/x-tar', 'content-length': String(GB + 1) },
    });
    req.on('error', () => {});
    req.write(Buffer.alloc(64 * 1024));
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    let text = '';
    for await (const chunk of res) text += chunk;
    req.destroy();
    assert.equal(res.statusCode, 413, text);
    assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'TOO_LARGE');
    assert.equal(readFileSync(join(data, 'hello.txt'), 'utf8'), 'untouched\n');
    assert.equal((await container()).State.StartedAt, startedBefore);
    // The CLI refuses it without sending it.
    const big = join(dir, 'big.tar');
    writeFileSync(big, '');
    execFileSync('truncate', ['-s', String(GB + 1), big]);
    const out = await fluxInProcess(['app', 'restore', NAME, big], cliEnv);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /larger than volume data/);
    rmSync(big);
  });

  it('keeps the volume of an app gone from the chain, and says until when', async () => {
    // The app leaves the chain (cancelled, expired): this node's view no longer has it.
    assert.equal(fluxos.volumesKept(NAME), undefined, 'a running app keeps its volumes without a deadline');
    viewOf.apps.delete(NAME);
    viewOf.placement.delete(NAME);
    const r = await fetch(`${url}/apps/${NAME}/status`);
    assert.equal(r.status, 404);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'APP_NOT_FOUND');
    const grace = chain.params.apps.volumeGraceBlocks;
    assert.match(
      body.error.message,
      new RegExp(`this node keeps its volumes \\(data\\) until height ${chain.tip().height + grace}`),
    );
    await fluxos.reconciler.reconcile();
    assert.ok(existsSync(join(data, 'hello.txt')), 'the data stays through the grace period');
    // Past the grace period the node deletes the volume (its container went first), and says so.
    const deleted = await until(
      () => `the volume to be deleted at height ${chain.tip().height}: ${JSON.stringify(volumes.list())}`,
      async () => {
        await extend(chain, 1);
        return volumes.list().some((v) => v.app === NAME) ? undefined : true;
      },
      30_000,
      300,
    );
    assert.ok(deleted);
    assert.equal(existsSync(data), false, 'the data is gone');
    assert.ok(
      logLines.some((l) => l.includes(`deleted the volumes of ${NAME} (data)`)),
      logLines.join('\n'),
    );
  });
});
