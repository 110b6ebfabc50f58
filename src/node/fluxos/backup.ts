// Backups and restores of an app volume on this node, with GNU tar over the volume's data
// directory. A backup is consistent: the component's container is paused (cgroup freezer) while
// tar reads, so no process writes mid-archive; what it holds is what a crash at that instant would
// leave (page cache included). A restore never leaves a half-restored volume: the archive is
// extracted into `.restore-tmp` beside `data/` on the volume's own file system while the container
// still runs, checked (tar's exit status, size, the sha256 the owner signed), and only then is the
// container stopped, `data/` swapped for it by two renames and the container started again.
// GNU tar's defaults keep members inside: a leading `/` is stripped, a member with `..` is
// refused, a symlink to outside is made last and never written through; the mount is nodev and
// nosuid, so device nodes and setuid bits in an archive are inert.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import type { AppComponent, AppSpec } from '../../core/apps/spec.ts';

const GB = 1024 ** 3;

export type VolumeAccessCode =
  | 'NO_VOLUME'
  | 'WHICH_VOLUME'
  | 'NOT_MOUNTED'
  | 'VOLUME_BUSY'
  | 'TOO_LARGE'
  | 'BODY_MISMATCH'
  | 'BAD_ARCHIVE'
  | 'VOLUME_FULL'
  | 'BACKUP_FAILED';

/** Why a backup or restore was refused or failed; the API answers it with `status`. */
export class VolumeAccessError extends Error {
  readonly code: VolumeAccessCode;
  readonly status: number;
  constructor(code: VolumeAccessCode, status: number, message: string) {
    super(message);
    this.name = 'VolumeAccessError';
    this.code = code;
    this.status = status;
  }
}

export interface PickedVolume {
  component: AppComponent;
  name: string;
  /** Bytes: the volume's size, the most a restore may send. */
  sizeBytes: number;
}

/** The volume `asked` of the app (the only one when left out), or the refusal that names them. */
export function pickVolume(spec: AppSpec, asked?: string): PickedVolume {
  const all = spec.components.flatMap((component) =>
    (component.volumes ?? []).map((v) => ({ component, name: v.name, sizeBytes: v.size * GB })),
  );
  const names = all.map((v) => v.name).join(', ');
  if (asked !== undefined) {
    const found = all.find((v) => v.name === asked);
    if (!found)
      throw new VolumeAccessError(
        'NO_VOLUME',
        404,
        `app ${spec.name} has no volume ${asked}${all.length ? ` (its volumes: ${names})` : ' (it has no volumes)'}`,
      );
    return found;
  }
  if (all.length === 0) throw new VolumeAccessError('NO_VOLUME', 404, `app ${spec.name} has no volumes`);
  if (all.length > 1)
    throw new VolumeAccessError(
      'WHICH_VOLUME',
      400,
      `app ${spec.name} has volumes ${names}: say which with volume=NAME`,
    );
  return all[0];
}

const tail = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 5)
    .join('; ');

function tar(args: string[]): {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<number>;
  stderr: () => string;
} {
  const child = spawn('tar', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString('utf8');
  });
  const exited = new Promise<number>((resolve) => {
    child.on('error', (e) => {
      stderr += `${(e as Error).message}\n`;
      resolve(-1);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : -1)));
  });
  return { child, exited, stderr: () => stderr };
}

/**
 * A tar stream of `dataDir` (numeric owners, modes and times kept). `done` is called once, when
 * tar has ended or the reader went away (the caller unpauses there). The stream ends only after
 * tar exited 0; otherwise it fails, so a reader never takes a cut archive for a whole one.
 */
export function tarStream(dataDir: string, done: (error?: Error) => void) {
  const t = tar(['-C', dataDir, '--numeric-owner', '-cf', '-', '.']);
  t.child.stdin.end();
  let finished = false;
  const finish = (error?: Error) => {
    if (finished) return;
    finished = true;
    done(error);
  };
  const failure = t.exited.then((code) =>
    code === 0
      ? undefined
      : new VolumeAccessError('BACKUP_FAILED', 500, `tar exited with ${code}: ${tail(t.stderr())}`),
  );
  const out = new Transform({
    transform(chunk, _enc, cb) {
      cb(null, chunk);
    },
    flush(cb) {
      void failure.then((e) => {
        finish(e);
        cb(e);
      });
    },
  });
  t.child.stdout.pipe(out);
  // The reader went away (a client that hung up): stop tar and let the container go.
  out.on('close', () => {
    if (t.child.exitCode === null) t.child.kill('SIGKILL');
    void t.exited.then(() => finish(finished ? undefined : new Error('the reader went away')));
  });
  return out;
}

export interface RestoreSteps {
  /** The volume's data directory (inside its mount). */
  dataDir: string;
  body: AsyncIterable<Uint8Array>;
  /** The sha256 the owner signed. */
  sha256: Uint8Array;
  limit: number;
  /** Stops the container(s) over the volume, after the archive is in place and checked. */
  stop(): Promise<void>;
  /** Starts them again, after the swap (also when the swap failed). */
  start(): Promise<void>;
}

/**
 * Extracts `body` beside the data directory, checks it, then swaps it in while the container is
 * stopped (see the top of this file). Returns the bytes read.
 */
export async function restoreVolume(s: RestoreSteps): Promise<number> {
  const mount = dirname(s.dataDir);
  const tmp = join(mount, '.restore-tmp');
  const old = join(mount, '.restore-old');
  rmSync(tmp, { recursive: true, force: true }); // left by a restore cut short (a node crash)
  rmSync(old, { recursive: true, force: true });
  mkdirSync(tmp, { mode: 0o755 });
  // The data directory keeps its owner and mode unless the archive has a `./` entry.
  const was = lstatSync(s.dataDir);
  chownSync(tmp, was.uid, was.gid);
  chmodSync(tmp, was.mode & 0o7777);
  try {
    const t = tar(['-C', tmp, '--numeric-owner', '-xf', '-']);
    const hash = createHash('sha256');
    let bytes = 0;
    let stdinOpen = true;
    t.child.stdin.on('error', () => {
      stdinOpen = false; // tar stopped reading (it failed, or found the end): the rest is still hashed
    });
    try {
      for await (const chunk of s.body) {
        bytes += chunk.length;
        if (bytes > s.limit)
          throw new VolumeAccessError(
            'TOO_LARGE',
            413,
            `the archive is larger than the volume (${s.limit.toLocaleString('en-US')} bytes)`,
          );
        hash.update(chunk);
        if (stdinOpen && !t.child.stdin.write(chunk) && stdinOpen)
          await Promise.race([once(t.child.stdin, 'drain'), t.exited]);
      }
    } catch (e) {
      t.child.kill('SIGKILL');
      await t.exited;
      if (e instanceof VolumeAccessError) throw e;
      throw new VolumeAccessError(
        'BAD_ARCHIVE',
        400,
        `the body did not arrive whole: ${(e as Error).message}`,
      );
    }
    t.child.stdin.end();
    const code = await t.exited;
    if (!Buffer.from(hash.digest()).equals(Buffer.from(s.sha256)))
      throw new VolumeAccessError(
        'BODY_MISMATCH',
        400,
        "the body's sha256 is not the one the owner signed: nothing was restored",
      );
    if (code !== 0) {
      const why = tail(t.stderr());
      if (/No space left on device/.test(why))
        throw new VolumeAccessError(
          'VOLUME_FULL',
          507,
          `the volume has no room for the archive beside its present contents (a restore needs both until the swap): ${why}`,
        );
      throw new VolumeAccessError('BAD_ARCHIVE', 400, `tar refused the archive (exit ${code}): ${why}`);
    }
    await s.stop();
    try {
      renameSync(s.dataDir, old);
      try {
        renameSync(tmp, s.dataDir);
      } catch (e) {
        renameSync(old, s.dataDir);
        throw e;
      }
    } finally {
      await s.start();
    }
    await rm(old, { recursive: true, force: true });
    return bytes;
  } finally {
    if (existsSync(tmp)) await rm(tmp, { recursive: true, force: true });
  }
}
