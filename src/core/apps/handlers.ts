// Transaction kinds appRegister, appUpdate, appExtend and appCancel (listed in transition/kinds.ts),
// and the payment of hosting nodes. The price goes into escrow held by the chain (`appescrow/`);
// what a running app consumes moves from `held` to `earned` (and onto the app's `owed`) whenever
// the app is settled (update, extend, cancel, expiry, payout). Every `apps.payoutInterval` blocks
// what each app owes is paid to the owners of the nodes placement assigns it, and leaves `earned`.
import {
  type AppCancelPayload as AppCancel,
  AppCancelPayload,
  type AppExtendPayload as AppExtend,
  AppExtendPayload,
  type AppRecord,
  AppRegisterPayload,
  AppUpdatePayload,
  TxKind,
} from '../codec/types.ts';
import { fromHex, toHex } from '../crypto/hash.ts';
import { fail, type Result } from '../ledger/errors.ts';
import { accounts, credit, EMPTY_ACCOUNT, type StateOverlay } from '../ledger/state.ts';
import type { TxKindHandler } from '../ledger/types.ts';
import { isNodeDown, NodeStatus, nodes } from '../nodes/types.ts';
import type { ChainParams } from '../params/index.ts';
import { placementFromState } from './placement.ts';
import { appPrice } from './price.ts';
import { APP_NAME, type AppSpec, decodeAppSpec, encodeAppSpec, storedAppSpec } from './spec.ts';
import { appDueKey, appEscrow, apps, appsDue, EMPTY_ESCROW } from './types.ts';

const decoder = new TextDecoder('utf-8', { fatal: true });

interface SpecValue {
  spec: AppSpec;
  bytes: Uint8Array;
  total: bigint;
  perBlock: bigint;
}

function decodeSpecPayload(
  name: string,
  type: typeof AppRegisterPayload | typeof AppUpdatePayload,
  bytes: Uint8Array,
  params: ChainParams,
): Result<{ value: SpecValue }> {
  let raw: Uint8Array;
  try {
    raw = type.deserialize(bytes).spec;
  } catch (e) {
    return fail('MALFORMED', `${name} payload does not decode: ${(e as Error).message}`);
  }
  const parsed = decodeAppSpec(raw, params);
  if (!parsed.ok) return fail('BAD_SPEC', `${name}: ${parsed.error.message}`);
  const price = appPrice(parsed.spec, params.apps);
  return { ok: true, value: { spec: parsed.spec, bytes: raw, total: price.total, perBlock: price.perBlock } };
}

function decodeName(kind: string, raw: Uint8Array): Result<{ name: string }> {
  let name: string;
  try {
    name = decoder.decode(raw);
  } catch {
    return fail('MALFORMED', `${kind} name is not UTF-8`);
  }
  if (!APP_NAME.test(name))
    return fail('MALFORMED', `${kind} name ${JSON.stringify(name)} is not an app name`);
  return { ok: true, name };
}

function adjustEscrow(state: StateOverlay, held: bigint, earned: bigint): void {
  const e = state.read(appEscrow, '') ?? EMPTY_ESCROW;
  state.write(appEscrow, '', { held: e.held + held, earned: e.earned + earned });
}

/** Takes `amount` from the sender's balance (beyond the fee), or says why it cannot. */
function debit(state: StateOverlay, id: string, amount: bigint, what: string): Result<object> {
  if (amount === 0n) return { ok: true };
  const a = state.read(accounts, id) ?? EMPTY_ACCOUNT;
  if (a.balance < amount)
    return fail('INSUFFICIENT_FUNDS', `sender ${id} has ${a.balance} after the fee, ${what} costs ${amount}`);
  state.write(accounts, id, { ...a, balance: a.balance - amount });
  return { ok: true };
}

/** What the app consumed up to `height` that is still in its escrow, and the escrow left. */
function consumption(app: AppRecord, height: number): { consumed: bigint; unused: bigint } {
  const remaining = BigInt(Math.max(0, app.expiresAt - height));
  const unused = app.pricePerBlock * remaining < app.escrow ? app.pricePerBlock * remaining : app.escrow;
  return { consumed: app.escrow - unused, unused };
}

/**
 * Moves what the app consumed up to `height` from held to earned; returns the record with only
 * the unused blocks' price in escrow, and what was consumed added to `owed` (paid to hosts at
 * the next payout).
 */
export function settleApp(state: StateOverlay, app: AppRecord, height: number): AppRecord {
  const { consumed, unused } = consumption(app, height);
  if (consumed > 0n) adjustEscrow(state, -consumed, consumed);
  return { ...app, escrow: unused, owed: app.owed + consumed };
}

/**
 * Payments to hosts gathered over many apps, then written once per node and per account (a
 * payout touches every app, and a node hosts many). Amounts leave `earned`.
 */
class HostPayments {
  private readonly toNodes = new Map<string, bigint>();
  private readonly toAccounts = new Map<string, bigint>();
  private total = 0n;

  /**
   * `amount` in equal shares of amount / `instances` to the owners of the `hosts` nodes; the
   * shares of instances without a host and the rounding remainder go back to the app's owner.
   */
  add(amount: bigint, hosts: string[], instances: number, appOwner: string): void {
    if (amount === 0n) return;
    this.total += amount;
    const share = amount / BigInt(Math.max(instances, hosts.length, 1));
    let paid = 0n;
    if (share > 0n) {
      for (const id of hosts) {
        this.toNodes.set(id, (this.toNodes.get(id) ?? 0n) + share);
        paid += share;
      }
    }
    this.toAccount(appOwner, amount - paid);
  }

  private toAccount(id: string, amount: bigint): void {
    if (amount > 0n) this.toAccounts.set(id, (this.toAccounts.get(id) ?? 0n) + amount);
  }

  /** Credits the nodes' owners (recording it on each node) and the apps' owners. */
  apply(state: StateOverlay, height: number): void {
    for (const [id, amount] of this.toNodes) {
      const node = state.read(nodes, id);
      if (!node) throw new Error(`app host ${id} is not in the state`);
      state.write(nodes, id, { ...node, appEarned: node.appEarned + amount, lastAppPaidHeight: height });
      this.toAccount(toHex(node.owner), amount);
    }
    for (const [id, amount] of this.toAccounts) credit(state, id, amount);
    if (this.total > 0n) adjustEscrow(state, 0n, -this.total);
  }
}

/**
 * An app that ends (cancel, expiry) after being settled: what it owes goes to the nodes of its
 * last payout that still host (confirmed, not down), as at a payout; the rest to its owner.
 */
function payOwedOnEnd(state: StateOverlay, app: AppRecord, height: number): void {
  if (app.owed === 0n) return;
  const hosts = app.hosts.map(toHex).filter((id) => {
    const node = state.read(nodes, id);
    return node !== undefined && node.status === NodeStatus.confirmed && !isNodeDown(node);
  });
  const instances = Math.max(storedAppSpec(app.spec).instances, app.hosts.length);
  const pay = new HostPayments();
  pay.add(app.owed, hosts, instances, toHex(app.owner));
  pay.apply(state, height);
}

/**
 * Every `params.apps.payoutInterval` blocks (heights h with h % interval == 0, after the block's
 * transactions and expiries): each running app is settled at h and what it owes is paid to the
 * nodes consensus placement assigns it at h (down nodes are placed nowhere). Costs one placement
 * of every app on every node, one write per app, and one per paid node and account.
 */
export function payHostingNodes(state: StateOverlay, height: number, params: ChainParams): void {
  const interval = params.apps.payoutInterval;
  if (!(interval > 0) || height % interval !== 0) return;
  const pay = new HostPayments();
  let consumedTotal = 0n;
  for (const [name, placed] of placementFromState(state, params, height)) {
    const app = state.read(apps, name);
    if (!app) continue;
    const { consumed, unused } = consumption(app, height);
    consumedTotal += consumed;
    pay.add(app.owed + consumed, placed.nodes, placed.wanted, toHex(app.owner));
    state.write(apps, name, { ...app, escrow: unused, owed: 0n, hosts: placed.nodes.map(fromHex) });
  }
  if (consumedTotal > 0n) adjustEscrow(state, -consumedTotal, consumedTotal);
  pay.apply(state, height);
}

function loadOwned(
  state: StateOverlay,
  kind: string,
  name: string,
  ctx: { senderId: string; height: number },
  ownerOnly: boolean,
): Result<{ app: AppRecord }> {
  const app = state.read(apps, name);
  if (!app) return fail('APP_NOT_FOUND', `${kind}: no app named ${JSON.stringify(name)}`);
  if (ownerOnly && toHex(app.owner) !== ctx.senderId)
    return fail(
      'NOT_AUTHORIZED',
      `${kind}: app ${name} belongs to ${toHex(app.owner)}; only its owner can do this`,
    );
  if (ctx.height >= app.expiresAt)
    return fail('BAD_APP_STATE', `${kind}: app ${name} expired at height ${app.expiresAt}`);
  return { ok: true, app };
}

export const appRegisterHandler: TxKindHandler<SpecValue> = {
  kind: TxKind.appRegister,
  name: 'appRegister',
  decode: (bytes, params) => decodeSpecPayload('appRegister', AppRegisterPayload, bytes, params),
  spend: (value) => value.total,
  apply(state, value, ctx) {
    const name = value.spec.name;
    if (state.read(apps, name))
      return fail('APP_EXISTS', `appRegister: the name ${JSON.stringify(name)} is taken`);
    const expiresAt = ctx.height + value.spec.expiryBlocks;
    state.write(apps, name, {
      owner: fromHex(ctx.senderId),
      spec: value.bytes,
      revision: 1,
      registeredAt: ctx.height,
      updatedAt: ctx.height,
      expiresAt,
      pricePerBlock: value.perBlock,
      escrow: value.total,
      owed: 0n,
      hosts: [],
    });
    state.write(appsDue, appDueKey(expiresAt, name), true);
    adjustEscrow(state, value.total, 0n);
    return { ok: true };
  },
  parties: () => [],
};

export const appUpdateHandler: TxKindHandler<SpecValue> = {
  kind: TxKind.appUpdate,
  name: 'appUpdate',
  decode: (bytes, params) => decodeSpecPayload('appUpdate', AppUpdatePayload, bytes, params),
  // The difference depends on the app in the state: apply takes it.
  spend: () => 0n,
  apply(state, value, ctx) {
    const loaded = loadOwned(state, 'appUpdate', value.spec.name, ctx, true);
    if (!loaded.ok) return loaded;
    const app = settleApp(state, loaded.app, ctx.height);
    const remaining = BigInt(app.expiresAt - ctx.height);
    const escrow = value.perBlock * remaining;
    const diff = escrow - app.escrow;
    if (diff > 0n) {
      const paid = debit(
        state,
        ctx.senderId,
        diff,
        `the update of ${value.spec.name} for ${remaining} blocks`,
      );
      if (!paid.ok) return paid;
    } else credit(state, toHex(app.owner), -diff);
    adjustEscrow(state, diff, 0n);
    state.write(apps, value.spec.name, {
      ...app,
      spec: value.bytes,
      revision: app.revision + 1,
      updatedAt: ctx.height,
      pricePerBlock: value.perBlock,
      escrow,
    });
    return { ok: true };
  },
  parties: () => [],
};

type ExtendValue = AppExtend & { appName: string };

export const appExtendHandler: TxKindHandler<ExtendValue> = {
  kind: TxKind.appExtend,
  name: 'appExtend',
  decode(bytes, params) {
    let value: AppExtend;
    try {
      value = AppExtendPayload.deserialize(bytes);
    } catch (e) {
      return fail('MALFORMED', `appExtend payload does not decode: ${(e as Error).message}`);
    }
    const name = decodeName('appExtend', value.name);
    if (!name.ok) return name;
    if (value.blocks < 1 || value.blocks > params.apps.maxBlocks)
      return fail('BAD_AMOUNT', `appExtend blocks must be in 1..${params.apps.maxBlocks}`);
    return { ok: true, value: { ...value, appName: name.name } };
  },
  spend: () => 0n,
  apply(state, value, ctx) {
    const loaded = loadOwned(state, 'appExtend', value.appName, ctx, false);
    if (!loaded.ok) return loaded;
    const app = settleApp(state, loaded.app, ctx.height);
    const expiresAt = app.expiresAt + value.blocks;
    if (expiresAt - ctx.height > ctx.params.apps.maxBlocks)
      return fail('BAD_AMOUNT', `appExtend: an app runs at most ${ctx.params.apps.maxBlocks} blocks ahead`);
    const cost = app.pricePerBlock * BigInt(value.blocks);
    const paid = debit(state, ctx.senderId, cost, `${value.blocks} more blocks of ${value.appName}`);
    if (!paid.ok) return paid;
    adjustEscrow(state, cost, 0n);
    state.write(appsDue, appDueKey(app.expiresAt, value.appName), undefined);
    state.write(appsDue, appDueKey(expiresAt, value.appName), true);
    state.write(apps, value.appName, { ...app, expiresAt, escrow: app.escrow + cost });
    return { ok: true };
  },
  parties: () => [],
};

type CancelValue = AppCancel & { appName: string };

export const appCancelHandler: TxKindHandler<CancelValue> = {
  kind: TxKind.appCancel,
  name: 'appCancel',
  decode(bytes) {
    let value: AppCancel;
    try {
      value = AppCancelPayload.deserialize(bytes);
    } catch (e) {
      return fail('MALFORMED', `appCancel payload does not decode: ${(e as Error).message}`);
    }
    const name = decodeName('appCancel', value.name);
    if (!name.ok) return name;
    return { ok: true, value: { ...value, appName: name.name } };
  },
  spend: () => 0n,
  apply(state, value, ctx) {
    const loaded = loadOwned(state, 'appCancel', value.appName, ctx, true);
    if (!loaded.ok) return loaded;
    const app = settleApp(state, loaded.app, ctx.height);
    payOwedOnEnd(state, app, ctx.height);
    credit(state, toHex(app.owner), app.escrow);
    adjustEscrow(state, -app.escrow, 0n);
    state.write(appsDue, appDueKey(app.expiresAt, value.appName), undefined);
    state.write(apps, value.appName, undefined);
    return { ok: true };
  },
  parties: () => [],
};

/** Per block: apps that expire at `height` are settled (all consumed), their hosts paid, and removed. */
export function processDueApps(state: StateOverlay, height: number): void {
  const prefix = `${appsDue.prefix}${String(height).padStart(16, '0')}/`;
  for (;;) {
    const batch = state.scan(prefix, 256);
    if (batch.length === 0) return;
    for (const [key] of batch) {
      const name = key.slice(prefix.length);
      const app = state.read(apps, name);
      if (app) payOwedOnEnd(state, settleApp(state, app, height), height);
      state.write(apps, name, undefined);
      state.write(appsDue, key.slice(appsDue.prefix.length), undefined);
    }
  }
}

export function encodeAppRegister(spec: AppSpec): Uint8Array {
  return AppRegisterPayload.serialize({ spec: encodeAppSpec(spec) });
}

export function encodeAppUpdate(spec: AppSpec): Uint8Array {
  return AppUpdatePayload.serialize({ spec: encodeAppSpec(spec) });
}

export function encodeAppExtend(name: string, blocks: number): Uint8Array {
  return AppExtendPayload.serialize({ name: new TextEncoder().encode(name), blocks });
}

export function encodeAppCancel(name: string): Uint8Array {
  return AppCancelPayload.serialize({ name: new TextEncoder().encode(name) });
}
