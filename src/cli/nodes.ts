// `flux node start|list|status|payouts|stop|benchmark`: FluxNode operator commands.

import { homedir } from 'node:os';
import { join } from 'node:path';
import { formatFlux, parseFlux } from '../api/amount.ts';
import type { ChainInfoJson, NetworkJson, NodeJson } from '../api/client.ts';
import { NODE_STATUSES } from '../api/routes.ts';
import { TxKind } from '../core/codec/types.ts';
import { fromHex, toHex } from '../core/crypto/hash.ts';
import { addressBytes, encodeAddress, type KeyPair, keyPairFromSecret } from '../core/crypto/keys.ts';
import { TIERS, type Tier } from '../core/ledger/emission.ts';
import { endpointError } from '../core/nodes/handlers.ts';
import { nodeIdOf } from '../core/nodes/lifecycle.ts';
import { encodeNodeStart, encodeNodeStop } from '../core/nodes/payloads.ts';
import { regionError } from '../core/nodes/region.ts';
import { type ChainParams, COIN, type NetworkName, presets } from '../core/params/index.ts';
import { progressBar, qualify, runBenchmark } from '../node/fluxnode/benchmark.ts';
import { loadOrCreateOperatorKey, operatorKeyFile, saveReport } from '../node/fluxnode/operator.ts';
import { loadKeystore, unlockAccount } from '../wallet/keystore.ts';
import { sendTx } from '../wallet/send.ts';
import type { CommandContext } from './context.ts';
import { ago, CliError, readPassword } from './io.ts';
import { senderAccount, waitMined } from './wallet.ts';

/** Default FLUX moved to the operator key by `node start`, for its confirmation fees. */
const DEFAULT_DEPOSIT = 1n * COIN;

function tierOption(ctx: CommandContext, required: boolean): Tier | undefined {
  const t = ctx.values.tier as string | undefined;
  if (t === undefined) {
    if (required) throw new CliError(`--tier is required (${TIERS.join(', ')})`, 2);
    return undefined;
  }
  if (!(TIERS as readonly string[]).includes(t))
    throw new CliError(`--tier must be one of ${TIERS.join(', ')}, not ${t}`, 2);
  return t as Tier;
}

function nodeIdArg(ctx: CommandContext): string {
  const id = ctx.positionals[0].toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(id))
    throw new CliError(`ID must be a node id (64 hex characters), not ${ctx.positionals[0]}`, 2);
  return id;
}

export async function networkParams(
  ctx: CommandContext,
): Promise<{ info: ChainInfoJson; params: ChainParams }> {
  const info = await ctx.client().chainInfo();
  const params = presets[info.network as NetworkName];
  if (!params || params.chainId !== info.chainId)
    throw new CliError(
      `the node at ${ctx.api} runs an unknown network ${info.network} (chain ${info.chainId})`,
    );
  return { info, params };
}

/** Signs a transaction with a wallet account (--from) and submits it; returns its id. */
export async function submitFromWallet(
  ctx: CommandContext,
  kind: number,
  payload: Uint8Array,
  spend: bigint,
  what: string,
): Promise<{ id: string; sender: Uint8Array; nonce: number; fee: bigint }> {
  const { info } = await networkParams(ctx);
  const store = await loadKeystore(ctx.walletDir());
  const sender = senderAccount(store, ctx.values.from as string | undefined, info);
  const key = await unlockAccount(store, await readPassword(ctx.io), sender.index).catch((e: Error) => {
    throw new CliError(e.message);
  });
  return submitSigned(ctx, key, kind, payload, spend, what);
}

/** Signs a transaction with `key` (the next nonce, the node's minimum fee) and submits it. */
export async function submitSigned(
  ctx: CommandContext,
  key: KeyPair,
  kind: number,
  payload: Uint8Array,
  spend: bigint,
  what: string,
): Promise<{ id: string; sender: Uint8Array; nonce: number; fee: bigint }> {
  const network = await networkParams(ctx);
  const sender = addressBytes(key.publicKey);
  const address = encodeAddress(network.info.addressPrefix, sender);
  const { id, nonce, fee } = await sendTx(ctx.client(), key, network, {
    kind,
    payload,
    check: (txFee, account) => {
      if (spend + txFee > BigInt(account.balance))
        throw new CliError(
          `insufficient funds: ${address} has ${formatFlux(BigInt(account.balance))} FLUX spendable, ${what} needs ${formatFlux(spend + txFee)} FLUX (fee ${formatFlux(txFee)} included)`,
        );
    },
    warn: (line) => ctx.note(line),
  });
  return { id, sender, nonce, fee };
}

function operatorPublicKey(ctx: CommandContext): Uint8Array {
  const v = ctx.values;
  const given = [v['operator-key'], v.operator, v.datadir].filter((x) => x !== undefined).length;
  if (given !== 1)
    throw new CliError(
      'name the operator key with exactly one of --operator PUBKEY, --operator-key HEX or --datadir DIR (its operator.key)',
      2,
    );
  const hex = (text: string, what: string) => {
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(text)) throw new CliError(`${what} must be 32 bytes of hex`, 2);
    return fromHex(text);
  };
  if (v.operator !== undefined) return hex(v.operator as string, '--operator');
  if (v['operator-key'] !== undefined)
    return keyPairFromSecret(hex(v['operator-key'] as string, '--operator-key')).publicKey;
  return loadOrCreateOperatorKey(operatorKeyFile(v.datadir as string)).publicKey;
}

export async function nodeStart(ctx: CommandContext): Promise<void> {
  const tier = tierOption(ctx, true)!;
  const endpoint = ctx.values.endpoint as string | undefined;
  if (endpoint === undefined) throw new CliError('--endpoint HOST:PORT is required', 2);
  const bad = endpointError(endpoint);
  if (bad) throw new CliError(`--endpoint: ${bad}`, 2);
  const region = ctx.values.region as string | undefined;
  if (region !== undefined) {
    const badRegion = regionError(region);
    if (badRegion) throw new CliError(`--region: ${badRegion}`, 2);
  }
  const operator = operatorPublicKey(ctx);
  let deposit = DEFAULT_DEPOSIT;
  if (ctx.values.deposit !== undefined) {
    const parsed = parseFlux(ctx.values.deposit as string, '--deposit');
    if (!parsed.ok) throw new CliError(parsed.error, 2);
    deposit = parsed.value;
  }
  const { params } = await networkParams(ctx);
  const collateral = params.nodes.tiers[tier].collateral;
  const sent = await submitFromWallet(
    ctx,
    TxKind.nodeStart,
    encodeNodeStart({ tier, operator, endpoint, region, deposit }),
    collateral + deposit,
    `a ${tier} node (collateral ${formatFlux(collateral)} + deposit ${formatFlux(deposit)})`,
  );
  const nodeId = nodeIdOf(sent.sender, sent.nonce);
  const result = {
    id: nodeId,
    tx: sent.id,
    tier,
    collateral: collateral.toString(),
    deposit: deposit.toString(),
    operator: toHex(operator),
    endpoint,
    ...(region === undefined ? {} : { region }),
  };
  const mined = ctx.values.wait ? await waitMined(ctx, sent.id) : undefined;
  ctx.emit(
    { ...result, ...(mined === undefined ? {} : { height: mined }) },
    [
      `node ${nodeId}`,
      `  ${tier}${region === undefined ? '' : ` in ${region}`}: ${formatFlux(collateral)} FLUX locked, ${formatFlux(deposit)} FLUX to the operator key for fees`,
      `  tx ${sent.id} ${mined === undefined ? 'pending' : `mined at height ${mined}`}`,
      `  the node running operator key ${toHex(operator).slice(0, 16)}… confirms it within ${params.nodes.confirmWindow} blocks`,
    ].join('\n'),
  );
}

export async function nodeStop(ctx: CommandContext): Promise<void> {
  const id = nodeIdArg(ctx);
  const node = await ctx.client().node({ params: { id } });
  if (node.status !== 'started' && node.status !== 'confirmed')
    throw new CliError(`node ${id} is ${node.status}; only a started or confirmed node can be stopped`);
  const { params } = await networkParams(ctx);
  const sent = await submitFromWallet(ctx, TxKind.nodeStop, encodeNodeStop(id), 0n, 'the stop');
  const mined = ctx.values.wait ? await waitMined(ctx, sent.id) : undefined;
  ctx.emit(
    { id, tx: sent.id, ...(mined === undefined ? {} : { height: mined }) },
    `node ${id} stopping: tx ${sent.id}; the collateral unlocks ${params.nodes.unlockDelay} blocks after it is mined`,
  );
}

function nodeLines(n: NodeJson): string[] {
  const r = n.report;
  return [
    `node ${n.id}`,
    `  tier        ${n.tier}, collateral ${formatFlux(BigInt(n.collateral))} FLUX`,
    `  status      ${n.status}${n.down ? `, down since height ${n.downSince} (reported by other nodes; hosts and earns nothing until it confirms again)` : ''}`,
    `  owner       ${n.owner}`,
    `  operator    ${n.operator}`,
    `  endpoint    ${n.endpoint}`,
    ...(n.liveness
      ? [
          `  heard       ${n.liveness.state} for ${ago(n.liveness.since)}${n.liveness.lastHeard === undefined ? ', never heard' : `, last heartbeat ${ago(n.liveness.lastHeard)} ago`} (this node's view)`,
        ]
      : []),
    `  region      ${n.region ?? 'none declared'}`,
    `  started     height ${n.startHeight}`,
    `  confirmed   ${n.confirmations} time(s)${n.lastConfirmHeight === undefined ? '' : `, last at height ${n.lastConfirmHeight}`}`,
    ...(n.expiresAt === undefined
      ? []
      : [`  next        confirm from height ${n.confirmFrom}, before ${n.expiresAt}`]),
    ...(n.unlockAt === undefined ? [] : [`  unlocks at  height ${n.unlockAt}`]),
    `  paid        ${n.payouts} time(s), ${formatFlux(BigInt(n.rewards))} FLUX${n.lastPaidHeight === undefined ? '' : `, last at height ${n.lastPaidHeight}`}`,
    `  apps        ${formatFlux(BigInt(n.appEarned))} FLUX earned hosting apps`,
    ...(n.queuePosition === undefined ? [] : [`  queue       position ${n.queuePosition} (0 is paid next)`]),
    r.measuredAt === 0
      ? '  report      none yet (registered at genesis)'
      : `  report      ${r.cores} cores, ${(r.ramMb / 1024).toFixed(1)} GiB RAM, ${r.ssdGb} GB free, ${r.eventsPerSec} events/s, ${r.diskWriteMBps} MB/s`,
  ];
}

export async function nodeList(ctx: CommandContext): Promise<void> {
  const tier = tierOption(ctx, false);
  const status = ctx.values.status as string | undefined;
  if (status !== undefined && !(NODE_STATUSES as readonly string[]).includes(status))
    throw new CliError(`--status must be one of ${NODE_STATUSES.join(', ')}, not ${status}`, 2);
  const list = await ctx.client().nodes({ query: { tier, status } });
  const rows = list.nodes.map((n) => [
    n.id.slice(0, 16),
    n.tier,
    n.down ? `down since ${n.downSince}` : n.status,
    n.endpoint,
    n.region ?? '-',
    String(n.lastConfirmHeight ?? '-'),
    String(n.lastPaidHeight ?? '-'),
    n.queuePosition === undefined ? '-' : String(n.queuePosition),
    formatFlux(BigInt(n.rewards)),
  ]);
  const head = ['id', 'tier', 'status', 'endpoint', 'region', 'confirmed', 'paid', 'queue', 'rewards'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const text = [head, ...rows].map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
  ctx.emit(list, list.count === 0 ? `no FluxNodes at height ${list.height}` : text.join('\n'));
}

/** The `isolated` line of `node status`: whether the node answering looks cut off from the network. */
function isolationLine(isolation: NetworkJson['isolation']): string[] {
  if (isolation === undefined) return [];
  return [
    isolation.isolated
      ? `  isolated    yes (${isolation.reasons.join('; ')}): the answering node sends no down reports`
      : '  isolated    no (the answering node hears the network)',
  ];
}

export async function nodeStatus(ctx: CommandContext): Promise<void> {
  const client = ctx.client();
  const [n, net] = await Promise.all([client.node({ params: { id: nodeIdArg(ctx) } }), client.network()]);
  ctx.emit(
    net.isolation === undefined ? n : { ...n, isolation: net.isolation },
    [...nodeLines(n), ...isolationLine(net.isolation)].join('\n'),
  );
}

export async function nodePayouts(ctx: CommandContext): Promise<void> {
  const r = await ctx.client().nodeRewards({ params: { id: nodeIdArg(ctx) } });
  ctx.emit(
    r,
    [
      `node ${r.id}`,
      `  paid     ${r.payouts} time(s), ${formatFlux(BigInt(r.rewards))} FLUX to ${r.owner}`,
      ...(r.lastPaidHeight === undefined ? [] : [`  last     height ${r.lastPaidHeight}`]),
      `  apps     ${formatFlux(BigInt(r.appEarned))} FLUX for hosting apps${r.lastAppPaidHeight === undefined ? '' : `, last at height ${r.lastAppPaidHeight}`}`,
      ...(r.down
        ? [`  down     since height ${r.downSince}: no app payments or block rewards until it confirms again`]
        : []),
      r.queuePosition === undefined
        ? `  queue    not in the payout queue (${r.down ? 'down' : 'not confirmed'}); ${r.queueLength} node(s) queued`
        : `  queue    position ${r.queuePosition} of ${r.queueLength}: paid in about ${r.nextPayoutIn} block(s)`,
    ].join('\n'),
  );
}

export async function nodeBenchmark(ctx: CommandContext): Promise<number> {
  const network = (ctx.values.network as string | undefined) ?? 'mainnet';
  if (!Object.hasOwn(presets, network))
    throw new CliError(`--network must be devnet, testnet or mainnet, not ${network}`, 2);
  const params = presets[network as NetworkName];
  const datadir =
    (ctx.values.datadir as string | undefined) ?? join(ctx.io.env.HOME ?? homedir(), '.openflux', network);
  const tty = (ctx.io.stderr as { isTTY?: boolean }).isTTY === true;
  let last = '';
  const report = await runBenchmark({
    dir: datadir,
    ...(ctx.values.quick ? { cpuMs: 500, diskBytes: 32 * 2 ** 20 } : {}),
    progress: (phase, fraction) => {
      const line = progressBar(phase, fraction);
      if (tty) ctx.io.stderr.write(`\r${line}`);
      else if (phase !== last) ctx.io.stderr.write(`${line}\n`);
      last = phase;
    },
  });
  if (tty) ctx.io.stderr.write('\n');
  await saveReport(datadir, report);
  const q = qualify(report, params);
  const next = q.tier === undefined ? TIERS[0] : TIERS[TIERS.indexOf(q.tier) + 1];
  ctx.emit(
    { network, datadir, report, qualifies: q.tier ?? null, missed: q.missed, implausible: q.implausible },
    [
      `cores          ${report.cores}`,
      `RAM            ${(report.ramMb / 1024).toFixed(1)} GiB`,
      `free disk      ${report.ssdGb} GB (${datadir})`,
      `CPU            ${report.eventsPerSec.toLocaleString('en-US')} events/s (sha256 of 4 KiB, all cores)`,
      `disk write     ${report.diskWriteMBps} MB/s (with fsync)`,
      '',
      q.implausible
        ? `this report would be refused: ${q.implausible}`
        : q.tier === undefined
          ? `qualifies for no ${network} tier: cumulus needs more (${q.missed.cumulus})`
          : `qualifies for ${q.tier} on ${network}${next ? `; not ${next}: ${q.missed[next]}` : ' (the highest tier)'}`,
      `report saved in ${join(datadir, 'benchmark.json')}; the node confirms with it`,
    ].join('\n'),
  );
  return 0;
}
