// The container engine as the node agent sees it: a small interface, implemented over dockerode.
// The Docker client is passed in (never built at import time), so tests and nodes choose it.
import { readFile } from 'node:fs/promises';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type Docker from 'dockerode';
import type { ContainerCreateOptions, NetworkCreateOptions } from 'dockerode';

export interface ContainerSummary {
  id: string;
  name: string;
  /** Docker's state: created, running, exited, dead, restarting, paused, removing. */
  state: string;
  labels: Record<string, string>;
  /** Names of the Docker networks it is attached to. */
  networks: string[];
}

export interface NetworkSummary {
  id: string;
  name: string;
  internal: boolean;
  labels: Record<string, string>;
}

export interface ContainerDetail extends ContainerSummary {
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  error?: string;
  oomKilled?: boolean;
}

export interface Runtime {
  /** Containers (running or not) carrying every one of these labels. */
  list(labels: Record<string, string>): Promise<ContainerSummary[]>;
  inspect(id: string): Promise<ContainerDetail>;
  hasImage(ref: string): Promise<boolean>;
  /** Pulls an image from its registry; rejects with the engine's reason. */
  pull(ref: string): Promise<void>;
  create(options: ContainerCreateOptions): Promise<string>;
  start(id: string): Promise<void>;
  /** Stops and removes; a container that is already gone is not an error. */
  remove(id: string): Promise<void>;
  /** Networks carrying every one of these labels. */
  listNetworks(labels: Record<string, string>): Promise<NetworkSummary[]>;
  createNetwork(options: NetworkCreateOptions): Promise<string>;
  /** A network that is already gone is not an error. */
  removeNetwork(id: string): Promise<void>;
  /** The last `tail` lines of stdout and stderr, with timestamps when asked. */
  logs(id: string, opts: { tail: number; since?: number; timestamps?: boolean }): Promise<string>;
  /** One sample of the engine's resource counters (takes about a second: CPU needs two readings). */
  stats(id: string): Promise<ContainerStats>;
  /** Stops (SIGTERM, then SIGKILL after `timeoutS`) and starts the container again. */
  restart(id: string, timeoutS?: number): Promise<void>;
  /** Stops (SIGTERM, then SIGKILL after `timeoutS`); one that is not running is not an error. */
  stop(id: string, timeoutS?: number): Promise<void>;
  /** Freezes every process of a running container (cgroup freezer): it runs no code until unpaused. */
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  /** A named volume over the host directory `device` (local driver, bind); one that exists is kept. */
  ensureVolume(name: string, device: string, labels: Record<string, string>): Promise<void>;
  /** A volume that is already gone is not an error. */
  removeVolume(name: string): Promise<void>;
  /** Starts a command in the running container, attached both ways (`docker exec -i [-t]`). */
  exec(id: string, opts: ExecOptions): Promise<ExecProcess>;
}

export interface ExecOptions {
  cmd: string[];
  /** A pseudo-terminal: output comes as stdout only, and `resize` sizes it. */
  tty: boolean;
  rows?: number;
  cols?: number;
}

/** A command running in a container (see `Runtime.exec`). */
export interface ExecProcess {
  /** Its standard input; ending it closes the process's stdin. */
  stdin: Writable;
  /** Everything it writes (with a terminal, stderr too); ends when it exits. */
  stdout: Readable;
  /** Without a terminal; stays empty with one. */
  stderr: Readable;
  resize(rows: number, cols: number): Promise<void>;
  /** Its exit status once `stdout` ended (undefined if the engine does not say). */
  exitCode(): Promise<number | undefined>;
  /** Drops the attachment and ends the process if it still runs (see stopExec). */
  close(): void;
}

export interface ContainerStats {
  /** Of one CPU: 100 is one core busy. */
  cpuPercent: number;
  memory: { used: number; limit: number };
  network: { rx: number; tx: number };
  blockIo: { read: number; write: number };
}

/** The subset of Docker's stats answer that `containerStats` reads (cgroup v1 and v2). */
export interface DockerStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op: string; value: number }> | null };
}

/** Docker's stats answer as the numbers `docker stats` shows. */
export function containerStats(s: DockerStats): ContainerStats {
  const cpu = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const system = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats?.online_cpus ?? 1;
  const m = s.memory_stats ?? {};
  // Page cache the kernel can drop is not use (cgroup v2 calls it inactive_file, v1 total_inactive_file).
  const cache = m.stats?.inactive_file ?? m.stats?.total_inactive_file ?? 0;
  const nets = Object.values(s.networks ?? {});
  const io = s.blkio_stats?.io_service_bytes_recursive ?? [];
  const ioSum = (op: string) =>
    io.filter((e) => e.op.toLowerCase() === op).reduce((sum, e) => sum + e.value, 0);
  return {
    // Without a previous reading (a first sample) there is no interval to measure over.
    cpuPercent:
      cpu > 0 && system > 0 && (s.precpu_stats?.system_cpu_usage ?? 0) > 0
        ? Math.round((cpu / system) * cpus * 10_000) / 100
        : 0,
    memory: { used: Math.max(0, (m.usage ?? 0) - cache), limit: m.limit ?? 0 },
    network: {
      rx: nets.reduce((sum, n) => sum + (n.rx_bytes ?? 0), 0),
      tx: nets.reduce((sum, n) => sum + (n.tx_bytes ?? 0), 0),
    },
    blockIo: { read: ioSum('read'), write: ioSum('write') },
  };
}

/** Docker multiplexes stdout and stderr in 8-byte framed chunks when there is no TTY. */
export function demuxDockerLog(buf: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length && (buf[at] === 1 || buf[at] === 2 || buf[at] === 0) && buf[at + 1] === 0) {
    const len = buf.readUInt32BE(at + 4);
    parts.push(buf.subarray(at + 8, at + 8 + len));
    at += 8 + len;
  }
  if (at === 0) return buf.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}

const statusOf = (e: unknown) => (e as { statusCode?: number }).statusCode;

export function createDockerRuntime(docker: Docker): Runtime {
  return {
    async list(labels) {
      const found = await docker.listContainers({
        all: true,
        filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
      });
      return found.map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        state: c.State,
        labels: c.Labels ?? {},
        networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
      }));
    },
    async listNetworks(labels) {
      const found = await docker.listNetworks({
        filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
      });
      return found.map((n) => ({
        id: n.Id,
        name: n.Name,
        internal: n.Internal === true,
        labels: n.Labels ?? {},
      }));
    },
    async createNetwork(options) {
      const n = await docker.createNetwork(options);
      return n.id;
    },
    async removeNetwork(id) {
      try {
        await docker.getNetwork(id).remove();
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
    },
    async inspect(id) {
      const c = await docker.getContainer(id).inspect();
      return {
        id: c.Id,
        name: c.Name.replace(/^\//, ''),
        state: c.State.Status,
        labels: c.Config.Labels ?? {},
        networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
        startedAt: c.State.StartedAt,
        finishedAt: c.State.FinishedAt,
        exitCode: c.State.ExitCode,
        error: c.State.Error || undefined,
        oomKilled: c.State.OOMKilled,
      };
    },
    async hasImage(ref) {
      try {
        await docker.getImage(ref).inspect();
        return true;
      } catch (e) {
        if (statusOf(e) === 404) return false;
        throw e;
      }
    },
    async pull(ref) {
      const stream = await docker.pull(ref);
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
          const failed = out?.find((o) => o.error);
          if (err) reject(err);
          else if (failed) reject(new Error(failed.error));
          else resolve();
        }),
      );
    },
    async create(options) {
      const c = await docker.createContainer(options);
      return c.id;
    },
    async start(id) {
      try {
        await docker.getContainer(id).start();
      } catch (e) {
        if (statusOf(e) !== 304) throw e; // already running
      }
    },
    async remove(id) {
      try {
        await docker.getContainer(id).remove({ force: true, v: true });
      } catch (e) {
        if (statusOf(e) !== 404 && statusOf(e) !== 409) throw e;
      }
    },
    async logs(id, opts) {
      const buf = (await docker.getContainer(id).logs({
        stdout: true,
        stderr: true,
        follow: false,
        tail: opts.tail,
        since: opts.since ?? 0,
        timestamps: opts.timestamps ?? false,
      })) as unknown as Buffer;
      return demuxDockerLog(Buffer.from(buf));
    },
    async stats(id) {
      return containerStats((await docker.getContainer(id).stats({ stream: false })) as DockerStats);
    },
    async restart(id, timeoutS = 10) {
      await docker.getContainer(id).restart({ t: timeoutS });
    },
    async stop(id, timeoutS = 10) {
      try {
        await docker.getContainer(id).stop({ t: timeoutS });
      } catch (e) {
        if (statusOf(e) !== 304) throw e; // not running
      }
    },
    async pause(id) {
      await docker.getContainer(id).pause();
    },
    async unpause(id) {
      await docker.getContainer(id).unpause();
    },
    async ensureVolume(name, device, labels) {
      try {
        const v = await docker.getVolume(name).inspect();
        if (v.Options?.device === device) return;
        // Over another directory (a datadir moved): the volume must point at this one.
        await docker.getVolume(name).remove();
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
      await docker.createVolume({
        Name: name,
        Driver: 'local',
        DriverOpts: { type: 'none', o: 'bind', device },
        Labels: labels,
      });
    },
    async removeVolume(name) {
      try {
        await docker.getVolume(name).remove();
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
    },
    async exec(id, opts) {
      const exec = await docker.getContainer(id).exec({
        Cmd: opts.cmd,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: opts.tty,
        ...(opts.tty ? { Env: ['TERM=xterm'] } : {}),
      });
      const size = opts.tty && opts.rows && opts.cols ? [opts.rows, opts.cols] : undefined;
      // ConsoleSize sizes the terminal from the start on engines with API 1.42 and later; older
      // ones ignore it and are sized by the resize just after.
      const stream = await exec.start({
        hijack: true,
        stdin: true,
        Tty: opts.tty,
        ...(size ? { ConsoleSize: size } : {}),
      } as Docker.ExecStartOptions);
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      if (opts.tty) stream.pipe(stdout);
      else {
        docker.modem.demuxStream(stream, stdout, stderr);
        stream.on('end', () => {
          stdout.end();
          stderr.end();
        });
      }
      stream.on('close', () => {
        if (!stdout.writableEnded) stdout.end();
        if (!stderr.writableEnded) stderr.end();
      });
      stream.on('error', (e) => stdout.destroy(e));
      const resize = async (rows: number, cols: number) => {
        await exec.resize({ h: rows, w: cols });
      };
      if (size) await resize(size[0], size[1]).catch(() => undefined);
      return {
        stdin: stream,
        stdout,
        stderr,
        resize,
        async exitCode() {
          // The engine may still call it running just after its output ended.
          for (let tries = 0; tries < 50; tries++) {
            const info = await exec.inspect();
            if (!info.Running) return info.ExitCode ?? undefined;
            await new Promise((r) => setTimeout(r, 100));
          }
          return undefined;
        },
        close() {
          stream.destroy();
          void stopExec(exec, id);
        },
      };
    },
  };
}

/**
 * Ends an exec's process that outlives its attachment (the engine lets it run, and has no call to
 * stop it): SIGHUP, then SIGKILL 2 s later. Only a process in this machine's PID namespace whose
 * cgroup names container `containerId`, so a node in another namespace never signals a stranger.
 */
async function stopExec(exec: Docker.Exec, containerId: string): Promise<void> {
  const info = await exec.inspect().catch(() => undefined);
  const pid = info?.Running ? info.Pid : 0;
  if (!pid) return;
  const inside = () =>
    readFile(`/proc/${pid}/cgroup`, 'utf8').then(
      (text) => text.includes(containerId),
      () => false,
    );
  const signal = async (name: NodeJS.Signals) => {
    if (!(await inside())) return false;
    try {
      process.kill(pid, name);
      return true;
    } catch {
      return false;
    }
  };
  if (await signal('SIGHUP')) setTimeout(() => void signal('SIGKILL'), 2_000).unref();
}

/** Docker's own message from an engine error (dockerode wraps it as `(HTTP code 404) ... - msg`). */
export function engineMessage(e: unknown): string {
  const err = e as { json?: { message?: string }; message?: string };
  return (err.json?.message ?? err.message ?? String(e)).trim();
}
