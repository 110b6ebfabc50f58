// `flux app price|deploy|status|list|logs|stats|restart|backup|restore|url|update|extend|cancel|convert|import-flux|build-example`.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify as toYaml } from 'yaml';
import { formatFlux } from '../api/amount.ts';
import { type AppStatusJson, BACKUP_VOLUME_HEADER, VolumeRestoreJson } from '../api/app-routes.ts';
import { callRawRoute, createClient, type FluxClient } from '../api/client.ts';
import { DEFAULT_INGRESS_DOMAIN, DEFAULT_INGRESS_PORT, hostOfEndpoint } from '../api/ingress.ts';
import { ownerSigner, type RequestSigner } from '../api/owner-auth.ts';
import { routes } from '../api/routes.ts';
import { convertCompose, parseEnvFile } from '../core/apps/compose.ts';
import { importFluxSpec } from '../core/apps/flux-spec.ts';
import {
  encodeAppCancel,
  encodeAppExtend,
  encodeAppRegister,
  encodeAppUpdate,
} from '../core/apps/handlers.ts';
import { appPrice } from '../core/apps/price.ts';
import { type AppSpec, parseAppSpec, type validateAppSpec } from '../core/apps/spec.ts';
import { TxKind } from '../core/codec/types.ts';
import { toHex } from '../core/crypto/hash.ts';
import { decodeAddress, type KeyPair } from '../core/crypto/keys.ts';
import { type ChainParams, type NetworkName, presets } from '../core/params/index.ts';
import { loadKeystore, unlockAccount } from '../wallet/keystore.ts';
import type { CommandContext } from './context.ts';
import { ago, CliError, readPassword } from './io.ts';
import { networkParams, submitFromWallet } from './nodes.ts';
import { senderAccount, waitMined } from './wallet.ts';

async function readSpec(ctx: CommandContext, params: ChainParams): Promise<{ text: string; spec: AppSpec }> {
  const file = ctx.positionals[0];
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
  }
  const parsed = parseAppSpec(text, params);
  if (!parsed.ok) {
    const { issues, message } = parsed.error;
    const why =
      issues.length === 0 ? `  ${message}` : issues.map((i) => `  ${i.field}: ${i.message}`).join('\n');
    throw new CliError(`${file} is not a valid app spec:\n${why}`, 2);
  }
  return { text, spec: parsed.spec };
}

function priceLines(p: {
  items: Record<string, string | bigint>;
  perBlock: string | bigint;
  blocks: number;
  instances: number;
  total: string | bigint;
}): string[] {
  const f = (v: string | bigint) => `${formatFlux(BigInt(v))} FLUX`;
  return [
    ...Object.entries(p.items).map(([k, v]) => `  ${k.padEnd(10)} ${f(v).padStart(22)}`),
    `  ${'total'.padEnd(10)} ${f(p.total).padStart(22)}   (${p.instances} instance(s) x ${p.blocks} blocks, ${f(p.perBlock)} a block)`,
  ];
}

export async function appPriceCommand(ctx: CommandContext): Promise<void> {
  const file = ctx.positionals[0];
  const text = await readFile(file, 'utf8').catch((e: Error) => {
    throw new CliError(`cannot read ${file}: ${e.message}`, 2);
  });
  const r = await ctx.client().appPrice({ body: { spec: text } });
  ctx.emit(r, [`price of ${String(r.spec.name)}:`, ...priceLines(r.price)].join('\n'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function instanceLine(i: AppStatusJson['instances'][number]): string {
  const where = i.endpoints.length ? i.endpoints.map((e) => `http://${e}`).join(' ') : '-';
  const node = i.nodeState && i.nodeState !== 'alive' ? ` [node ${i.nodeState}]` : '';
  return `  #${i.index} node ${i.node.slice(0, 12)}…${node}  ${i.state.padEnd(10)} for ${ago(i.since).padEnd(7)} (since ${new Date(i.since).toISOString().slice(11, 19)})  ${where}${i.extra ? '  (extra, until views agree)' : ''}${i.reason ? `  (${i.reason})` : ''}`;
}

/** Follows the app until every instance of `revision` runs; prints progress on stderr. */
export async function follow(
  ctx: CommandContext,
  name: string,
  revision: number,
  timeoutMs: number,
): Promise<AppStatusJson> {
  const until = Date.now() + timeoutMs;
  let last = '';
  let status: AppStatusJson | undefined;
  while (Date.now() < until) {
    try {
      status = await ctx.client().appStatus({ params: { name } });
    } catch (e) {
      if ((e as { code?: string }).code !== 'APP_NOT_FOUND') throw e;
    }
    if (status && status.revision >= revision) {
      const line = `height ${status.height}: ${status.running}/${status.wanted} running${status.reason ? ` (${status.reason})` : ''}; ${status.instances.map((i) => `${i.node.slice(0, 8)}… ${i.state}`).join(', ')}`;
      if (line.replace(/^height \d+/, '') !== last) ctx.note(line);
      last = line.replace(/^height \d+/, '');
      if (status.running === status.wanted) return status;
    }
    await sleep(500);
  }
  throw new CliError(
    `not every instance of ${name} runs after ${timeoutMs / 1000} s${status ? `:\n${status.instances.map(instanceLine).join('\n')}${status.reason ? `\n  ${status.reason}` : ''}` : ''}`,
  );
}

function timeoutOf(ctx: CommandContext): number {
  const t = ctx.values.timeout as string | undefined;
  if (t === undefined) return 120_000;
  if (!/^\d+$/.test(t)) throw new CliError(`--timeout must be seconds, not ${t}`, 2);
  return Number(t) * 1000;
}

export async function appDeploy(ctx: CommandContext): Promise<void> {
  const { params } = await networkParams(ctx);
  const { spec } = await readSpec(ctx, params);
  const price = appPrice(spec, params.apps);
  ctx.note(
    `deploying ${spec.name}: ${spec.instances} instance(s) for ${spec.expiryBlocks} blocks, ${formatFlux(price.total)} FLUX`,
  );
  const started = Date.now();
  const sent = await submitFromWallet(
    ctx,
    TxKind.appRegister,
    encodeAppRegister(spec),
    price.total,
    `registering ${spec.name}`,
  );
  const height = await waitMined(ctx, sent.id);
  ctx.note(`registered in block ${height} (tx ${sent.id.slice(0, 16)}…)`);
  if (ctx.values['no-wait'] === true) {
    ctx.emit(
      { name: spec.name, tx: sent.id, height },
      `${spec.name} registered; follow it with: flux app status ${spec.name}`,
    );
    return;
  }
  const status = await follow(ctx, spec.name, 1, timeoutOf(ctx));
  const seconds = (Date.now() - started) / 1000;
  ctx.emit(
    { ...status, tx: sent.id, registeredAt: height, seconds },
    [
      `${spec.name} runs on ${status.running} node(s) (${seconds.toFixed(1)} s, block ${height} to ${status.height}):`,
      ...status.instances.map(instanceLine),
    ].join('\n'),
  );
}

export async function appUpdate(ctx: CommandContext): Promise<void> {
  const { params, info } = await networkParams(ctx);
  const { spec } = await readSpec(ctx, params);
  const current = await ctx.client().app({ params: { name: spec.name } });
  const remaining = BigInt(Math.max(0, current.expiresAt - (info.height + 1)));
  const price = appPrice(spec, params.apps);
  const diff = price.perBlock * remaining - BigInt(current.escrow);
  ctx.note(
    diff >= 0n
      ? `update of ${spec.name}: about ${formatFlux(diff)} FLUX more for the ${remaining} blocks left`
      : `update of ${spec.name}: about ${formatFlux(-diff)} FLUX back for the ${remaining} blocks left`,
  );
  const sent = await submitFromWallet(
    ctx,
    TxKind.appUpdate,
    encodeAppUpdate(spec),
    diff > 0n ? diff : 0n,
    `updating ${spec.name}`,
  );
  const height = await waitMined(ctx, sent.id);
  ctx.note(`updated in block ${height} (revision ${current.revision + 1})`);
  if (ctx.values['no-wait'] === true) {
    ctx.emit({ name: spec.name, tx: sent.id, height }, `${spec.name} updated`);
    return;
  }
  const status = await follow(ctx, spec.name, current.revision + 1, timeoutOf(ctx));
  ctx.emit(
    status,
    [
      `${spec.name} revision ${status.revision} runs on ${status.running} node(s):`,
      ...status.instances.map(instanceLine),
    ].join('\n'),
  );
}

export async function appExtend(ctx: CommandContext): Promise<void> {
  const [name, blocksText] = ctx.positionals;
  if (!/^\d+$/.test(blocksText))
    throw new CliError(`BLOCKS must be a number of blocks, not ${blocksText}`, 2);
  const blocks = Number(blocksText);
  const app = await ctx.client().app({ params: { name } });
  const cost = BigInt(app.pricePerBlock) * BigInt(blocks);
  const sent = await submitFromWallet(
    ctx,
    TxKind.appExtend,
    encodeAppExtend(name, blocks),
    cost,
    `extending ${name}`,
  );
  const height = await waitMined(ctx, sent.id);
  ctx.emit(
    { name, tx: sent.id, height, expiresAt: app.expiresAt + blocks, paid: cost.toString() },
    `${name} now runs until height ${app.expiresAt + blocks} (paid ${formatFlux(cost)} FLUX in block ${height})`,
  );
}

export async function appCancel(ctx: CommandContext): Promise<void> {
  const name = ctx.positionals[0];
  const app = await ctx.client().app({ params: { name } });
  const sent = await submitFromWallet(ctx, TxKind.appCancel, encodeAppCancel(name), 0n, `cancelling ${name}`);
  const height = await waitMined(ctx, sent.id);
  const unused = BigInt(app.pricePerBlock) * BigInt(Math.max(0, app.expiresAt - height));
  const escrow = BigInt(app.escrow);
  const refund = unused < escrow ? unused : escrow;
  ctx.emit(
    { name, tx: sent.id, height, refund: refund.toString() },
    `${name} cancelled in block ${height}; ${formatFlux(refund)} FLUX refunded to ${app.owner}; its containers stop on the next reconcile`,
  );
}

export async function appStatus(ctx: CommandContext): Promise<void> {
  const s = await ctx.client().appStatus({ params: { name: ctx.positionals[0] } });
  ctx.emit(
    s,
    [
      `${s.name} revision ${s.revision} at height ${s.height}: ${s.running}/${s.wanted} running, ${s.placed} placed`,
      ...(s.reason ? [`  ${s.reason}`] : []),
      ...s.instances.flatMap((i) => [
        `${instanceLine(i)}${i.restarts ? `  ${i.restarts} restart(s)` : ''}${i.lastHeard !== undefined && i.nodeState !== 'alive' ? `  node last heard ${new Date(i.lastHeard).toISOString()}` : ''}`,
        ...(i.volumes ?? []).flatMap((v) => [
          `    volume ${v.name} (${v.mode}): ${v.role} on ${i.node.slice(0, 16)}, generation ${v.generation}, round ${v.seq}`,
          ...v.standbys.map(
            (b) =>
              `      standby ${b.node.slice(0, 16)}: round ${b.seq < 0 ? 'none yet' : b.seq}, behind ${b.behindBytes} bytes, ${(b.behindMs / 1000).toFixed(1)} s${b.error ? `  (${b.error})` : ''}`,
          ),
        ]),
      ]),
    ].join('\n'),
  );
}

export async function appList(ctx: CommandContext): Promise<void> {
  const r = await ctx.client().apps();
  ctx.emit(
    r,
    r.apps.length === 0
      ? `no apps at height ${r.height}`
      : r.apps
          .map(
            (a) =>
              `${a.name.padEnd(24)} rev ${a.revision}  ${a.placement.nodes.length}/${a.placement.wanted} placed  until ${a.expiresAt}  owner ${a.owner}`,
          )
          .join('\n'),
  );
}

/**
 * The wallet key that signs owner requests for app `name`: the account --from names, else the
 * wallet's account that owns the app on chain.
 */
export async function ownerKey(ctx: CommandContext, name: string): Promise<KeyPair> {
  const { info } = await networkParams(ctx);
  const app = await ctx.client().app({ params: { name } });
  const store = await loadKeystore(ctx.walletDir());
  const from = ctx.values.from as string | undefined;
  let account = from === undefined ? undefined : senderAccount(store, from, info);
  if (!account) {
    const owner = decodeAddress(info.addressPrefix, app.owner);
    account = owner.ok ? store.accounts.find((a) => a.address === toHex(owner.address)) : undefined;
    if (!account)
      throw new CliError(
        `${name} is owned by ${app.owner}, which is not an account of this wallet (see 'flux wallet list'; --from picks one)`,
      );
  }
  const index = account.index;
  return unlockAccount(store, await readPassword(ctx.io), index).catch((e: Error) => {
    throw new CliError(e.message);
  });
}

export interface OwnedInstance {
  index: number;
  node: string;
  api: string;
  /** The hosting node's API, each request signed by the owner's key for that node. */
  client: FluxClient;
  /** The owner's signer for that node (what the typed client does not send: exec, raw routes). */
  sign: RequestSigner;
}

/** The app's instances (one with --instance N), each with a client that signs as the owner. */
export async function ownedInstances(
  ctx: CommandContext,
  name: string,
  defaultInstance?: string,
): Promise<OwnedInstance[]> {
  const key = await ownerKey(ctx, name);
  const status = await ctx.client().appStatus({ params: { name } });
  const asked = (ctx.values.instance as string | undefined) ?? defaultInstance;
  if (asked !== undefined && !/^\d+$/.test(asked))
    throw new CliError(`--instance must be an instance number, not ${asked}`, 2);
  const picked =
    asked === undefined ? status.instances : status.instances.filter((i) => i.index === Number(asked));
  if (picked.length === 0)
    throw new CliError(
      asked === undefined
        ? `${name} has no instances yet`
        : `${name} has no instance #${asked} (it has ${status.instances.length})`,
      2,
    );
  return picked.map((i) => {
    const sign = ownerSigner(key, i.node);
    return {
      index: i.index,
      node: i.node,
      api: i.api,
      client: createClient({ baseUrl: `http://${i.api}`, sign }),
      sign,
    };
  });
}

export async function appLogs(ctx: CommandContext): Promise<void> {
  const name = ctx.positionals[0];
  const [{ client: node }] = await ownedInstances(ctx, name, '0');
  const component = ctx.values.component as string | undefined;
  const tail = Number((ctx.values.tail as string | undefined) ?? '100');
  let lastStamp = '';
  const print = (text: string) => {
    for (const line of text.split('\n')) {
      if (!line) continue;
      const stamp = line.slice(0, line.indexOf(' '));
      if (stamp <= lastStamp) continue;
      lastStamp = stamp;
      ctx.io.stdout.write(`${line}\n`);
    }
  };
  const first = await node.appLogs({
    params: { name },
    query: { tail, ...(component ? { component } : {}) },
  });
  print(first.text);
  if (ctx.values.follow !== true) return;
  for (;;) {
    await sleep(1000);
    const since = lastStamp ? Math.floor(Date.parse(lastStamp) / 1000) : 0;
    const more = await node.appLogs({
      params: { name },
      query: { tail: 1000, since, ...(component ? { component } : {}) },
    });
    print(more.text);
  }
}

const bytes = (n: number): string => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
};

/** `flux app stats NAME [--instance N]`: one sample of each container of each instance. */
export async function appStats(ctx: CommandContext): Promise<void> {
  const name = ctx.positionals[0];
  const instances = await ownedInstances(ctx, name);
  const answers = await Promise.all(
    instances.map(async (i) => ({ ...i, stats: await i.client.appStats({ params: { name } }) })),
  );
  ctx.emit(
    answers.map((a) => ({ index: a.index, api: a.api, ...a.stats })),
    answers
      .flatMap((a) => [
        `#${a.index} node ${a.node.slice(0, 12)}… (${a.api})`,
        ...a.stats.components.map(
          (c) =>
            `  ${c.component.padEnd(12)} cpu ${`${c.cpuPercent.toFixed(1)}%`.padStart(7)}  mem ${bytes(c.memory.used)} / ${bytes(c.memory.limit)}  net rx ${bytes(c.network.rx)} tx ${bytes(c.network.tx)}  disk read ${bytes(c.blockIo.read)} write ${bytes(c.blockIo.write)}`,
        ),
      ])
      .join('\n'),
  );
}

/** `flux app restart NAME [--instance N] [--component C]`: restarts the containers on their nodes. */
export async function appRestart(ctx: CommandContext): Promise<void> {
  const name = ctx.positionals[0];
  const component = ctx.values.component as string | undefined;
  const instances = await ownedInstances(ctx, name);
  const answers = await Promise.all(
    instances.map(async (i) => ({
      ...i,
      result: await i.client.appRestart({ params: { name }, query: component ? { component } : {} }),
    })),
  );
  ctx.emit(
    answers.map((a) => ({ index: a.index, api: a.api, ...a.result })),
    answers
      .flatMap((a) =>
        a.result.restarted.map(
          (r) =>
            `#${a.index} node ${a.node.slice(0, 12)}…  ${r.component} restarted, running since ${r.startedAt}`,
        ),
      )
      .join('\n'),
  );
}

/** The app's volumes as its spec on chain lists them: name and size in bytes. */
async function volumesOf(ctx: CommandContext, name: string): Promise<Array<{ name: string; bytes: number }>> {
  const app = await ctx.client().app({ params: { name } });
  const spec = app.spec as { components?: Array<{ volumes?: Array<{ name: string; size: number }> }> };
  return (spec.components ?? []).flatMap((c) =>
    (c.volumes ?? []).map((v) => ({ name: v.name, bytes: v.size * 1024 ** 3 })),
  );
}

/**
 * `flux app backup NAME [--volume V] [--instance N] [-o FILE]`: a consistent tar of one volume,
 * from instance #0 unless --instance picks another, streamed to FILE (default
 * NAME-VOLUME-TIME.tar); written to FILE.part and renamed once whole.
 */
export async function appBackup(ctx: CommandContext): Promise<void> {
  const name = ctx.positionals[0];
  const volume = ctx.values.volume as string | undefined;
  const [node] = await ownedInstances(ctx, name, '0');
  const res = await callRawRoute(
    `http://${node.api}`,
    routes.appBackup,
    { params: { name }, query: volume ? { volume } : {} },
    { sign: node.sign },
  );
  const got = res.headers.get(BACKUP_VOLUME_HEADER) ?? volume ?? 'volume';
  const stamp = new Date()
    .toISOString()
    .replace(/[:]/g, '-')
    .replace(/\.\d+Z$/, 'Z');
  const file = (ctx.values.out as string | undefined) ?? `${name}-${got}-${stamp}.tar`;
  const part = `${file}.part`;
  if (!res.body) throw new CliError(`node ${node.api} answered no archive`);
  try {
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
      createWriteStream(part),
    );
  } catch (e) {
    await rm(part, { force: true });
    throw new CliError(
      `the backup from node ${node.node.slice(0, 12)}… (${node.api}) broke off: ${(e as Error).message}; nothing was written to ${file}`,
    );
  }
  await rename(part, file);
  const bytes = (await stat(file)).size;
  ctx.emit(
    { name, volume: got, instance: node.index, node: node.node, file, bytes },
    `wrote ${file}: volume ${got} of ${name}, ${bytes.toLocaleString('en-US')} bytes, from #${node.index} node ${node.node.slice(0, 12)}… (its container was paused while tar read it)`,
  );
}

/**
 * `flux app restore NAME FILE [--volume V] [--instance N]`: puts a tar back into one volume on
 * every hosting node (or the one --instance picks). The file is read twice: once for the sha256
 * the signature covers, once streamed to each node.
 */
export async function appRestore(ctx: CommandContext): Promise<void> {
  const [name, file] = ctx.positionals;
  const asked = ctx.values.volume as string | undefined;
  const size = await stat(file).then(
    (s) => s.size,
    (e: Error) => {
      throw new CliError(`cannot read ${file}: ${e.message}`, 2);
    },
  );
  const volumes = await volumesOf(ctx, name);
  const target =
    asked === undefined
      ? volumes.length === 1
        ? volumes[0]
        : undefined
      : volumes.find((v) => v.name === asked);
  if (asked !== undefined && !target)
    throw new CliError(
      `${name} has no volume ${asked} (its volumes: ${volumes.map((v) => v.name).join(', ') || 'none'})`,
      2,
    );
  if (asked === undefined && volumes.length !== 1)
    throw new CliError(
      volumes.length === 0
        ? `${name} has no volumes`
        : `${name} has volumes ${volumes.map((v) => v.name).join(', ')}: say which with --volume`,
      2,
    );
  if (target && size > target.bytes)
    throw new CliError(
      `${file} is ${size.toLocaleString('en-US')} bytes, larger than volume ${target.name} (${target.bytes.toLocaleString('en-US')} bytes)`,
    );
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const sha256 = new Uint8Array(hash.digest());
  const instances = await ownedInstances(ctx, name);
  const all = ctx.values.instance === undefined;
  const done: Array<VolumeRestoreJson & { index: number; api: string }> = [];
  for (const i of instances) {
    const res = await callRawRoute(
      `http://${i.api}`,
      routes.appRestore,
      { params: { name }, query: asked ? { volume: asked } : {} },
      { sign: i.sign, body: { stream: createReadStream(file), length: size, sha256 } },
    ).catch((e: Error & { code?: string }) => {
      const before = done.length
        ? `; restored before it on ${done.map((d) => `#${d.index}`).join(', ')}`
        : '';
      throw new CliError(
        `#${i.index} node ${i.node.slice(0, 12)}… (${i.api}): ${e.code ? `${e.code}: ` : ''}${e.message}${before}`,
      );
    });
    const answer = VolumeRestoreJson.parse(await res.json());
    done.push({ index: i.index, api: i.api, ...answer });
    ctx.note(
      `#${i.index} node ${i.node.slice(0, 12)}…: restored ${answer.bytes.toLocaleString('en-US')} bytes into volume ${answer.volume}; ${answer.component} running again since ${answer.startedAt}`,
    );
  }
  const volume = done[0]?.volume ?? target?.name ?? '';
  ctx.emit(
    done,
    all
      ? `restored ${file} into volume ${volume} of ${name} on all ${done.length} hosting node(s) (volumes are local to each node: each instance has its own copy)`
      : `restored ${file} into volume ${volume} of ${name} on instance #${done[0]?.index} only (volumes are local to each node: the other instances keep theirs)`,
  );
}

/** What `app convert` and `app import-flux` have in common: the file, read, and the network's params. */
async function readSpecSource(
  ctx: CommandContext,
): Promise<{ file: string; text: string; params: ChainParams }> {
  const file = ctx.positionals[0];
  const text = await readFile(file, 'utf8').catch((e: Error) => {
    throw new CliError(`cannot read ${file}: ${e.message}`, 2);
  });
  const network = ((ctx.values.network as string | undefined) ?? 'mainnet') as NetworkName;
  const params = presets[network];
  if (!params) throw new CliError(`--network must be mainnet, testnet or devnet, not ${network}`, 2);
  return { file, text, params };
}

/** A converted spec (valid or not) with what was not carried over; the shape both converters return. */
interface Converted {
  result: ReturnType<typeof validateAppSpec>;
  spec: unknown;
  dropped: string[];
  defaults: string[];
}

/** Prints (or writes to --out) the converted spec under `header` and its report; exit 1 if invalid. */
async function emitConverted(ctx: CommandContext, header: string, c: Converted): Promise<number> {
  const spec = c.result.ok ? c.result.spec : c.spec;
  const yaml = `${header}\n${toYaml(spec)}`;
  for (const d of c.dropped) ctx.note(`not carried over: ${d}`);
  for (const d of c.defaults) ctx.note(`default: ${d}`);
  if (!c.result.ok) for (const i of c.result.error.issues) ctx.note(`invalid: ${i.field}: ${i.message}`);
  const out = ctx.values.out as string | undefined;
  if (out) await writeFile(out, yaml);
  ctx.emit(
    { spec, valid: c.result.ok, dropped: c.dropped, defaults: c.defaults },
    out ? `wrote ${out}` : yaml,
  );
  return c.result.ok ? 0 : 1;
}

export async function appConvert(ctx: CommandContext): Promise<number> {
  const { file, text, params } = await readSpecSource(ctx);
  // Compose's order: the env file (--env-file, else a .env beside the compose file, as docker
  // compose reads it), then this shell's environment over it. Core only sees the result.
  const dir = dirname(file);
  const given = ctx.values['env-file'] as string | undefined;
  const envFile = given ?? (existsSync(join(dir, '.env')) ? join(dir, '.env') : undefined);
  const fileVars = envFile
    ? parseEnvFile(
        await readFile(envFile, 'utf8').catch((e: Error) => {
          throw new CliError(`cannot read ${envFile}: ${e.message}`, 2);
        }),
      )
    : {};
  if (envFile && !given) ctx.note(`variables from ${envFile} (a .env beside the compose file)`);
  const variables: Record<string, string> = { ...fileVars };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) variables[k] = v;
  // A service's env_file, relative to the compose file; at most 1 MiB each.
  const readEnvFile = (path: string): string | undefined => {
    try {
      const full = isAbsolute(path) ? path : join(dir, path);
      return statSync(full).size <= 2 ** 20 ? readFileSync(full, 'utf8') : undefined;
    } catch {
      return undefined;
    }
  };
  const c = convertCompose(text, params, {
    name: ctx.values.name as string | undefined,
    variables,
    readEnvFile,
  });
  // Nothing to convert (the file is not YAML, or not a compose file): say why, print no spec.
  if (!c.result.ok && c.result.error.issues.length === 0)
    throw new CliError(`${file}: ${c.result.error.message}`, 1);
  return emitConverted(ctx, `# converted from ${file} by flux app convert`, c);
}

export async function appImportFlux(ctx: CommandContext): Promise<number> {
  const { file, text, params } = await readSpecSource(ctx);
  const c = importFluxSpec(text, params, { name: ctx.values.name as string | undefined });
  // Nothing to import (not JSON, an unknown version, an encrypted enterprise app): say why, print no spec.
  if (!c.result.ok && c.result.error.issues.length === 0) {
    for (const d of c.dropped) ctx.note(`not carried over: ${d}`);
    throw new CliError(`${file}: ${c.result.error.message}`, 1);
  }
  return emitConverted(ctx, `# imported from ${file} (FluxOS spec) by flux app import-flux`, c);
}

export async function appBuildExample(ctx: CommandContext): Promise<void> {
  const { default: Docker } = await import('dockerode');
  const { buildExampleImage } = await import('../node/fluxos/example-image.ts');
  const tag = await buildExampleImage(new Docker()).catch((e: Error) => {
    throw new CliError(`could not build the example image: ${e.message}`);
  });
  ctx.emit({ image: tag }, `built ${tag}; deploy it with: flux app deploy examples/hello-web/app.yaml`);
}

/**
 * `flux app url NAME [--ingress URL] [--domain D]`: where the app answers. The ingress defaults
 * to FLUX_INGRESS, else the API's host on the default ingress port.
 */
export async function appUrl(ctx: CommandContext): Promise<void> {
  const name = ctx.positionals[0];
  const app = await ctx.client().app({ params: { name } });
  const given = (ctx.values.ingress as string | undefined) ?? ctx.io.env.FLUX_INGRESS;
  let ingress: URL;
  try {
    ingress = new URL(given ?? ctx.api);
  } catch {
    throw new CliError(
      `--ingress must be a URL such as http://127.0.0.1:${DEFAULT_INGRESS_PORT}, not ${given}`,
      2,
    );
  }
  if (given === undefined) ingress.port = String(DEFAULT_INGRESS_PORT);
  const port = ingress.port || '80';
  const domain = (ctx.values.domain as string | undefined) ?? DEFAULT_INGRESS_DOMAIN;
  const spec = app.spec as { components?: Array<{ ports?: Array<{ host: number; protocol?: string }> }> };
  const published = (spec.components ?? [])
    .flatMap((c) => c.ports ?? [])
    .find((p) => p.protocol !== 'udp')?.host;
  const hosts = app.placement.nodes.map((n) => hostOfEndpoint(n.endpoint));
  const urls = {
    name,
    byHost: `http://${name}.${domain}:${port}/`,
    byPath: `${ingress.origin}/apps/${name}/`,
    throughHostingNodes: hosts.map((h) => `http://${h.includes(':') ? `[${h}]` : h}:${port}/apps/${name}/`),
    instances:
      published === undefined
        ? []
        : hosts.map((h) => `http://${h.includes(':') ? `[${h}]` : h}:${published}/`),
  };
  ctx.emit(
    urls,
    [
      `${urls.byHost}   (Host ${name}.${domain} on the ingress at ${ingress.host})`,
      urls.byPath,
      ...urls.throughHostingNodes.map((u) => `${u}   (another node's ingress, if it runs one on this port)`),
      ...urls.instances.map((u) => `${u}   (an instance, straight)`),
    ].join('\n'),
  );
}
