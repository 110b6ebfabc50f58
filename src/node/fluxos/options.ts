// App spec -> Docker container create options: a pure function, tested without Docker. Every
// container is tied to its node, app, component and spec revision by labels; its name carries the
// node id (devnet nodes share one engine); published ports bind to the node's own address. Each
// app has one user-defined bridge per node; its components find each other there by name.
import { createHash } from 'node:crypto';
import type { ContainerCreateOptions, NetworkCreateOptions } from 'dockerode';
import type { AppComponent, AppSpec } from '../../core/apps/spec.ts';

export const LABELS = {
  managed: 'org.openflux.managed',
  /** The chain (first 12 hex of its genesis hash): devnets on one engine share genesis node ids. */
  network: 'org.openflux.network',
  node: 'org.openflux.node',
  app: 'org.openflux.app',
  component: 'org.openflux.component',
  revision: 'org.openflux.revision',
  /** A digest of the app's secret names and versions (never values): a change recreates the container. */
  secrets: 'org.openflux.secrets',
} as const;

/**
 * Every app bridge's host-side interface starts with this (Linux allows 15 characters), so one
 * firewall rule (`-i ofx+`, firewall.ts) walls all of them off from the node itself.
 */
export const APP_BRIDGE_PREFIX = 'ofx';

/** Processes a container may run: enough for a web server, not for a fork bomb. */
export const PIDS_LIMIT = 256;
/** Capabilities kept after dropping all: what ordinary images need to start as root. */
export const KEPT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID', 'NET_BIND_SERVICE'];

export interface ContainerTarget {
  /** Short id of the chain: the first 12 hex digits of its genesis block hash. */
  network: string;
  /** The FluxNode id of the node that runs it. */
  nodeId: string;
  /** Address published ports bind to: the node's own (e.g. 127.0.0.2 on a devnet). */
  hostAddress: string;
  app: AppSpec;
  revision: number;
  component: AppComponent;
  /** The app's secrets, opened: they join the environment and win over the spec's env of the same name. */
  secrets?: { env: Record<string, string>; digest: string };
}

/**
 * `flux-<network>-<first 12 of node id>-<app>-<component>`: unique per node and chain, readable
 * in `docker ps`.
 */
export function containerName(network: string, nodeId: string, app: string, component: string): string {
  return `flux-${network}-${nodeId.slice(0, 12)}-${app}-${component}`;
}

/** `ofx-<network>-<first 12 of node id>-<app>`: the app's own Docker network on this node. */
export function appNetworkName(network: string, nodeId: string, app: string): string {
  return `ofx-${network}-${nodeId.slice(0, 12)}-${app}`;
}

/** `ofx-<network>-<first 12 of node id>-<app>-<volume>`: the Docker volume over an app volume's data on this node. */
export function appVolumeName(network: string, nodeId: string, app: string, volume: string): string {
  return `ofx-${network}-${nodeId.slice(0, 12)}-${app}-${volume}`;
}

/** The bridge interface of an app network: `ofx` + 12 hex of a hash of its name (15 characters). */
export function appBridgeName(networkName: string): string {
  return APP_BRIDGE_PREFIX + createHash('sha256').update(networkName).digest('hex').slice(0, 12);
}

/** An app publishes nothing: its network can be `internal` (no route out, nothing in). */
export function publishesNothing(app: AppSpec): boolean {
  return app.components.every((c) => c.ports.length === 0);
}

export interface NetworkTarget {
  network: string;
  nodeId: string;
  app: AppSpec;
}

/**
 * A user-defined bridge for one app on one node. `Internal` only when no component publishes a
 * port: Docker publishes no port from an internal network, and the ingress reaches instances
 * through the ports published on the node's address.
 */
export function networkOptions(t: NetworkTarget): NetworkCreateOptions {
  const name = appNetworkName(t.network, t.nodeId, t.app.name);
  return {
    Name: name,
    CheckDuplicate: true,
    Driver: 'bridge',
    Internal: publishesNothing(t.app),
    Labels: {
      [LABELS.managed]: '1',
      [LABELS.network]: t.network,
      [LABELS.node]: t.nodeId,
      [LABELS.app]: t.app.name,
    },
    Options: { 'com.docker.network.bridge.name': appBridgeName(name) },
  };
}

export function containerOptions(t: ContainerTarget): ContainerCreateOptions {
  const c = t.component;
  const appNetwork = appNetworkName(t.network, t.nodeId, t.app.name);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of c.ports) {
    const key = `${p.container}/${p.protocol}`;
    exposed[key] = {};
    bindings[key] = [...(bindings[key] ?? []), { HostIp: t.hostAddress, HostPort: String(p.host) }];
  }
  const memory = c.ram * 1024 * 1024;
  return {
    name: containerName(t.network, t.nodeId, t.app.name, c.name),
    Image: c.image,
    ...(c.command ? { Cmd: c.command } : {}),
    ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
    Env: [
      ...Object.entries({ ...c.env, ...t.secrets?.env }).map(([k, v]) => `${k}=${v}`),
      `FLUX_APP=${t.app.name}`,
      `FLUX_COMPONENT=${c.name}`,
    ],
    Labels: {
      [LABELS.managed]: '1',
      [LABELS.network]: t.network,
      [LABELS.node]: t.nodeId,
      [LABELS.app]: t.app.name,
      [LABELS.component]: c.name,
      [LABELS.revision]: String(t.revision),
      ...(t.secrets?.digest ? { [LABELS.secrets]: t.secrets.digest } : {}),
    },
    ExposedPorts: exposed,
    HostConfig: {
      NanoCpus: Math.round(c.cpu * 10) * 100_000_000,
      Memory: memory,
      MemorySwap: memory,
      PidsLimit: PIDS_LIMIT,
      Privileged: false,
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      CapAdd: KEPT_CAPABILITIES,
      PortBindings: bindings,
      // Each volume: the Docker volume (bind of its quota'd file system) at its mount path.
      Mounts: (c.volumes ?? []).map((v) => ({
        Type: 'volume' as const,
        Source: appVolumeName(t.network, t.nodeId, t.app.name, v.name),
        Target: v.mount,
      })),
      // The app's own bridge, never Docker's default one: other apps are not on it.
      NetworkMode: appNetwork,
      // The reconciler restarts crashed containers itself, with backoff, and reports it.
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } },
    },
    // `postgres://…@db:5432` from a sibling component: its name is its alias on the app network.
    NetworkingConfig: { EndpointsConfig: { [appNetwork]: { Aliases: [c.name] } } },
  };
}
