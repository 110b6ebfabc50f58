// App secrets on a hosting node: the sealed values (still sealed to this node's operator key) in
// their own SQLite file, what the containers get (opened at container creation, never stored in
// clear), and the hand-over between holders. Each row is one key of one app at one version; a
// newer version replaces it, an older one never does; an unset is a row without a value (so an
// older set cannot come back through a hand-over); the row with the empty key says this node has
// settled what the app's secrets are (asked the other holders, or heard from the owner).
//
// Hand-over: a node newly assigned an app that it holds nothing for asks the nodes that host it
// (placement here, in consensus, and by their heartbeats) for the app's secrets, on their API
// (GET /apps/:name/secrets/sealed, signed by this node's operator key). Each holder checks on its
// own chain view that placement assigns the app to the asker, and answers every secret re-sealed
// to the asker's operator key. The app's containers wait for that, at most `waitMs`: the node
// settles once a holder answered, or once every node asked answered that it holds nothing settled
// either (a first deployment: all new); otherwise the containers start without secrets after
// `waitMs`, the node asks again every `retryMs`, and an answer that brings secrets recreates them.
import { createHash, randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { callRoute } from '../../api/call.ts';
import { ownerSigner } from '../../api/owner-auth.ts';
import { ApiError } from '../../api/route.ts';
import { routes } from '../../api/routes.ts';
import { checkSecretName, checkSecretValue, MAX_SECRETS_PER_APP, secretAd } from '../../core/apps/secrets.ts';
import type { KeyPair } from '../../core/crypto/keys.ts';
import { open, seal } from '../../core/crypto/seal.ts';
import type { Chain } from '../chain/types.ts';
import type { Liveness } from '../liveness/service.ts';
import { blob, integer, SqlTable, text } from '../store/table.ts';
import type { Placement } from './placement.ts';

interface SecretRow {
  app: string;
  key: string;
  version: number;
  /** Sealed to this node's operator key; empty for an unset key (and for the settled mark). */
  sealed: Uint8Array;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS secrets (
  app TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, sealed BLOB NOT NULL,
  PRIMARY KEY (app, key)
) WITHOUT ROWID;`;
/** The file in the datadir. */
export const SECRETS_FILE = 'secrets.db';
const SETTLED = '';
const MAX_ROWS = 4 * MAX_SECRETS_PER_APP;
/** A pass runs every few seconds: an app not asked for in this long was not assigned here. */
const REASSIGNED_AFTER_MS = 15_000;

/** What an app's containers get now: the opened values and a digest of the versions (never the values). */
export interface ContainerSecrets {
  env: Record<string, string>;
  /** Changes when a secret is set, changed or unset: the containers' label, so a change recreates them. */
  digest: string;
  /** True while the node waits for a hand-over before starting the app's containers. */
  waiting: boolean;
}

/** One secret as a holder hands it over: re-sealed to the asker (no value when unset). */
export interface HandedSecret {
  key: string;
  version: number;
  sealed?: string;
}

export type SecretRefusal = { status: 400 | 403 | 404 | 409 | 429; code: string; message: string };

export interface AppSecrets {
  /** Stores a sealed value the owner sent (version: the owner's clock, ms); refuses with why. */
  set(app: string, key: string, version: number, sealedValue: Uint8Array): SecretRefusal | undefined;
  unset(app: string, key: string, version: number): SecretRefusal | undefined;
  /** Names and versions of the app's secrets here, never values. */
  list(app: string): Array<{ key: string; version: number }>;
  /** What the app's containers get; may start asking the other holders (see above). */
  forContainers(app: string, runsHere: boolean): ContainerSecrets;
  /** Every secret of `app` re-sealed to node `forNode`, which placement must assign the app. */
  handOver(app: string, forNode: string): HandedSecret[] | SecretRefusal;
  /**
   * Deletes what this node holds of apps that have not run for `pruneAfterMs` (cancelled,
   * expired; not a reorg that drops a registration for a moment). Those of an earlier
   * registration of a name that runs again are never opened and go at once.
   */
  prune(running: Set<string>): void;
  /** Calls `listener` when the secrets of an app change here (the agent's pass recreates its containers); returns the unsubscribe. */
  onChange(listener: (app: string) => void): () => void;
  close(): void;
}

export interface AppSecretsOptions {
  /** The SQLite file (created when missing). */
  path: string;
  chain: Chain;
  /** This machine's operator key: opens what is sealed to it, signs hand-over requests. */
  operator: KeyPair;
  nodeId: () => string | undefined;
  placement: Placement;
  liveness?: Pick<Liveness, 'view'>;
  /** How long a newly assigned app waits for a hand-over; default 10 s. */
  waitMs?: number;
  /** How often a node that could not settle asks again; default 30 s. */
  retryMs?: number;
  /** How long an app must have stopped running before its secrets are deleted; default 10 min. */
  pruneAfterMs?: number;
  /** Hand-over requests one asker may make per minute; default 30. */
  handOversPerMinute?: number;
  askTimeoutMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export function openAppSecrets(o: AppSecretsOptions): AppSecrets {
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => {});
  const waitMs = o.waitMs ?? 10_000;
  const retryMs = o.retryMs ?? 30_000;
  const perMinute = o.handOversPerMinute ?? 30;
  const pruneAfterMs = o.pruneAfterMs ?? 600_000;
  /** Since when each app whose secrets are held here has not been running. */
  const absent = new Map<string, number>();
  const db = new DatabaseSync(o.path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(SCHEMA);
  const table = new SqlTable<SecretRow, 'app' | 'key'>(db, {
    name: 'secrets',
    columns: { app: text, key: text, version: integer, sealed: blob },
    key: ['app', 'key'],
  });
  const appsStmt = db.prepare('SELECT DISTINCT app FROM secrets');
  const deleteApp = db.prepare('DELETE FROM secrets WHERE app = ?');
  const forget = (app: string, why: string) => {
    deleteApp.run(app);
    asks.delete(app);
    seen.delete(app);
    log(`fluxos: deleted the secrets of ${app} (${why})`);
  };
  /** The app's rows, once those of an earlier registration of the same name are gone. */
  const rows = (app: string): SecretRow[] => {
    const all = table.list({ app }, { limit: MAX_ROWS + 1 });
    const running = o.placement.view().apps.get(app);
    if (all.length > 0 && running && all.find((r) => r.key === SETTLED)?.version !== running.registeredAt) {
      forget(app, 'they belong to an earlier registration of the name');
      return [];
    }
    return all;
  };
  const live = (app: string) => rows(app).filter((r) => r.key !== SETTLED && r.sealed.length > 0);
  const me = (): string => {
    const id = o.nodeId();
    if (!id) throw new ApiError(404, 'NOT_HOSTED', 'this node runs no apps');
    return id;
  };
  const assignedTo = (app: string, node: string): boolean =>
    o.placement.view().placement.get(app)?.nodes.includes(node) === true ||
    o.placement.consensus().placement.get(app)?.nodes.includes(node) === true;
  const openRow = (r: SecretRow, node: string): Uint8Array | undefined =>
    open(r.sealed, o.operator.secretKey, secretAd(r.app, r.key, r.version, node));
  // The settled row's version is the app's registration height: a later app of the same name
  // (cancelled, then registered again, maybe by someone else) never gets these secrets.
  const registeredAt = (app: string) => o.placement.view().apps.get(app)?.registeredAt ?? 0;
  const markSettled = (app: string) => {
    if (!table.get({ app, key: SETTLED }))
      table.put({ app, key: SETTLED, version: registeredAt(app), sealed: new Uint8Array() });
  };
  /** Stores `row` unless one of the same or a newer version is there; true when stored. */
  const putNewer = (row: SecretRow): boolean => {
    const had = table.get({ app: row.app, key: row.key });
    if (had && had.version >= row.version) return false;
    table.put(row);
    markSettled(row.app);
    return true;
  };

  const listeners = new Set<(app: string) => void>();
  const changed = (app: string) => {
    for (const l of listeners) l(app);
  };

  // Hand-over, asking side: per app, when this node last asked and since when it waits.
  const asks = new Map<string, { since: number; last: number; inFlight: boolean }>();
  /** When each app was last asked for by a pass: a long gap means it was assigned here again. */
  const seen = new Map<string, number>();
  async function ask(app: string, node: string): Promise<void> {
    const v = o.placement.view();
    const c = o.placement.consensus();
    const holders = new Set([
      ...(v.placement.get(app)?.nodes ?? []),
      ...(c.placement.get(app)?.nodes ?? []),
      ...(o.liveness?.view.runningApp(app) ?? []),
    ]);
    holders.delete(node);
    // A holder this node's view has down cannot answer: waiting for it would hold a failover
    // for the whole bound (the node that died is the one consensus still names).
    if (o.liveness) for (const h of [...holders]) if (!o.liveness.view.isAlive(h)) holders.delete(h);
    rows(app); // an earlier registration's secrets go first
    const wasSettled = table.get({ app, key: SETTLED }) !== undefined;
    let answered = 0;
    let unsettled = 0;
    let got = 0;
    await Promise.all(
      [...holders].map(async (holder) => {
        const endpoint = new TextDecoder().decode(o.chain.fluxNode(holder)?.endpoint ?? new Uint8Array());
        if (!endpoint) return;
        try {
          const answer = await callRoute(
            `http://${endpoint}`,
            routes.appSecretsSealed,
            { params: { name: app }, query: { for: node } },
            { timeoutMs: o.askTimeoutMs ?? 3_000, sign: ownerSigner(o.operator, holder) },
          );
          answered++;
          for (const s of answer.secrets) {
            const row: SecretRow = {
              app,
              key: s.key,
              version: s.version,
              sealed: s.sealed ? unb64(s.sealed) : new Uint8Array(),
            };
            if (checkSecretName(s.key).ok !== true || !Number.isSafeInteger(s.version)) continue;
            // Only what opens for this node under its name and version is kept.
            if (row.sealed.length > 0 && openRow(row, node) === undefined) continue;
            if (putNewer(row)) got++;
          }
        } catch (e) {
          if (e instanceof ApiError && e.code === 'NOT_SETTLED') unsettled++;
        }
      }),
    );
    if (answered > 0 || unsettled === holders.size) {
      markSettled(app);
      asks.delete(app);
    }
    if (got > 0) log(`fluxos: ${app}: ${got} secret(s) handed over by ${answered} holder(s)`);
    if (got > 0 || (!wasSettled && table.get({ app, key: SETTLED }))) changed(app);
  }

  // Hand-over, serving side: at most `perMinute` requests per asking node.
  const served = new Map<string, number[]>();
  const allow = (node: string): boolean => {
    const t = now();
    const recent = (served.get(node) ?? []).filter((x) => t - x < 60_000);
    if (served.size > 10_000) served.clear();
    if (recent.length >= perMinute) return false;
    recent.push(t);
    served.set(node, recent);
    return true;
  };

  const refuse = (status: SecretRefusal['status'], code: string, message: string): SecretRefusal => ({
    status,
    code,
    message,
  });

  return {
    set(app, key, version, sealedValue) {
      const node = me();
      const name = checkSecretName(key);
      if (!name.ok) return refuse(400, name.code, name.message);
      if (!assignedTo(app, node))
        return refuse(409, 'NOT_ASSIGNED', `placement does not assign ${app} to this node`);
      rows(app); // an earlier registration's secrets go first
      const value = open(sealedValue, o.operator.secretKey, secretAd(app, key, version, node));
      if (!value)
        return refuse(
          400,
          'BAD_SECRET',
          `the value does not open with this node's operator key for ${app}/${key} at version ${version} (sealed for another node, name or version?)`,
        );
      const checked = checkSecretValue(value);
      value.fill(0);
      if (!checked.ok) return refuse(400, checked.code, checked.message);
      const had = table.get({ app, key });
      if (had && had.version >= version)
        return refuse(
          409,
          'OLDER_VERSION',
          `${key} is at version ${had.version} here; ${version} is not newer`,
        );
      if ((!had || had.sealed.length === 0) && live(app).length >= MAX_SECRETS_PER_APP)
        return refuse(400, 'TOO_MANY_SECRETS', `an app has at most ${MAX_SECRETS_PER_APP} secrets`);
      putNewer({ app, key, version, sealed: sealedValue });
      changed(app);
      return undefined;
    },
    unset(app, key, version) {
      const node = me();
      const name = checkSecretName(key);
      if (!name.ok) return refuse(400, name.code, name.message);
      if (!assignedTo(app, node))
        return refuse(409, 'NOT_ASSIGNED', `placement does not assign ${app} to this node`);
      const held = rows(app);
      const had = table.get({ app, key });
      if (had && had.version >= version)
        return refuse(
          409,
          'OLDER_VERSION',
          `${key} is at version ${had.version} here; ${version} is not newer`,
        );
      if (held.length >= MAX_ROWS) return refuse(400, 'TOO_MANY_SECRETS', 'too many secrets and unsets');
      putNewer({ app, key, version, sealed: new Uint8Array() });
      changed(app);
      return undefined;
    },
    list: (app) => live(app).map((r) => ({ key: r.key, version: r.version })),
    forContainers(app, runsHere) {
      const node = o.nodeId();
      const all = rows(app);
      const env: Record<string, string> = {};
      const versions: string[] = [];
      for (const r of all) {
        if (r.key === SETTLED || r.sealed.length === 0 || !node) continue;
        const value = openRow(r, node);
        if (!value) continue;
        env[r.key] = new TextDecoder().decode(value);
        versions.push(`${r.key}=${r.version}`);
      }
      const digest =
        versions.length === 0
          ? ''
          : createHash('sha256').update(versions.sort().join('\n')).digest('hex').slice(0, 16);
      if (!node) return { env, digest, waiting: false };
      const t = now();
      const prev = seen.get(app);
      seen.set(app, t);
      if (all.length > 0) {
        // Assigned here again after a while (this node was down, or placement moved the app away
        // and back): what it holds may be older than the other holders', so ask them, not waiting.
        if (prev === undefined || t - prev > REASSIGNED_AFTER_MS)
          void ask(app, node).catch((e: Error) =>
            log(`fluxos: ${app}: asking for its secrets failed: ${e.message}`),
          );
        return { env, digest, waiting: false };
      }
      // Nothing held for it: ask the other holders (again after retryMs), waiting at most waitMs.
      let a = asks.get(app);
      if (!a) asks.set(app, (a = { since: t, last: 0, inFlight: false }));
      const waiting = !runsHere && t - a.since < waitMs;
      if (!a.inFlight && (a.last === 0 || t - a.last >= (waiting ? 1_000 : retryMs))) {
        a.last = t;
        a.inFlight = true;
        const mine = a;
        void ask(app, node)
          .catch((e: Error) => log(`fluxos: ${app}: asking for its secrets failed: ${e.message}`))
          .finally(() => {
            mine.inFlight = false;
          });
      }
      return { env, digest, waiting };
    },
    handOver(app, forNode) {
      const node = me();
      if (!allow(forNode))
        return refuse(429, 'RATE_LIMITED', 'too many hand-over requests; retry in a minute');
      if (!assignedTo(app, forNode))
        return refuse(403, 'NOT_ASSIGNED', `placement here does not assign ${app} to node ${forNode}`);
      const all = rows(app);
      if (all.length === 0) return refuse(409, 'NOT_SETTLED', `this node holds nothing settled for ${app}`);
      const to = o.chain.fluxNode(forNode)?.operator;
      if (!to) return refuse(404, 'NODE_NOT_FOUND', `no FluxNode ${forNode}`);
      const out: HandedSecret[] = [];
      for (const r of all) {
        if (r.key === SETTLED) continue;
        if (r.sealed.length === 0) {
          out.push({ key: r.key, version: r.version });
          continue;
        }
        const value = openRow(r, node);
        if (!value) continue;
        const sealed = seal(
          value,
          to,
          secretAd(app, r.key, r.version, forNode),
          new Uint8Array(randomBytes(32)),
        );
        value.fill(0);
        out.push({ key: r.key, version: r.version, sealed: b64(sealed) });
      }
      return out;
    },
    prune(running) {
      const t = now();
      for (const app of absent.keys()) if (running.has(app)) absent.delete(app);
      for (const { app } of appsStmt.all() as Array<{ app: string }>) {
        if (running.has(app)) continue;
        const since = absent.get(app) ?? t;
        absent.set(app, since);
        if (t - since >= pruneAfterMs) {
          absent.delete(app);
          forget(app, 'it no longer runs');
        }
      }
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => db.close(),
  };
}
