// App volumes on this node: each is an ext4 file system in a sparse image file of its size,
// loop-mounted by the node, so the kernel enforces the quota (a container that writes past it
// gets ENOSPC) and removing a volume is removing two paths. The mounted file system's `data`
// directory backs a Docker volume (local driver, bind), so an empty volume is filled from the
// image on first use as Docker does for named volumes (a database image's data directory keeps
// its owner). Volumes outlive containers: updates, restarts, failed starts and a node restart
// keep them; only `remove` (the app cancelled or expired, after the grace period) deletes.
//
// Layout under the node's datadir: volumes/<app>/<volume>.img and volumes/<app>/<volume>/ (the
// mount point; data/ inside it). Loop mounts need root (or CAP_SYS_ADMIN); without it every
// volume fails with that reason and placement moves the app to a node that can.
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const GB = 1024 ** 3;

export interface VolumeRef {
  app: string;
  name: string;
  sizeGb: number;
}

export interface VolumeInfo extends VolumeRef {
  /** Host path of the data directory (what the container sees at its mount). */
  path: string;
  mounted: boolean;
  /** Bytes used on the volume's file system (mounted ones). */
  usedBytes?: number;
}

export interface VolumeStore {
  /** Creates (first time), grows (a larger size) and mounts the volume; returns its data directory. */
  ensure(v: VolumeRef): Promise<string>;
  /** Volumes on this node (mounted or not), by app. */
  list(): VolumeInfo[];
  /** Unmounts and deletes every volume of `app` (its data is gone). */
  remove(app: string): Promise<void>;
  /** Unmounts every volume (node shutdown); the images stay. */
  unmountAll(): Promise<void>;
}

export class VolumeError extends Error {}

/** Each mount in this mount namespace: where, and its source device (from /proc/self/mountinfo; octal escapes decoded). */
export function mounts(): Array<{ point: string; source: string }> {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const decoded = (f: string) =>
    f.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const out: Array<{ point: string; source: string }> = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (f[4] && dash > 0) out.push({ point: decoded(f[4]), source: decoded(f[dash + 2] ?? '') });
  }
  return out;
}

const mountPoints = (): Set<string> => new Set(mounts().map((m) => m.point));

const NAME = /^[a-z][a-z0-9-]{0,31}$/;

async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { timeout: 60_000 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string; code?: string };
    if (err.code === 'ENOENT') throw new VolumeError(`${cmd} is not installed on this node`);
    throw new VolumeError(`${cmd} ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
  }
}

/** The loop-mounted ext4 store under `root` (the node's datadir/volumes). */
export function createLoopVolumes(root: string): VolumeStore {
  const paths = (app: string, name: string) => {
    if (!NAME.test(app) || !NAME.test(name)) throw new VolumeError(`bad volume name ${app}/${name}`);
    const dir = join(root, app);
    return { dir, image: join(dir, `${name}.img`), mnt: join(dir, name), data: join(dir, name, 'data') };
  };
  // One change at a time per volume: two passes must not both mkfs or mount it.
  const busy = new Map<string, Promise<unknown>>();
  const serial = <T>(key: string, f: () => Promise<T>): Promise<T> => {
    const next = (busy.get(key) ?? Promise.resolve()).then(f, f);
    busy.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  };

  async function ensure(v: VolumeRef): Promise<string> {
    const p = paths(v.app, v.name);
    return serial(`${v.app}/${v.name}`, async () => {
      mkdirSync(p.mnt, { recursive: true });
      const want = v.sizeGb * GB;
      const fresh = !existsSync(p.image);
      if (fresh) {
        await sh('truncate', ['-s', String(want), `${p.image}.new`]);
        // No reserved blocks: the owner gets every byte of the size paid for.
        await sh('mkfs.ext4', ['-q', '-F', '-m', '0', '-L', v.name.slice(0, 16), `${p.image}.new`]);
        await sh('mv', [`${p.image}.new`, p.image]);
      }
      const mounted = mountPoints().has(p.mnt);
      if (!mounted) {
        // Still on a loop device (unmounted under a container that holds it): mount that device,
        // which shares its file system; a second loop device over one image would corrupt it.
        const attached = (await sh('losetup', ['-j', p.image]).catch(() => '')).split(':')[0].trim();
        try {
          if (attached.startsWith('/dev/loop'))
            await sh('mount', ['-o', 'noatime,nodev,nosuid', attached, p.mnt]);
          else await sh('mount', ['-o', 'loop,noatime,nodev,nosuid', p.image, p.mnt]);
        } catch (e) {
          throw new VolumeError(
            `cannot mount volume ${v.app}/${v.name} (a loop device needs root): ${(e as Error).message}`,
          );
        }
      }
      const size = statSync(p.image).size;
      if (want > size) {
        // Grown in a new revision: extend the image, then the mounted file system (online).
        await sh('truncate', ['-s', String(want), p.image]);
        const dev = loopDeviceOf(p.mnt);
        if (dev) await sh('losetup', ['-c', dev]);
        await sh('resize2fs', [dev ?? p.image]);
      }
      // A restore cut short between its two renames (backup.ts) left the old contents aside.
      const aside = join(p.mnt, '.restore-old');
      if (!existsSync(p.data) && existsSync(aside)) renameSync(aside, p.data);
      mkdirSync(p.data, { recursive: true });
      return p.data;
    });
  }

  function list(): VolumeInfo[] {
    const out: VolumeInfo[] = [];
    if (!existsSync(root)) return out;
    const mounts = mountPoints();
    for (const app of readdirSync(root)) {
      if (!NAME.test(app)) continue;
      for (const f of readdirSync(join(root, app))) {
        if (!f.endsWith('.img')) continue;
        const name = f.slice(0, -4);
        if (!NAME.test(name)) continue;
        const p = paths(app, name);
        const mounted = mounts.has(p.mnt);
        out.push({
          app,
          name,
          sizeGb: Math.round(statSync(p.image).size / GB),
          path: p.data,
          mounted,
          ...(mounted ? { usedBytes: usedBytes(p.mnt) } : {}),
        });
      }
    }
    return out;
  }

  async function unmount(mnt: string): Promise<void> {
    if (!mountPoints().has(mnt)) return;
    // A loop mount made by mount(8) is detached from its loop device on unmount (autoclear).
    await sh('umount', [mnt]);
  }

  return {
    ensure,
    list,
    async remove(app) {
      const vols = list().filter((v) => v.app === app);
      for (const v of vols) {
        const p = paths(app, v.name);
        await serial(`${app}/${v.name}`, () => unmount(p.mnt));
      }
      rmSync(join(root, app), { recursive: true, force: true });
    },
    async unmountAll() {
      for (const v of list()) await unmount(paths(v.app, v.name).mnt).catch(() => undefined);
    },
  };
}

/** The loop device mounted at `mnt`. */
function loopDeviceOf(mnt: string): string | undefined {
  const source = mounts().find((m) => m.point === mnt)?.source;
  return source?.startsWith('/dev/loop') ? source : undefined;
}

/** Used bytes of the file system mounted at `mnt` (statfs). */
function usedBytes(mnt: string): number | undefined {
  try {
    const s = statfsSync(mnt);
    return (s.blocks - s.bfree) * s.bsize;
  } catch {
    return undefined;
  }
}
