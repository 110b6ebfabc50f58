import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TxKind } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { accounts, EMPTY_ACCOUNT, supply } from '../../../src/core/ledger/state.ts';
import { encodeTransfer } from '../../../src/core/ledger/tx.ts';
import { genesisNodeId, nodeIdOf } from '../../../src/core/nodes/lifecycle.ts';
import { encodeNodeStart } from '../../../src/core/nodes/payloads.ts';
import { getNode, listNodes, payoutQueueIds } from '../../../src/core/nodes/queries.ts';
import { NodeStatus } from '../../../src/core/nodes/types.ts';
import { COIN } from '../../../src/core/params/index.ts';
import { filledKey, idOf } from '../../support/keys.ts';
import { GOOD_REPORT, nodeParams, TestChain } from './helpers.ts';

const owner = filledKey(1);
const operator = filledKey(2);
const stranger = filledKey(3);
const params = nodeParams([owner, stranger]);
const { confirmWindow, confirmPeriod, cooldown, unlockDelay } = params.nodes;
const collateral = params.nodes.tiers.cumulus.collateral;

const account = (c: TestChain, id: string) => {
  const b = c.state.get(accounts.prefix + id);
  return b ? accounts.decode(b) : EMPTY_ACCOUNT;
};
const lockedSupply = (c: TestChain) => supply.decode(c.state.get(supply.prefix)!).locked;

/** A chain where `owner` started a cumulus node at height 1; returns its id. */
function started(): { c: TestChain; id: string } {
  const c = new TestChain(params);
  c.block([c.start(owner, operator, 'cumulus')]);
  return { c, id: nodeIdOf(addressBytes(owner.publicKey), 0) };
}

describe('FluxNode lifecycle', () => {
  it('start locks the collateral, funds the operator, and waits for a confirmation', () => {
    const { c, id } = started();
    const a = account(c, idOf(owner));
    assert.equal(a.locked, collateral);
    assert.equal(a.balance, 100_000n * COIN - collateral - COIN - 100_000n);
    assert.equal(account(c, idOf(operator)).balance, COIN);
    assert.equal(lockedSupply(c), collateral);
    const node = getNode(c.state, id)!;
    assert.equal(node.status, NodeStatus.started);
    assert.equal(node.expiresAt, 1 + confirmWindow);
    assert.deepEqual(payoutQueueIds(c.state, 'cumulus'), []);
  });

  it('locked collateral cannot be spent or sent', () => {
    const { c } = started();
    const spendable = account(c, idOf(owner)).balance;
    // everything spendable (after the fee) plus one unit of the collateral
    const send = c.tx(
      owner,
      TxKind.transfer,
      encodeTransfer(new Uint8Array(20).fill(9), spendable - 100_000n + 1n),
    );
    const r = c.try(send);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'INSUFFICIENT_FUNDS');
    assert.match(!r.ok ? r.error.message : '', /locked as collateral/);
  });

  it('first confirmation within the window joins the payout queue and earns the tier share', () => {
    const { c, id } = started();
    c.block([c.confirm(operator, id)]);
    const node = getNode(c.state, id)!;
    assert.equal(node.status, NodeStatus.confirmed);
    assert.equal(node.lastConfirmHeight, 2);
    assert.equal(node.expiresAt, 2 + confirmPeriod);
    assert.deepEqual(payoutQueueIds(c.state, 'cumulus'), [id]);
    assert.equal(node.payouts, 1, 'alone in its queue, it is paid in the block that confirms it');
    const before = account(c, idOf(owner)).balance;
    const effects = c.block();
    const share = (effects.subsidy * BigInt(params.rewardSplit.cumulus)) / 10_000n;
    assert.equal(account(c, idOf(owner)).balance, before + share);
    const paid = getNode(c.state, id)!;
    assert.equal(paid.payouts, 2);
    assert.equal(paid.rewards, 2n * share);
    assert.equal(paid.lastPaidHeight, 3);
  });

  it('a start not confirmed in its window lapses: collateral returns, starts cool down', () => {
    const { c, id } = started();
    c.until(confirmWindow);
    assert.equal(getNode(c.state, id)!.status, NodeStatus.started);
    c.block();
    const node = getNode(c.state, id)!;
    assert.equal(node.status, NodeStatus.lapsed);
    assert.equal(account(c, idOf(owner)).locked, 0n);
    assert.equal(lockedSupply(c), 0n);
    const again = c.try(c.start(owner, filledKey(4), 'cumulus'));
    assert.equal(!again.ok && again.error.code, 'COOLDOWN');
    c.until(1 + confirmWindow + cooldown - 1);
    assert.ok(c.try(c.start(owner, filledKey(4), 'cumulus')).ok, 'after the cool-down a start is accepted');
  });

  it('refuses a confirmation after the window closed', () => {
    const { c, id } = started();
    c.until(confirmWindow); // the next block is at expiresAt
    const late = c.try(c.confirm(operator, id));
    assert.equal(late.ok, false);
    assert.match(!late.ok ? late.error.message : '', /window closed|lapsed/);
  });

  it('refuses a confirmation signed by another key than the operator', () => {
    const { c, id } = started();
    const r = c.try(c.confirm(stranger, id));
    assert.equal(!r.ok && r.error.code, 'NOT_AUTHORIZED');
  });

  it('refuses a confirmation too early in the period, accepts it in the window before expiry', () => {
    const { c, id } = started();
    c.block([c.confirm(operator, id)]);
    const early = c.try(c.confirm(operator, id));
    assert.equal(!early.ok && early.error.code, 'BAD_NODE_STATE');
    c.until(2 + confirmPeriod - confirmWindow - 1);
    c.block([c.confirm(operator, id)]);
    assert.equal(getNode(c.state, id)!.confirmations, 2);
  });

  it('a confirmed node that misses its period expires, leaves the queue, and unlocks after the delay', () => {
    const { c, id } = started();
    c.block([c.confirm(operator, id)]);
    c.until(2 + confirmPeriod);
    const node = getNode(c.state, id)!;
    assert.equal(node.status, NodeStatus.expired);
    assert.deepEqual(payoutQueueIds(c.state, 'cumulus'), []);
    assert.equal(account(c, idOf(owner)).locked, collateral);
    c.until(2 + confirmPeriod + unlockDelay);
    assert.equal(getNode(c.state, id)!.status, NodeStatus.closed);
    assert.equal(account(c, idOf(owner)).locked, 0n);
    assert.equal(lockedSupply(c), 0n);
  });

  it('stop by the owner unlocks after the delay; stop by anyone else is refused', () => {
    const { c, id } = started();
    c.block([c.confirm(operator, id)]);
    const r = c.try(c.stop(stranger, id));
    assert.equal(!r.ok && r.error.code, 'NOT_AUTHORIZED');
    c.block([c.stop(owner, id)]);
    const node = getNode(c.state, id)!;
    assert.equal(node.status, NodeStatus.unlocking);
    assert.equal(node.unlockAt, 3 + unlockDelay);
    assert.deepEqual(payoutQueueIds(c.state, 'cumulus'), []);
    const again = c.try(c.stop(owner, id));
    assert.equal(!again.ok && again.error.code, 'BAD_NODE_STATE');
    const balance = account(c, idOf(owner)).balance;
    c.until(3 + unlockDelay);
    assert.equal(getNode(c.state, id)!.status, NodeStatus.closed);
    assert.equal(account(c, idOf(owner)).balance, balance + collateral);
    assert.equal(account(c, idOf(owner)).locked, 0n);
  });

  it('refuses reports below the tier minimums or claiming the impossible', () => {
    const { c, id } = started();
    const cases: Array<[string, typeof GOOD_REPORT, RegExp]> = [
      ['events beyond the cores', { ...GOOD_REPORT, cores: 2, eventsPerSec: 5_000_000 }, /more than 2 core/],
      ['cores the events cannot explain', { ...GOOD_REPORT, cores: 64, eventsPerSec: 200_000 }, /supports/],
      ['zero disk speed', { ...GOOD_REPORT, diskWriteMBps: 0 }, /diskWriteMBps/],
      ['no RAM', { ...GOOD_REPORT, ramMb: 0 }, /ramMb/],
    ];
    for (const [what, report, message] of cases) {
      const r = c.try(c.confirm(operator, id, report));
      assert.equal(r.ok, false, what);
      assert.equal(!r.ok && r.error.code, 'BAD_REPORT', what);
      assert.match(!r.ok ? r.error.message : '', message, what);
    }
    const stratus = new TestChain(params);
    stratus.block([stratus.start(owner, operator, 'stratus')]);
    const sid = nodeIdOf(addressBytes(owner.publicKey), 0);
    const low = stratus.try(
      stratus.confirm(operator, sid, { ...GOOD_REPORT, cores: 1, eventsPerSec: 50_000 }),
    );
    assert.equal(!low.ok && low.error.code, 'BAD_REPORT');
    assert.match(!low.ok ? low.error.message : '', /below the stratus minimums: 1 cores, needs 2/);
  });

  it('refuses a start with a bad endpoint or one operator key for two running nodes', () => {
    const c = new TestChain(params);
    const bad = c.try(
      c.tx(
        owner,
        TxKind.nodeStart,
        encodeNodeStart({ tier: 'cumulus', operator: operator.publicKey, endpoint: 'no port' }),
      ),
    );
    assert.equal(!bad.ok && bad.error.code, 'BAD_ENDPOINT');
    c.block([c.start(owner, operator, 'cumulus')]);
    const twice = c.try(c.start(stranger, operator, 'nimbus'));
    assert.equal(!twice.ok && twice.error.code, 'BAD_NODE_STATE');
  });

  it('genesis nodes are confirmed at height 0 with their collateral locked', () => {
    const p = nodeParams([owner], {
      genesis: {
        time: 0,
        allocations: [{ address: idOf(owner), amount: 100_000n * COIN }],
        nodes: [
          {
            owner: idOf(owner),
            operator: toHex(operator.publicKey),
            tier: 'nimbus',
            endpoint: '127.0.0.2:1',
          },
        ],
      },
    });
    const c = new TestChain(p);
    const id = genesisNodeId(0);
    assert.equal(getNode(c.state, id)!.status, NodeStatus.confirmed);
    assert.equal(account(c, idOf(owner)).locked, p.nodes.tiers.nimbus.collateral);
    assert.deepEqual(
      listNodes(c.state).map((e) => e.id),
      [id],
    );
    c.block();
    assert.equal(getNode(c.state, id)!.payouts, 1);
  });
});
