// Hosting nodes are paid what apps consume, by consensus placement; down nodes are paid nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeAppCancel, encodeAppRegister } from '../../../src/core/apps/handlers.ts';
import { placementFromState } from '../../../src/core/apps/placement.ts';
import { appPrice } from '../../../src/core/apps/price.ts';
import { type AppSpec, validateAppSpec } from '../../../src/core/apps/spec.ts';
import { getApp, getAppEscrow } from '../../../src/core/apps/types.ts';
import { TxKind } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { accounts } from '../../../src/core/ledger/state.ts';
import { getNode } from '../../../src/core/nodes/queries.ts';
import { isNodeDown } from '../../../src/core/nodes/types.ts';
import type { ChainParams } from '../../../src/core/params/index.ts';
import { filledKey, idOf } from '../../support/keys.ts';
import { genesisIds, paramsWithNodes, TestChain } from '../nodes/helpers.ts';
import { GOOD } from './fixtures.ts';

const FEE = 100_000n;
const nodeOwners = [filledKey(1), filledKey(2), filledKey(3), filledKey(4)];
const ops = [filledKey(10), filledKey(11), filledKey(12), filledKey(13)];
const appOwner = filledKey(5);
const ids = genesisIds(4);

function setup(opts: { payoutInterval?: number } = {}): { c: TestChain; params: ChainParams } {
  const params = paramsWithNodes([...nodeOwners, appOwner], ops, opts);
  return { c: new TestChain(params), params };
}

function spec(params: ChainParams, over: Partial<AppSpec> = {}): AppSpec {
  const r = validateAppSpec({ ...structuredClone(GOOD), ...over }, params);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.spec;
}

const balance = (c: TestChain, k: ReturnType<typeof filledKey>) =>
  accounts.decode(c.state.get(accounts.prefix + idOf(k))!).balance;
const earned = (c: TestChain, id: string) => getNode(c.state, id)!.appEarned;
const hostsOf = (c: TestChain, name: string) =>
  placementFromState(c.state, c.params, c.height).get(name)?.nodes ?? [];
/** The operator and a reporter pair (other than `target` and `spare`) for down reports. */
const opOf = (id: string) => ops[ids.indexOf(id)];

function markDown(c: TestChain, target: string, avoid: string[] = []): void {
  const reporters = ids.filter((id) => id !== target && !avoid.includes(id)).slice(0, 2);
  c.block(reporters.map((r) => c.down(opOf(r), target, r)));
  assert.ok(isNodeDown(getNode(c.state, target)!));
}

describe('paying hosting nodes', () => {
  it('pays each placed instance’s node owner an equal share of what the app consumed', () => {
    const { c, params } = setup();
    const s = spec(params);
    const perBlock = appPrice(s, params.apps).perBlock;
    c.block([c.tx(appOwner, TxKind.appRegister, encodeAppRegister(s))]); // height 1
    const hosts = hostsOf(c, s.name);
    assert.equal(hosts.length, 2);
    assert.deepEqual(getApp(c.state, s.name)!.hosts.map(toHex), hosts, 'the record keeps the hosts');
    const ownerBefore = balance(c, appOwner);
    const before = ids.map((id) => earned(c, id));
    c.block();
    const share = perBlock / 2n;
    assert.deepEqual(
      ids.map((id, i) => earned(c, id) - before[i]),
      ids.map((id) => (hosts.includes(id) ? share : 0n)),
    );
    assert.equal(balance(c, appOwner), ownerBefore + (perBlock - 2n * share), 'the remainder returns');
    const host = getNode(c.state, hosts[0])!;
    assert.equal(host.lastAppPaidHeight, 2);
    assert.equal(getAppEscrow(c.state).earned, 0n, 'everything consumed was paid');
    assert.equal(getApp(c.state, s.name)!.owed, 0n);
  });

  it('returns the shares of instances no node hosts to the app owner', () => {
    const { c, params } = setup();
    const s = spec(params, { instances: 6 }); // 4 nodes, one instance each (host port)
    const perBlock = appPrice(s, params.apps).perBlock;
    c.block([c.tx(appOwner, TxKind.appRegister, encodeAppRegister(s))]);
    assert.equal(hostsOf(c, s.name).length, 4);
    const ownerBefore = balance(c, appOwner);
    const before = ids.map((id) => earned(c, id));
    c.block();
    const share = perBlock / 6n;
    for (let i = 0; i < 4; i++) assert.equal(earned(c, ids[i]) - before[i], share);
    assert.equal(balance(c, appOwner) - ownerBefore, perBlock - 4n * share, 'the user pays for 4 instances');
  });

  it('a node marked down is paid nothing; the node that takes its instance is; back, it earns again', () => {
    const { c, params } = setup();
    const s = spec(params);
    const share = appPrice(s, params.apps).perBlock / 2n;
    c.block([c.tx(appOwner, TxKind.appRegister, encodeAppRegister(s))]);
    c.block();
    const [dead, kept] = hostsOf(c, s.name);
    const deadBefore = earned(c, dead);
    markDown(c, dead, [kept]); // the two other nodes report it, in block 3
    const hosts = hostsOf(c, s.name);
    assert.ok(!hosts.includes(dead) && hosts.includes(kept) && hosts.length === 2);
    const [replacement] = hosts.filter((id) => id !== kept);
    assert.equal(earned(c, dead), deadBefore, 'not paid at the payout of the block that marked it down');
    assert.equal(earned(c, replacement), share, 'the replacement is paid at the same payout');
    c.block();
    c.block();
    assert.equal(earned(c, dead), deadBefore);
    assert.equal(earned(c, replacement), 3n * share);
    // it confirms again: rendezvous ranks it where it was, so it takes its instance back
    c.block([c.confirm(opOf(dead), dead)]);
    assert.ok(hostsOf(c, s.name).includes(dead));
    assert.equal(earned(c, dead), deadBefore + share);
    assert.equal(earned(c, replacement), 3n * share);
  });

  it('accumulates between payouts and pays what was owed on cancel to the last payout’s hosts', () => {
    const { c, params } = setup({ payoutInterval: 10 });
    const s = spec(params);
    const perBlock = appPrice(s, params.apps).perBlock;
    c.block([c.tx(appOwner, TxKind.appRegister, encodeAppRegister(s))]); // height 1
    c.until(9);
    assert.ok(
      ids.every((id) => earned(c, id) === 0n),
      'no payout before height 10',
    );
    c.block(); // 10: pays the 9 blocks consumed since 1
    const hosts = hostsOf(c, s.name);
    for (const id of hosts) assert.equal(earned(c, id), (9n * perBlock) / 2n);
    c.until(12);
    const ownerBefore = balance(c, appOwner);
    c.block([c.tx(appOwner, TxKind.appCancel, encodeAppCancel(s.name))]); // 13: owes 3 blocks
    const share = (3n * perBlock) / 2n;
    for (const id of hosts) assert.equal(earned(c, id), (9n * perBlock) / 2n + share);
    const unused = perBlock * (1001n - 13n);
    assert.equal(balance(c, appOwner), ownerBefore - FEE + unused + (3n * perBlock - 2n * share));
    assert.deepEqual(getAppEscrow(c.state), { held: 0n, earned: 0n });
  });

  it('pays what was owed at expiry; a host down since is not paid', () => {
    const { c, params } = setup({ payoutInterval: 10 });
    const s = spec(params, { expiryBlocks: 15 }); // runs 1..15, expires at 16
    const perBlock = appPrice(s, params.apps).perBlock;
    c.block([c.tx(appOwner, TxKind.appRegister, encodeAppRegister(s))]);
    c.until(10);
    const [a, b] = hostsOf(c, s.name);
    const paidAt10 = (9n * perBlock) / 2n;
    markDown(c, b, [a]); // height 11
    c.until(15);
    const ownerBefore = balance(c, appOwner);
    c.block(); // 16: expiry settles 6 more blocks, owed to the hosts of the payout at 10
    assert.equal(getApp(c.state, s.name), undefined);
    const share = (6n * perBlock) / 2n;
    assert.equal(earned(c, a), paidAt10 + share);
    assert.equal(earned(c, b), paidAt10, 'the host marked down gets nothing');
    assert.equal(balance(c, appOwner), ownerBefore + 6n * perBlock - share);
    assert.deepEqual(getAppEscrow(c.state), { held: 0n, earned: 0n });
  });

  it('an app cancelled before any payout pays its owner back what it owed', () => {
    const { c, params } = setup({ payoutInterval: 10 });
    const s = spec(params);
    const total = appPrice(s, params.apps).total;
    const before = balance(c, appOwner);
    c.block([c.tx(appOwner, TxKind.appRegister, encodeAppRegister(s))]);
    c.block([c.tx(appOwner, TxKind.appCancel, encodeAppCancel(s.name))]);
    assert.equal(balance(c, appOwner), before - 2n * FEE, 'nothing ran on a host, nothing is paid');
    assert.ok(ids.every((id) => earned(c, id) === 0n));
    assert.equal(total > 0n, true);
  });
});
