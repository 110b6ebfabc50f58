// Handlers of the /apps routes. Status asks each hosting node's API for its own instance (the
// endpoints come from the FluxNode records), so any node can answer for the whole network.

import { Readable } from 'node:stream';
import {
  type AppJson,
  type AppStatusJson,
  BACKUP_VOLUME_HEADER,
  type LocalInstanceJson,
} from '../../api/app-routes.ts';
import { callRoute } from '../../api/call.ts';
import {
  createReplayCache,
  OWNER_BODY_HASH_HEADER,
  type ReplayCache,
  verifyOwnerRequest,
} from '../../api/owner-auth.ts';
import { ApiError, type RouteOutput, type RouteRequest, type StreamedBody } from '../../api/route.ts';
import { type Routes, routes } from '../../api/routes.ts';
import { type AppPlacement, appPrice, parseAppSpec } from '../../core/apps/index.ts';
import { getApp } from '../../core/apps/types.ts';
import { bytesEqual, fromHex, sha256 } from '../../core/crypto/hash.ts';
import { addressBytes, encodeAddress } from '../../core/crypto/keys.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import type { Chain } from '../chain/types.ts';
import { VolumeAccessError } from '../fluxos/backup.ts';
import { createPlacement, type Placement, type PlacementView } from '../fluxos/placement.ts';
import type { Replication } from '../fluxos/replication.ts';
import { ROUND_SEND_BYTES } from '../fluxos/replication.ts';
import type { AppSecrets, SecretRefusal } from '../fluxos/secrets.ts';
import type { FluxOs } from '../fluxos/service.ts';
import { type Entry, MAX_DELTA_HEADER_BYTES } from '../fluxos/volume-sync.ts';
import type { Liveness } from '../liveness/service.ts';

export interface AppApiDeps {
  state: StateReader;
  /** The node's placement views (fluxos/placement.ts); an API without a node builds its own. */
  placement?: Placement;
  /** This node's agent; without it the local routes say the node runs no apps. */
  fluxos?: FluxOs;
  /** This node's view of which FluxNodes are alive. */
  liveness?: Liveness;
  /** The app secrets this node holds (fluxos/secrets.ts). */
  secrets?: AppSecrets;
}

type AppHandlers = {
  [K in
    | 'appPrice'
    | 'apps'
    | 'app'
    | 'appStatus'
    | 'appLocal'
    | 'appLogs'
    | 'appStats'
    | 'appRestart'
    | 'appSecrets'
    | 'appSecretSet'
    | 'appSecretUnset'
    | 'appSecretsSealed'
    | 'appExec'
    | 'appBackup'
    | 'appRestore'
    | 'appVolumeState'
    | 'appVolumeSync'
    | 'appVolumeDelta']: (
    req: RouteRequest<Routes[K]>,
  ) => RouteOutput<Routes[K]> | Promise<RouteOutput<Routes[K]>>;
};

const PEER_TIMEOUT_MS = 2_000;

/** What an owner route's request carries for its check: method, URL as sent, headers, the app. */
export interface SignedAppRequest {
  method: string;
  /** Path and query exactly as sent. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  app: string;
  /** The body's bytes as sent, for a route that takes one. */
  body?: Uint8Array;
  /**
   * A streamed body (route `raw.request`): the signature covers the sha256 sent ahead of it in
   * OWNER_BODY_HASH_HEADER, checked here; the handler checks the bytes against it before use.
   */
  streamedBody?: boolean;
}

/**
 * The check of every owner route (route `auth: 'owner'`): signed by the key of the app's owner on
 * chain, for this node, recently, once (owner-auth.ts). Throws the ApiError that refuses it.
 */
export function createOwnerGate(
  deps: AppApiDeps | undefined,
  replay: ReplayCache = createReplayCache(),
): (req: SignedAppRequest) => void {
  return (req) => {
    const node = deps?.fluxos?.nodeId();
    if (!deps || !node) throw new ApiError(404, 'NOT_HOSTED', 'this node runs no apps');
    const app = getApp(deps.state, req.app);
    if (!app) throw new ApiError(404, 'APP_NOT_FOUND', `no app named ${req.app}`);
    const bodySha256 = req.streamedBody ? signedBodyHash(req.headers) : undefined;
    const checked = verifyOwnerRequest(
      req.headers,
      { method: req.method, pathAndQuery: req.url, body: req.body, ...(bodySha256 ? { bodySha256 } : {}) },
      { nodeId: node, owner: app.owner, replay },
    );
    if (!checked.ok) throw new ApiError(checked.status, checked.code, checked.message);
  };
}

/**
 * The check of a node route (route `auth: 'node'`): signed as an owner request is, by the operator
 * key of the FluxNode the request names in `for`.
 */
export function createNodeGate(
  chain: Pick<Chain, 'fluxNode'>,
  deps: AppApiDeps | undefined,
  replay: ReplayCache = createReplayCache(),
): (req: SignedAppRequest & { forNode: string }) => void {
  return (req) => {
    const node = deps?.fluxos?.nodeId();
    if (!deps || !node) throw new ApiError(404, 'NOT_HOSTED', 'this node runs no apps');
    const asker = chain.fluxNode(req.forNode);
    if (!asker) throw new ApiError(404, 'NODE_NOT_FOUND', `no FluxNode ${req.forNode}`);
    const bodySha256 = req.streamedBody ? signedBodyHash(req.headers) : undefined;
    const checked = verifyOwnerRequest(
      req.headers,
      { method: req.method, pathAndQuery: req.url, body: req.body, ...(bodySha256 ? { bodySha256 } : {}) },
      { nodeId: node, owner: addressBytes(asker.operator), replay },
    );
    if (!checked.ok)
      throw new ApiError(
        checked.status,
        checked.code === 'NOT_OWNER' ? 'NOT_OPERATOR' : checked.code,
        checked.code === 'NOT_OWNER'
          ? `the signing key is not the operator key of node ${req.forNode}`
          : checked.message,
      );
  };
}

/** A backup's or restore's refusal as the API answers it. */
function volumeRefusal(e: unknown): never {
  if (e instanceof VolumeAccessError) throw new ApiError(e.status, e.code, e.message);
  throw e;
}

export function createAppHandlers(chain: Chain, deps?: AppApiDeps): AppHandlers {
  const params = chain.params;
  const need = (): AppApiDeps => {
    if (!deps) throw new ApiError(503, 'NOT_AVAILABLE', 'this node serves no app state');
    return deps;
  };
  // Placement is computed once per tip (and liveness change), not per request: status is polled.
  const placement = deps ? (deps.placement ?? createPlacement(chain, deps.state, deps.liveness)) : undefined;
  const view = (): PlacementView => {
    need();
    return placement!.view();
  };
  const endpointOf = (id: string) =>
    new TextDecoder().decode(chain.fluxNode(id)?.endpoint ?? new Uint8Array());
  const placementJson = (p: AppPlacement | undefined, wanted: number) => ({
    wanted,
    nodes: (p?.nodes ?? []).map((id) => ({ id, endpoint: endpointOf(id) })),
    ...(p?.reason ? { reason: p.reason } : {}),
  });
  const appJson = (name: string, v: PlacementView): AppJson => {
    const app = getApp(need().state, name);
    if (!app) throw new ApiError(404, 'APP_NOT_FOUND', `no app named ${name}`);
    const spec = JSON.parse(new TextDecoder().decode(app.spec)) as Record<string, unknown>;
    return {
      name,
      owner: encodeAddress(params.addressPrefix, app.owner),
      revision: app.revision,
      registeredAt: app.registeredAt,
      updatedAt: app.updatedAt,
      expiresAt: app.expiresAt,
      pricePerBlock: app.pricePerBlock.toString(),
      escrow: app.escrow.toString(),
      spec,
      placement: placementJson(v.placement.get(name), Number(spec.instances)),
    };
  };
  const hosting = (): { fluxos: FluxOs; node: string } => {
    const fluxos = deps?.fluxos;
    const node = fluxos?.nodeId();
    if (!fluxos || !node) throw new ApiError(404, 'NOT_HOSTED', 'this node runs no apps');
    return { fluxos, node };
  };
  const replicationOf = (): Replication => {
    const r = hosting().fluxos.replication;
    if (!r) throw new ApiError(404, 'NOT_HOSTED', 'this node keeps no replicated volumes');
    return r;
  };
  const holding = (): { node: string; secrets: AppSecrets } => {
    const { node } = hosting();
    if (!deps?.secrets) throw new ApiError(404, 'NOT_HOSTED', 'this node holds no app secrets');
    return { node, secrets: deps.secrets };
  };
  const local = (name: string): LocalInstanceJson[] => deps?.fluxos?.status(name) ?? [];
  // Placement views are cached per tip and liveness change; so is what the app routes make of one.
  const appsOfView = new WeakMap<PlacementView, Map<string, AppJson>>();
  const cachedAppJson = (name: string, v: PlacementView): AppJson => {
    let made = appsOfView.get(v);
    if (!made) appsOfView.set(v, (made = new Map()));
    let json = made.get(name);
    if (!json) made.set(name, (json = appJson(name, v)));
    return json;
  };
  // Status asks the hosting nodes: requests for one app that arrive while it asks share its answer.
  const statusInFlight = new Map<string, Promise<AppStatusJson>>();

  async function appStatus(name: string): Promise<AppStatusJson> {
    const v = view();
    const app = v.apps.get(name);
    if (!app) {
      const gone = deps?.fluxos?.volumesKept(name);
      throw new ApiError(
        404,
        'APP_NOT_FOUND',
        `no running app named ${name}${gone ? `; this node keeps its volumes (${gone.volumes.join(', ')}) until height ${gone.deleteAt} (gone from the chain at height ${gone.since}), then deletes them` : ''}`,
      );
    }
    const placed = v.placement.get(name);
    const me = deps?.fluxos?.nodeId();
    const liveness = deps?.liveness;
    // The nodes placement assigns (over the nodes alive in this node's view), then nodes whose
    // heartbeats say they still run it (a hand-over), then nodes consensus assigns that this
    // view has down (what failed over).
    const nodes = [...(placed?.nodes ?? [])];
    const extra = new Set<string>();
    for (const id of liveness?.view.runningApp(name) ?? [])
      if (!nodes.includes(id)) {
        nodes.push(id);
        extra.add(id);
      }
    if (liveness)
      for (const id of placement!.consensus().placement.get(name)?.nodes ?? [])
        if (!nodes.includes(id)) nodes.push(id);
    const instances = await Promise.all(
      nodes.map(async (node, index) => {
        const api = endpointOf(node);
        const seen = liveness?.get(node);
        const nodeFields = seen
          ? {
              nodeState: seen.state,
              nodeSince: seen.since,
              ...(seen.lastHeard !== undefined ? { lastHeard: seen.lastHeard } : {}),
            }
          : {};
        const base = {
          index,
          node,
          api,
          revision: app.revision,
          endpoints: [],
          components: [],
          restarts: 0,
          ...nodeFields,
          ...(extra.has(node) ? { extra: true } : {}),
        };
        if (seen && seen.state !== 'alive')
          return {
            ...base,
            state: 'unknown' as const,
            since: seen.since,
            reason: `node ${seen.state} since ${new Date(seen.since).toISOString()}${seen.lastHeard ? `, last heard ${new Date(seen.lastHeard).toISOString()}` : ''}`,
          };
        let found: LocalInstanceJson | undefined;
        try {
          if (node === me) found = local(name)[0];
          else {
            const answer = await callRoute(
              `http://${api}`,
              routes.appLocal,
              { params: { name } },
              { timeoutMs: PEER_TIMEOUT_MS },
            );
            found = answer.instances.find((i) => i.node === node);
          }
        } catch (e) {
          return {
            ...base,
            state: 'unknown' as const,
            since: Date.now(),
            reason: `node API ${api}: ${(e as Error).message}`,
          };
        }
        if (!found)
          return {
            ...base,
            state: 'starting' as const,
            since: Date.now(),
            reason: 'the node has not picked it up yet',
          };
        const { app: _, ...rest } = found;
        return { ...rest, index, api, ...nodeFields, ...(extra.has(node) ? { extra: true } : {}) };
      }),
    );
    return {
      name: name,
      height: v.height,
      revision: app.revision,
      wanted: app.spec.instances,
      placed: placed?.nodes.length ?? 0,
      running: instances.filter(
        (i) => i.state === 'running' && i.revision === app.revision && placed?.nodes.includes(i.node),
      ).length,
      ...(placed?.reason ? { reason: placed.reason } : {}),
      instances,
    };
  }

  return {
    appPrice({ body }) {
      const parsed = parseAppSpec(body.spec, params);
      if (!parsed.ok) throw new ApiError(400, 'BAD_SPEC', parsed.error.message);
      const p = appPrice(parsed.spec, params.apps);
      return {
        spec: parsed.spec as unknown as Record<string, unknown>,
        price: {
          items: {
            cpu: p.items.cpu.toString(),
            ram: p.items.ram.toString(),
            hdd: p.items.hdd.toString(),
            ports: p.items.ports.toString(),
            instances: p.items.instances.toString(),
          },
          perBlock: p.perBlock.toString(),
          blocks: p.blocks,
          instances: p.instances,
          total: p.total.toString(),
        },
      };
    },
    apps() {
      const v = view();
      return { height: v.height, apps: [...v.apps.keys()].sort().map((name) => cachedAppJson(name, v)) };
    },
    app({ params: p }) {
      return cachedAppJson(p.name, view());
    },
    appStatus({ params: p }): Promise<AppStatusJson> {
      const running = statusInFlight.get(p.name);
      if (running) return running;
      const asked = appStatus(p.name).finally(() => statusInFlight.delete(p.name));
      statusInFlight.set(p.name, asked);
      return asked;
    },
    appLocal({ params: p }) {
      return { ...(deps?.fluxos?.nodeId() ? { node: deps.fluxos.nodeId() } : {}), instances: local(p.name) };
    },
    async appLogs({ params: p, query }) {
      const fluxos = deps?.fluxos;
      const node = fluxos?.nodeId();
      if (!fluxos || !node) throw new ApiError(404, 'NOT_HOSTED', 'this node runs no apps');
      try {
        const text = await fluxos.logs(p.name, query.component, {
          tail: query.tail ?? 100,
          since: query.since,
        });
        return { node, ...(query.component ? { component: query.component } : {}), text };
      } catch (e) {
        throw new ApiError(404, 'NOT_HOSTED', (e as Error).message);
      }
    },
    async appStats({ params: p }) {
      const { fluxos, node } = hosting();
      const components = await fluxos.stats(p.name).catch((e: Error) => {
        throw new ApiError(404, 'NOT_HOSTED', e.message);
      });
      return { node, app: p.name, components };
    },
    async appRestart({ params: p, query }) {
      const { fluxos, node } = hosting();
      const restarted = await fluxos.restart(p.name, query.component).catch((e: Error) => {
        throw new ApiError(404, 'NOT_HOSTED', e.message);
      });
      return { node, restarted };
    },
    async appVolumeState({ params: p, query }) {
      return replicationOf().state(p.name, p.volume, query.for, query.manifest === '1');
    },
    async appVolumeSync({ params: p, query, body }) {
      // Refused before a byte of the body is buffered: only a holder's round is worth reading.
      replicationOf().accepts(p.name, p.volume, query.for);
      const bytes = await readSigned(body, ROUND_SEND_BYTES + MAX_DELTA_HEADER_BYTES);
      return replicationOf().receive(p.name, p.volume, query.for, bytes);
    },
    async appVolumeDelta({ params: p, query, body }) {
      replicationOf().holder(p.name, query.for);
      const bytes = await readSigned(body, MAX_DELTA_HEADER_BYTES);
      let have: unknown;
      try {
        have = (JSON.parse(bytes.toString('utf8')) as { entries?: unknown }).entries;
      } catch {
        have = undefined;
      }
      if (!Array.isArray(have))
        throw new ApiError(400, 'BAD_MANIFEST', "the body is {entries: [...]}, the asker's manifest");
      const delta = await replicationOf().delta(p.name, p.volume, query.for, have as Entry[]);
      return { contentType: 'application/octet-stream', stream: Readable.from([delta]) };
    },
    appSecrets({ params: p }) {
      const { node, secrets } = holding();
      return { node, app: p.name, secrets: secrets.list(p.name) };
    },
    appSecretSet({ params: p, body }) {
      const { node, secrets } = holding();
      refused(secrets.set(p.name, p.key, body.version, new Uint8Array(Buffer.from(body.sealed, 'base64'))));
      return { node, key: p.key, version: body.version };
    },
    appSecretUnset({ params: p, query }) {
      const { node, secrets } = holding();
      refused(secrets.unset(p.name, p.key, query.version));
      return { node, key: p.key, version: query.version };
    },
    appSecretsSealed({ params: p, query }) {
      const { node, secrets } = holding();
      const handed = secrets.handOver(p.name, query.for);
      if (!Array.isArray(handed)) refused(handed);
      return { node, secrets: handed as Exclude<typeof handed, SecretRefusal> };
    },
    appExec() {
      // The upgrade itself is answered in exec.ts; a plain GET only learns how to ask.
      throw new ApiError(
        426,
        'UPGRADE_REQUIRED',
        'exec needs an HTTP Upgrade: send Connection: Upgrade and Upgrade: openflux-exec (flux app exec does)',
      );
    },
    async appBackup({ params: p, query }) {
      const { fluxos } = hosting();
      const b = await fluxos.backup(p.name, query.volume).catch(volumeRefusal);
      return {
        contentType: 'application/x-tar',
        headers: {
          [BACKUP_VOLUME_HEADER]: b.volume,
          'content-disposition': `attachment; filename="${p.name}-${b.volume}.tar"`,
        },
        stream: b.stream,
      };
    },
    async appRestore({ params: p, query, body }) {
      const { fluxos, node } = hosting();
      const r = await fluxos.restore(p.name, query.volume, body).catch(volumeRefusal);
      return { node, app: p.name, ...r };
    },
  };
}

function refused(r: SecretRefusal | undefined): void {
  if (r) throw new ApiError(r.status, r.code, r.message);
}

/** The sha256 a streamed body's signature covers, sent ahead of it in OWNER_BODY_HASH_HEADER. */
function signedBodyHash(headers: SignedAppRequest['headers']): Uint8Array {
  const claimed = headers[OWNER_BODY_HASH_HEADER];
  if (typeof claimed !== 'string' || !/^[0-9a-f]{64}$/.test(claimed))
    throw new ApiError(
      401,
      'OWNER_SIGNATURE_REQUIRED',
      `this route streams its body: ${OWNER_BODY_HASH_HEADER} must carry the body's sha256 (64 hex), which the signature covers`,
    );
  return fromHex(claimed);
}

/** A streamed body, at most `limit` bytes, checked against the sha256 its signature covers. */
async function readSigned(body: StreamedBody, limit: number): Promise<Buffer> {
  if (body.length !== undefined && body.length > limit)
    throw new ApiError(413, 'TOO_LARGE', `the body is ${body.length} bytes; at most ${limit}`);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body.stream) {
    n += chunk.length;
    if (n > limit) throw new ApiError(413, 'TOO_LARGE', `the body is over ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  const bytes = Buffer.concat(chunks);
  if (!bytesEqual(sha256(bytes), body.sha256))
    throw new ApiError(400, 'BODY_MISMATCH', 'the body is not the one whose sha256 was signed');
  return bytes;
}
