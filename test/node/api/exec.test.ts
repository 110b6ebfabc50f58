// `flux app exec` against a hosting node with a real container: a shell through a real
// pseudo-terminal (typing, resize, Ctrl-C, exit status), plain pipes without one, and the upgrade
// refused to anyone but the owner, to a replay and to a client that breaks the frame rules.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import {
  encodeClient,
  MAX_FRAME_PAYLOAD,
  type NodeMessage,
  nodeFrameReader,
} from '../../../src/api/exec-wire.ts';
import { ownerSigner, signOwnerRequest } from '../../../src/api/owner-auth.ts';
import { main } from '../../../src/cli/flux.ts';
import { deriveKeyPair } from '../../../src/core/crypto/hd.ts';
import { addressBytes, type KeyPair } from '../../../src/core/crypto/keys.ts';
import { DEVNET_MNEMONIC } from '../../../src/core/params/index.ts';
import type { ApiServer } from '../../../src/node/api/server.ts';
import type { LocalChain } from '../../../src/node/chain/chain.ts';
import { LABELS } from '../../../src/node/fluxos/options.ts';
import type { FluxOs } from '../../../src/node/fluxos/service.ts';
import { testAppSpec } from '../../support/apps.ts';
import { startHostingNode } from '../../support/hosting.ts';
import { fluxInProcess, Sink } from '../../support/io.ts';
import { BOB } from '../../support/keys.ts';
import { until } from '../../support/wait.ts';
import { exampleImage, testDocker } from '../fluxos/docker.ts';

const env = await testDocker();
const NAME = `exec-${process.pid}`;
const OWNER = deriveKeyPair(DEVNET_MNEMONIC, 0, 3);
const ROOT = join(import.meta.dirname, '..', '..', '..');
// The example image holds /bin/busybox and nothing else: its shell is `busybox sh`.
const SHELL = ['/bin/busybox', 'sh'];
const hasPty = spawnSync('python3', ['-c', 'import pty, fcntl, termios']).status === 0;
if (!hasPty) console.log('# SKIPPED the pseudo-terminal test: no python3 with the pty module');

type Upgraded = { status: 101; socket: Socket; head: Buffer } | { status: number; code: string };

/** Sends an upgrade request for exec with these headers; the socket on 101, else the error's code. */
function upgrade(url: string, pathAndQuery: string, headers: Record<string, string>): Promise<Upgraded> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${pathAndQuery}`, {
      headers: { ...headers, connection: 'Upgrade', upgrade: 'openflux-exec' },
    });
    req.on('upgrade', (_res, socket, head) => resolve({ status: 101, socket, head }));
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          code: (JSON.parse(text) as { error: { code: string } }).error.code,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every frame the node sends until it closes the socket. */
function framesUntilClose(socket: Socket, head: Buffer): Promise<NodeMessage[]> {
  const read = nodeFrameReader();
  const got: NodeMessage[] = read(head);
  return new Promise((resolve) => {
    socket.on('data', (c: Buffer) => got.push(...read(c)));
    socket.on('close', () => resolve(got));
    socket.on('error', () => undefined);
  });
}

const output = (frames: NodeMessage[]) =>
  Buffer.concat(frames.flatMap((f) => (f.type === 'stdout' ? [f.data] : []))).toString();

describe('flux app exec on a hosting node (real Docker)', { skip: env.skip, timeout: 180_000 }, () => {
  const docker = env.docker as Docker;
  const dir = mkdtempSync(join(tmpdir(), 'openflux-exec-'));
  let chain: LocalChain;
  let fluxos: FluxOs;
  let server: ApiServer;
  let nodeId: string;
  let url: string;
  let cliEnv: Record<string, string>;
  const children: ChildProcess[] = [];

  // The node as owner-routes.test.ts builds it: one FluxNode, the app on chain, its container running.
  before(async () => {
    const image = await exampleImage(docker);
    ({ chain, nodeId, fluxos, server, url } = await startHostingNode({
      dir,
      docker,
      spec: testAppSpec(NAME, [{ name: 'web', image }]),
      owner: addressBytes(OWNER.publicKey),
    }));
    await until(
      () => `the container runs (${JSON.stringify(fluxos.status(NAME)[0] ?? 'no status')})`,
      () => fluxos.status(NAME)[0]?.state === 'running' || undefined,
      30_000,
      200,
    );
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
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await server?.close();
    await fluxos?.close();
    chain?.close();
    // By app, not by node id: devnet node ids repeat, and other tests' containers may carry this one.
    const left = docker
      ? await docker.listContainers({ all: true, filters: { label: [`${LABELS.app}=${NAME}`] } })
      : [];
    for (const c of left)
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const execPath = (cmd: string[], extra = '') =>
    `/apps/${NAME}/exec?cmd=${encodeURIComponent(JSON.stringify(cmd))}${extra}`;
  const signed = (key: KeyPair, pathAndQuery: string) =>
    signOwnerRequest(key, { method: 'GET', pathAndQuery, nodeId });
  /** How many execs the engine created in the app's container from `since` (ms) until now. */
  const execsSince = async (since: number): Promise<number> => {
    const [c] = await docker.listContainers({ filters: { label: [`${LABELS.app}=${NAME}`] } });
    const stream = await docker.getEvents({
      since: since / 1000,
      until: (Date.now() + 1000) / 1000,
      filters: { container: [c.Id], event: ['exec_create'] },
    });
    let text = '';
    for await (const chunk of stream) text += chunk.toString();
    return text.split('\n').filter((l) => l.trim()).length;
  };

  it('runs a shell through a real terminal: typed commands, the new size after a resize, Ctrl-C for the command, its exit status, the terminal as it was', {
    skip: !hasPty && 'no python3 with the pty module',
  }, async () => {
    const cli = spawn(
      'python3',
      [
        join(ROOT, 'test', 'support', 'terminal.py'),
        '24x80',
        '50x132',
        // After flux, the terminal's settings: as flux found them, not raw (Node resets a raw
        // terminal at exit too, so this guards what a user sees rather than flux's own restore).
        'sh',
        '-c',
        '"$@"; code=$?; echo settings-after:; stty -a; exit $code',
        'sh',
        process.execPath,
        join(ROOT, 'bin', 'flux.js'),
        'app',
        'exec',
        NAME,
        '--',
        ...SHELL,
      ],
      { env: { ...cliEnv, PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    children.push(cli);
    let screen = '';
    cli.stdout?.on('data', (c: Buffer) => {
      screen += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    const type = (text: string) => cli.stdin?.write(text);
    /** Waits until the terminal shows `re` after what was seen so far; returns what it matched. */
    let seen = 0;
    const shows = async (re: RegExp, what: string, retype?: string) => {
      let tries = 0;
      const m = await until(
        () => `${what}; the terminal shows: ${JSON.stringify(screen.slice(seen))}`,
        () => {
          const found = re.exec(screen.slice(seen));
          if (!found && retype && ++tries % 25 === 0) type(retype);
          return found ?? undefined;
        },
        30_000,
      );
      seen += m.index + m[0].length;
      return m;
    };

    // The output shows \r\r\n for a line end: the container's terminal writes \r\n and Node's raw
    // mode here keeps ONLCR, as a real terminal shows it too (a carriage return more is invisible).
    type('echo $((6*7))\r');
    await shows(/\n42\r*\n/, 'the shell to answer 42');
    type('/bin/busybox stty size\r');
    await shows(/\n24 80\r*\n/, 'stty to report the first size');
    cli.kill('SIGUSR1');
    // The resize and the next line travel apart: ask again until the new size shows.
    const resized = '/bin/busybox stty size\r';
    type(resized);
    await shows(/\n50 132\r*\n/, 'stty to report the new size', resized);
    // Ctrl-C once sleep runs in the foreground: its shell says so first (the sum is not in the echo).
    type("/bin/busybox sh -c 'echo sleeping-$((2+3)); exec /bin/busybox sleep 30' && echo slept\r");
    await shows(/\nsleeping-5\r*\n/, 'the sleep to start');
    const sleeping = seen;
    type('\u0003');
    type('echo still-$((1+1))\r');
    await shows(/\nstill-2\r*\n/, 'the shell to answer after Ctrl-C');
    assert.doesNotMatch(
      screen.slice(sleeping, seen),
      /\nslept/,
      'sleep ran to its end: Ctrl-C did not reach it',
    );
    assert.equal(cli.exitCode, null, 'Ctrl-C ended flux itself');
    type('exit 3\r');
    assert.equal(await exited, 3);
    const settings = screen.slice(screen.indexOf('settings-after:'));
    assert.match(settings, /(^|\s)icanon\b/, 'flux left the terminal without line editing');
    assert.match(settings, /(^|\s)echo\b/, 'flux left the terminal without echo');
  });

  it("pipes stdin, stdout and stderr apart without a terminal and exits with the command's status", async () => {
    const run = await fluxInProcess(
      ['app', 'exec', NAME, '--', ...SHELL, '-c', 'read line; echo "got $line"; echo oops >&2; exit 5'],
      cliEnv,
      'hello\n',
    );
    assert.equal(run.stdout, 'got hello\n');
    assert.match(run.stderr, /oops/);
    assert.equal(run.code, 5);
    // As its own process with stdin a pipe: it ends when the command does.
    const piped = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'flux.js'), 'app', 'exec', NAME, '--', '/bin/busybox', 'cat'],
      {
        env: { ...cliEnv, PATH: process.env.PATH ?? '/usr/bin:/bin' },
      },
    );
    children.push(piped);
    let pipedOut = '';
    piped.stdout.on('data', (c: Buffer) => {
      pipedOut += c.toString();
    });
    piped.stdin.end('through a pipe\n');
    const pipedCode = await new Promise<number | null>((resolve) =>
      piped.on('exit', (code) => resolve(code)),
    );
    assert.equal(pipedOut, 'through a pipe\n');
    assert.equal(pipedCode, 0);
    const component = await fluxInProcess(
      ['app', 'exec', NAME, '--component', 'nope', '--', ...SHELL],
      cliEnv,
    );
    assert.equal(component.code, 1);
    assert.match(component.stderr, /NOT_HOSTED: app .* has no component nope/);
  });

  it('refuses an unsigned, a wrongly signed, another key and a replayed upgrade, before any exec', async () => {
    const start = Date.now();
    const path = execPath(['/bin/busybox', 'true']);
    const refused = async (headers: Record<string, string>) => {
      const r = await upgrade(url, path, headers);
      if (r.status === 101) {
        (r as { socket: Socket }).socket.destroy();
        return '101';
      }
      return `${r.status} ${(r as { code: string }).code}`;
    };
    assert.equal(await refused({}), '401 OWNER_SIGNATURE_REQUIRED');
    // Signed for another command than the one asked for: the signature covers the query.
    assert.equal(await refused(signed(OWNER, execPath(['/bin/busybox', 'id']))), '401 BAD_SIGNATURE');
    assert.equal(await refused(signed(BOB, path)), '403 NOT_OWNER');
    assert.equal(await execsSince(start), 0, 'a refused request created an exec');

    const headers = signed(OWNER, path);
    const first = await upgrade(url, path, headers);
    assert.equal(first.status, 101);
    const { socket, head } = first as { socket: Socket; head: Buffer };
    const frames = await framesUntilClose(socket, head);
    assert.deepEqual(frames.at(-1), { type: 'exit', code: 0 });
    assert.equal(await refused(headers), '401 REPLAYED');
    assert.equal(await execsSince(start), 1, 'only the accepted request created an exec');

    const plain = await fetch(`${url}${path}`, { headers: signed(OWNER, path) });
    assert.equal(plain.status, 426);
  });

  it('ends the session of a client that sends a frame over the limit', async () => {
    const path = execPath(SHELL);
    const r = await upgrade(url, path, signed(OWNER, path));
    assert.equal(r.status, 101);
    const { socket, head } = r as { socket: Socket; head: Buffer };
    const frames = framesUntilClose(socket, head);
    socket.write(encodeClient({ type: 'stdin', data: Buffer.from('echo before\n') }));
    const oversized = Buffer.alloc(5);
    oversized.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 1);
    socket.write(oversized);
    const got = await frames;
    const exit = got.at(-1);
    assert.equal(exit?.type, 'exit');
    assert.match((exit as { reason?: string }).reason ?? '', /refused: a frame of 65537 bytes/);
  });

  it('starts a terminal at the size the request asks for', async () => {
    // It waits for a line, sent once the node answered 101: by then the node has sized the terminal.
    const path = execPath([...SHELL, '-c', 'read go; /bin/busybox stty size'], '&tty=1&rows=30&cols=100');
    const sign = ownerSigner(OWNER, nodeId);
    const r = await upgrade(url, path, sign({ method: 'GET', pathAndQuery: path }));
    assert.equal(r.status, 101);
    const { socket, head } = r as { socket: Socket; head: Buffer };
    const frames = framesUntilClose(socket, head);
    socket.write(encodeClient({ type: 'stdin', data: Buffer.from('go\r') }));
    const got = await frames;
    assert.match(output(got), /30 100\r\n/);
    assert.deepEqual(got.at(-1), { type: 'exit', code: 0 });
  });

  it("stops a terminal session's command when the client goes away", async () => {
    const path = execPath(['/bin/busybox', 'sleep', '1234'], '&tty=1&rows=24&cols=80');
    const r = await upgrade(url, path, signed(OWNER, path));
    assert.equal(r.status, 101);
    const [c] = await docker.listContainers({ filters: { label: [`${LABELS.app}=${NAME}`] } });
    const sleeping = async () =>
      (await docker.getContainer(c.Id).top()).Processes.some((p: string[]) =>
        p.join(' ').includes('sleep 1234'),
      );
    await until('the command to run', sleeping);
    (r as { socket: Socket }).socket.destroy();
    await until('the command to stop once the client is gone', async () => !(await sleeping()));
  });

  it('refuses one session more than a node holds open, and takes one again once a session ends', async () => {
    const path = (i: number) => execPath([...SHELL, '-c', `read x; exit ${i}`]);
    const open: Socket[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await upgrade(url, path(i), signed(OWNER, path(i)));
      assert.equal(r.status, 101, `session ${i + 1}`);
      open.push((r as { socket: Socket }).socket);
    }
    const ninth = await upgrade(url, path(9), signed(OWNER, path(9)));
    assert.deepEqual(ninth, { status: 503, code: 'BUSY' });
    const first = open.shift() as Socket;
    const ended = framesUntilClose(first, Buffer.alloc(0));
    first.write(encodeClient({ type: 'stdin', data: Buffer.from('go\n') }));
    assert.deepEqual((await ended).at(-1), { type: 'exit', code: 0 });
    const again = await upgrade(url, path(10), signed(OWNER, path(10)));
    assert.equal(again.status, 101);
    open.push((again as { socket: Socket }).socket);
    for (const socket of open) socket.destroy();
  });

  it('answers other routes as usual when a request asks to upgrade to what they do not speak', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${url}/chain/info`, { headers: { connection: 'Upgrade', upgrade: 'h2c' } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.body) as { network: string }).network, 'devnet');
  });

  it('puts the terminal it is given in raw mode for the session and back after, and follows its resize', async () => {
    const modes: boolean[] = [];
    const stdin = Object.assign(new PassThrough(), {
      isTTY: true,
      setRawMode: (mode: boolean) => modes.push(mode),
    });
    const stdout = Object.assign(new Sink(), { rows: 24, columns: 80 });
    const running = main(['app', 'exec', NAME, '--', ...SHELL], {
      env: cliEnv,
      stdin,
      stdout,
      stderr: new Sink(),
    });
    stdin.write('/bin/busybox stty size\r');
    await until(
      () => `the first size; the terminal shows ${JSON.stringify(stdout.text)}`,
      () => /\n24 80\r\n/.test(stdout.text),
    );
    Object.assign(stdout, { rows: 40, columns: 100 });
    stdout.emit('resize');
    let asked = 0;
    await until(
      () => `the new size; the terminal shows ${JSON.stringify(stdout.text)}`,
      () => {
        if (asked++ % 25 === 0) stdin.write('/bin/busybox stty size\r');
        return /\n40 100\r\n/.test(stdout.text);
      },
    );
    stdin.write('exit 4\r');
    assert.equal(await running, 4);
    assert.deepEqual(modes, [true, false]);
  });
});
