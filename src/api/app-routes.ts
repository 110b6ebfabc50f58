// The routes of FluxOS apps, declared once (spread into `routes` in routes.ts).
import { z } from 'zod';
import { route } from './route.ts';

const appParams = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]{1,30}[a-z0-9]$/, {
    error: 'name must be an app name (3-32 lowercase letters, digits, hyphens)',
  }),
});
const Amount = z.string().describe('base units (10^-8 FLUX), decimal');

export const AppPriceJson = z.object({
  items: z.object({ cpu: Amount, ram: Amount, hdd: Amount, ports: Amount, instances: Amount }),
  perBlock: Amount,
  blocks: z.number(),
  instances: z.number(),
  total: Amount,
});
export type AppPriceJson = z.infer<typeof AppPriceJson>;

export const INSTANCE_STATES = ['pulling', 'starting', 'running', 'restarting', 'failed', 'unknown'] as const;

export const PlacementJson = z.object({
  wanted: z.number(),
  nodes: z.array(z.object({ id: z.string(), endpoint: z.string().describe("the node's API, host:port") })),
  reason: z.string().optional().describe('why fewer nodes than wanted host it'),
});

export const AppJson = z
  .object({
    name: z.string(),
    owner: z.string().describe('bech32m address'),
    revision: z.number(),
    registeredAt: z.number(),
    updatedAt: z.number(),
    expiresAt: z.number().describe('first height at which it no longer runs'),
    pricePerBlock: Amount,
    escrow: Amount.describe('held for the blocks not yet settled'),
    spec: z.record(z.string(), z.unknown()),
    placement: PlacementJson,
  })
  .meta({ id: 'App' });
export type AppJson = z.infer<typeof AppJson>;

export const ComponentStatusJson = z.object({
  name: z.string(),
  state: z.enum(INSTANCE_STATES),
  since: z.number().describe('ms since the Unix epoch'),
  reason: z.string().optional(),
  restarts: z.number(),
  containerId: z.string().optional(),
});

export const LocalInstanceJson = z.object({
  app: z.string(),
  node: z.string(),
  revision: z.number(),
  state: z.enum(INSTANCE_STATES),
  since: z.number(),
  reason: z.string().optional(),
  restarts: z.number(),
  endpoints: z.array(z.string()).describe('host:port of each published port'),
  components: z.array(ComponentStatusJson),
  volumes: z
    .array(
      z.object({
        name: z.string(),
        mode: z.enum(['replicated', 'local']),
        role: z.enum(['primary', 'standby']),
        generation: z.number().describe('bumped each time a node starts as the primary'),
        seq: z.number().describe("the primary's round this copy holds"),
        standbys: z.array(
          z.object({
            node: z.string(),
            seq: z.number(),
            behindBytes: z.number().describe('bytes of changed files it lacks as of the last round'),
            behindMs: z
              .number()
              .describe('ms since the round it holds was read: what a failover now would lose'),
            error: z.string().optional(),
          }),
        ),
      }),
    )
    .optional(),
});
export type LocalInstanceJson = z.infer<typeof LocalInstanceJson>;

export const AppStatusJson = z
  .object({
    name: z.string(),
    height: z.number(),
    revision: z.number(),
    wanted: z.number(),
    placed: z.number(),
    running: z.number(),
    reason: z.string().optional(),
    instances: z.array(
      LocalInstanceJson.omit({ app: true }).extend({
        index: z.number(),
        api: z.string().describe("the hosting node's API, host:port"),
        nodeState: z
          .enum(['alive', 'returning', 'down'])
          .optional()
          .describe('the hosting node in the answering node’s liveness view'),
        nodeSince: z.number().optional().describe('ms since the Unix epoch the node has been in nodeState'),
        lastHeard: z.number().optional().describe('ms since the Unix epoch of its last heartbeat heard'),
        extra: z
          .boolean()
          .optional()
          .describe('runs it without being placed (hand-over or failover overlap); stops once views agree'),
      }),
    ),
  })
  .meta({ id: 'AppStatus' });
export type AppStatusJson = z.infer<typeof AppStatusJson>;

export const ContainerStatsJson = z.object({
  component: z.string(),
  containerId: z.string(),
  cpuPercent: z.number().describe('of one CPU: 100 is one core busy'),
  memory: z.object({ used: z.number(), limit: z.number() }).describe('bytes (page cache not counted)'),
  network: z.object({ rx: z.number(), tx: z.number() }).describe('bytes since the container started'),
  blockIo: z.object({ read: z.number(), write: z.number() }).describe('bytes since the container started'),
});
export type ContainerStatsJson = z.infer<typeof ContainerStatsJson>;

export const AppStatsJson = z
  .object({ node: z.string(), app: z.string(), components: z.array(ContainerStatsJson) })
  .meta({ id: 'AppStats' });
export type AppStatsJson = z.infer<typeof AppStatsJson>;

const secretParams = appParams.extend({
  key: z.string().max(128).describe('an environment variable name'),
});
const SecretVersion = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).describe("the owner's clock, ms");

export const AppSecretsJson = z
  .object({
    node: z.string(),
    app: z.string(),
    secrets: z
      .array(z.object({ key: z.string(), version: z.number() }))
      .describe('names and versions, never values'),
  })
  .meta({ id: 'AppSecrets' });
export type AppSecretsJson = z.infer<typeof AppSecretsJson>;
/** A command as exec's `cmd` query carries it: a JSON array of 1 to 64 strings. */
const ExecCommand = z
  .string()
  .max(4096)
  .transform((text, ctx) => {
    let cmd: unknown;
    try {
      cmd = JSON.parse(text);
    } catch {
      cmd = undefined;
    }
    if (
      !Array.isArray(cmd) ||
      cmd.length < 1 ||
      cmd.length > 64 ||
      !cmd.every((a) => typeof a === 'string') ||
      cmd[0] === ''
    ) {
      ctx.addIssue({
        code: 'custom',
        message: 'cmd must be a JSON array of 1 to 64 strings, the first not empty',
      });
      return z.NEVER;
    }
    return cmd as string[];
  })
  .describe('the command and its arguments, a JSON array of strings, e.g. ["sh"]');
const TerminalSize = z
  .string()
  .regex(/^\d{1,5}$/)
  .transform(Number)
  .refine((n) => n >= 1 && n <= 65_535, { error: 'a terminal size is 1 to 65535' });
export const VolumeRestoreJson = z
  .object({
    node: z.string(),
    app: z.string(),
    volume: z.string(),
    component: z.string(),
    bytes: z.number().describe('bytes of the archive restored'),
    containerId: z.string(),
    startedAt: z.string().describe('ISO time the container started again'),
  })
  .meta({ id: 'VolumeRestore' });
export type VolumeRestoreJson = z.infer<typeof VolumeRestoreJson>;

/** The header of a backup answer that names the volume it holds. */
export const BACKUP_VOLUME_HEADER = 'x-flux-volume';

const volumeParams = appParams.extend({ volume: z.string().max(32) });
const VolumeEntryJson = z.object({
  path: z.string(),
  type: z.enum(['f', 'd', 'l']),
  mode: z.number(),
  uid: z.number(),
  gid: z.number(),
  size: z.number().optional(),
  hash: z.string().optional(),
  mtimeMs: z.number().optional(),
  target: z.string().optional(),
});

export const appRoutes = {
  appPrice: route({
    method: 'POST',
    path: '/apps/price',
    summary: 'Validates an app spec (YAML or JSON text) and prices it, itemised',
    body: z.object({ spec: z.string().max(65_536) }),
    status: 200,
    response: z.object({ spec: z.record(z.string(), z.unknown()), price: AppPriceJson }),
  }),
  apps: route({
    method: 'GET',
    path: '/apps',
    summary: 'Registered apps in name order, with where they are placed',
    status: 200,
    response: z.object({ height: z.number(), apps: z.array(AppJson) }),
  }),
  app: route({
    method: 'GET',
    path: '/apps/:name',
    summary: 'One app: owner, spec, revision, expiry, escrow and placement',
    params: appParams,
    status: 200,
    response: AppJson,
  }),
  appStatus: route({
    method: 'GET',
    path: '/apps/:name/status',
    summary: "Every instance's state, asked from the nodes that host it",
    params: appParams,
    status: 200,
    response: AppStatusJson,
  }),
  appLocal: route({
    method: 'GET',
    path: '/apps/:name/local',
    summary: "This node's instance of the app, as its Docker engine runs it",
    params: appParams,
    status: 200,
    response: z.object({ node: z.string().optional(), instances: z.array(LocalInstanceJson) }),
  }),
  appLogs: route({
    method: 'GET',
    path: '/apps/:name/logs',
    summary: "The last lines of this node's container of the app (timestamped); owner only",
    auth: 'owner',
    params: appParams,
    query: z.object({
      component: z.string().optional(),
      tail: z
        .string()
        .regex(/^\d{1,5}$/)
        .transform(Number)
        .optional(),
      since: z
        .string()
        .regex(/^\d{1,12}$/)
        .transform(Number)
        .optional()
        .describe('unix seconds'),
    }),
    status: 200,
    response: z.object({ node: z.string(), component: z.string().optional(), text: z.string() }),
  }),
  appStats: route({
    method: 'GET',
    path: '/apps/:name/stats',
    summary:
      "CPU, memory, network and block I/O of this node's containers of the app (one sample); owner only",
    auth: 'owner',
    params: appParams,
    status: 200,
    response: AppStatsJson,
  }),
  appRestart: route({
    method: 'POST',
    path: '/apps/:name/restart',
    summary: "Restarts this node's containers of the app (or one component's); owner only",
    auth: 'owner',
    params: appParams,
    query: z.object({ component: z.string().optional() }),
    status: 200,
    response: z.object({
      node: z.string(),
      restarted: z.array(
        z.object({
          component: z.string(),
          containerId: z.string(),
          startedAt: z.string().describe('ISO time the container started again'),
        }),
      ),
    }),
  }),
  appSecrets: route({
    method: 'GET',
    path: '/apps/:name/secrets',
    summary: "The names and versions of the app's secrets this node holds (never values); owner only",
    auth: 'owner',
    params: appParams,
    status: 200,
    response: AppSecretsJson,
  }),
  appSecretSet: route({
    method: 'PUT',
    path: '/apps/:name/secrets/:key',
    summary:
      "Sets a secret of the app on this node: its value sealed to this node's operator key (a newer version only); owner only",
    auth: 'owner',
    params: secretParams,
    body: z.object({
      version: SecretVersion,
      sealed: z
        .string()
        .max(96 * 1024)
        .regex(/^[A-Za-z0-9+/]*={0,2}$/)
        .describe("base64 of the value sealed to this node's operator key (core/crypto/seal.ts)"),
    }),
    bodyLimit: 128 * 1024,
    status: 200,
    response: z.object({ node: z.string(), key: z.string(), version: z.number() }),
  }),
  appSecretUnset: route({
    method: 'DELETE',
    path: '/apps/:name/secrets/:key',
    summary: 'Unsets a secret of the app on this node (as of a version newer than its last set); owner only',
    auth: 'owner',
    params: secretParams,
    query: z.object({
      version: z
        .string()
        .regex(/^\d{1,15}$/)
        .transform(Number),
    }),
    status: 200,
    response: z.object({ node: z.string(), key: z.string(), version: z.number() }),
  }),
  appVolumeState: route({
    method: 'GET',
    path: '/apps/:name/volumes/:volume/state',
    summary:
      "This node's copy of a replicated volume: its generation and round, and with manifest=1 every path with its type, owner, mode and sha256; asked by a holder of the app, signed by its operator key",
    auth: 'node',
    params: volumeParams,
    query: z.object({ for: z.string().regex(/^[0-9a-f]{64}$/), manifest: z.enum(['0', '1']).optional() }),
    status: 200,
    response: z.object({
      generation: z.number(),
      seq: z.number(),
      entries: z.array(VolumeEntryJson).optional(),
    }),
  }),
  appVolumeSync: route({
    method: 'PUT',
    path: '/apps/:name/volumes/:volume/sync',
    summary:
      "A primary's round of a replicated volume (a delta: JSON header, then the changed files; src/node/fluxos/volume-sync.ts), applied whole by a standby; signed by the primary's operator key",
    auth: 'node',
    raw: { request: 'application/octet-stream' },
    params: volumeParams,
    query: z.object({ for: z.string().regex(/^[0-9a-f]{64}$/) }),
    status: 200,
    response: z.object({ generation: z.number(), seq: z.number() }),
  }),
  appVolumeDelta: route({
    method: 'POST',
    path: '/apps/:name/volumes/:volume/delta',
    summary:
      "What turns the asker's copy of a replicated volume (its manifest, the body) into this node's: a delta; asked by a node about to start the app, signed by its operator key",
    auth: 'node',
    raw: { request: 'application/octet-stream', response: 'application/octet-stream' },
    params: volumeParams,
    query: z.object({ for: z.string().regex(/^[0-9a-f]{64}$/) }),
    status: 200,
    response: z.unknown().describe('a delta (volume-sync.ts encodeDelta)'),
  }),
  appSecretsSealed: route({
    method: 'GET',
    path: '/apps/:name/secrets/sealed',
    summary:
      "Hand-over: the app's secrets re-sealed to the operator key of node `for`, which placement must assign the app; signed by that node's operator key",
    auth: 'node',
    params: appParams,
    query: z.object({ for: z.string().regex(/^[0-9a-f]{64}$/) }),
    status: 200,
    response: z.object({
      node: z.string(),
      secrets: z
        .array(
          z.object({
            key: z.string().max(128),
            version: z.number(),
            sealed: z
              .string()
              .max(96 * 1024)
              .optional()
              .describe('absent: unset at this version'),
          }),
        )
        .max(128),
    }),
  }),
  appExec: route({
    method: 'GET',
    path: '/apps/:name/exec',
    summary:
      "Runs a command in this node's container of the app, attached both ways: an HTTP Upgrade (Connection: Upgrade, Upgrade: openflux-exec) answered 101, then frames of src/api/exec-wire.ts; without the upgrade 426; owner only",
    auth: 'owner',
    params: appParams,
    query: z.object({
      component: z.string().optional(),
      cmd: ExecCommand,
      tty: z.enum(['0', '1']).optional().describe('1: a pseudo-terminal (default 0)'),
      rows: TerminalSize.optional(),
      cols: TerminalSize.optional(),
    }),
    status: 200,
    response: z.object({}).describe('never sent: the exec answers 101 and switches to frames'),
  }),
  appBackup: route({
    method: 'GET',
    path: '/apps/:name/backup',
    summary:
      "A consistent snapshot of one of the app's volumes on this node, as a tar stream (the component's container is paused while it is read); owner only",
    auth: 'owner',
    raw: { response: 'application/x-tar' },
    params: appParams,
    query: z.object({
      volume: z.string().optional().describe('which volume; may be left out when the app has one'),
    }),
    status: 200,
    response: z.unknown().describe('a tar archive of the volume (GNU tar, numeric owners)'),
  }),
  appRestore: route({
    method: 'PUT',
    path: '/apps/:name/restore',
    summary:
      "Replaces one of the app's volumes on this node with a tar archive (the body, at most the volume's size), then starts its container again; owner only",
    auth: 'owner',
    raw: { request: 'application/x-tar' },
    params: appParams,
    query: z.object({
      volume: z.string().optional().describe('which volume; may be left out when the app has one'),
    }),
    status: 200,
    response: VolumeRestoreJson,
  }),
} as const;
