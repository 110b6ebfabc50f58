import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { placementNodesFromState } from '../../../src/core/apps/placement.ts';
import { NodeDownPayload, type Tx } from '../../../src/core/codec/types.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { StateOverlay } from '../../../src/core/ledger/state.ts';
import { nodeIdOf } from '../../../src/core/nodes/lifecycle.ts';
import { encodeNodeDown } from '../../../src/core/nodes/payloads.ts';
import { downReportsOf, getNode, payoutQueueIds } from '../../../src/core/nodes/queries.ts';
import { isNodeDown, NodeStatus } from '../../../src/core/nodes/types.ts';
import { applyTx } from '../../../src/core/transition/tx.ts';
import { filledKey } from '../../support/keys.ts';
import { genesisIds, paramsWithNodes, TestChain } from './helpers.ts';

const owner = filledKey(1);
const ops = [filledKey(10), filledKey(11), filledKey(12), filledKey(13)];
const params = paramsWithNodes([owner], ops);
const [A, B, C, D] = genesisIds(4);
const { quorum, window } = params.nodes.down;

const placed = (c: TestChain) => placementNodesFromState(c.state, params).map((n) => n.id);

/** Applies `tx` at the next height and asserts it is refused with `code` and changes nothing. */
function refused(c: TestChain, tx: Tx, code: string, message: RegExp): void {
  const view = new StateOverlay(c.state);
  const r = applyTx(view, tx, { params, height: c.height + 1 });
  assert.equal(r.ok, false, `${code} expected, applied`);
  assert.equal(!r.ok && r.error.code, code, !r.ok ? r.error.message : '');
  assert.match(!r.ok ? r.error.message : '', message);
  assert.deepEqual(view.changes(), [], 'a refused report changes no state');
  c.try(tx); // give the nonce back
}

describe('down reports', () => {
  it('devnet needs 2 reporters within 10 blocks', () => {
    assert.equal(quorum, 2);
    assert.equal(window, 10);
  });

  it('encodes target then reporter', () => {
    const p = NodeDownPayload.deserialize(encodeNodeDown(A, B));
    assert.deepEqual(
      [Buffer.from(p.target).toString('hex'), Buffer.from(p.reporter).toString('hex')],
      [A, B],
    );
  });

  it('a report below the quorum is recorded and does nothing else', () => {
    const c = new TestChain(params);
    c.block([c.down(ops[1], A, B)]);
    assert.deepEqual(downReportsOf(c.state, A), [{ reporter: B, height: 1 }]);
    assert.equal(isNodeDown(getNode(c.state, A)!), false);
    assert.ok(placed(c).includes(A));
    assert.ok(payoutQueueIds(c.state, 'cumulus').includes(A));
    // the same reporter again replaces its own report: still one reporter
    c.block([c.down(ops[1], A, B)]);
    assert.deepEqual(downReportsOf(c.state, A), [{ reporter: B, height: 2 }]);
    assert.equal(getNode(c.state, A)!.downSince, 0);
  });

  it('a quorum of reporters marks the node down: out of placement and of the payout queue', () => {
    const c = new TestChain(params);
    c.block([c.down(ops[1], A, B)]);
    c.block([c.down(ops[2], A, C)]);
    const node = getNode(c.state, A)!;
    assert.equal(node.downSince, 2);
    assert.equal(node.status, NodeStatus.confirmed);
    assert.ok(isNodeDown(node));
    assert.deepEqual(downReportsOf(c.state, A), [], 'the reports are deleted');
    assert.deepEqual(placed(c).sort(), [B, C, D].sort());
    assert.ok(!payoutQueueIds(c.state, 'cumulus').includes(A));
    const payouts = node.payouts;
    c.until(10);
    assert.equal(getNode(c.state, A)!.payouts, payouts, 'a down node gets no block reward');
  });

  it('two reports in one block reach the quorum', () => {
    const c = new TestChain(params);
    c.block([c.down(ops[1], A, B), c.down(ops[3], A, D)]);
    assert.equal(getNode(c.state, A)!.downSince, 1);
  });

  it('reports older than the window do not count', () => {
    const c = new TestChain(params);
    c.block([c.down(ops[1], A, B)]); // height 1
    c.until(window); // the next block is at 1 + window: the report at 1 is out of it
    c.block([c.down(ops[2], A, C)]);
    assert.equal(getNode(c.state, A)!.downSince, 0);
    assert.deepEqual(
      downReportsOf(c.state, A),
      [{ reporter: C, height: 1 + window }],
      'the stale one is dropped',
    );
    // a fresh report within the window of C's makes the quorum
    c.block([c.down(ops[1], A, B)]);
    assert.equal(getNode(c.state, A)!.downSince, 2 + window);
  });

  it('refuses bad reports and changes nothing', () => {
    const c = new TestChain(params);
    refused(c, c.down(ops[2], A, B), 'NOT_AUTHORIZED', /reports with operator key/);
    refused(c, c.down(owner, A, B), 'NOT_AUTHORIZED', /reports with operator key/);
    refused(c, c.down(ops[1], B, B), 'BAD_NODE_STATE', /cannot report itself/);
    refused(c, c.down(ops[1], '00'.repeat(32), B), 'NODE_NOT_FOUND', /no target FluxNode/);
    refused(c, c.down(ops[1], A, 'ab'.repeat(32)), 'NODE_NOT_FOUND', /no reporter FluxNode/);
    // a started (unconfirmed) node neither reports nor is reported
    const operator = filledKey(20);
    c.block([c.start(owner, operator, 'cumulus')]);
    const started = nodeIdOf(addressBytes(owner.publicKey), 0);
    refused(c, c.down(operator, A, started), 'NOT_AUTHORIZED', /reporter .* is started/);
    refused(c, c.down(ops[1], started, B), 'BAD_NODE_STATE', /is started, not confirmed/);
    // a down node is not reported again, and does not report
    c.block([c.down(ops[1], A, B), c.down(ops[2], A, C)]);
    assert.ok(isNodeDown(getNode(c.state, A)!));
    refused(c, c.down(ops[3], A, D), 'BAD_NODE_STATE', /already down since height 2/);
    refused(c, c.down(ops[0], B, A), 'NOT_AUTHORIZED', /is itself down since height 2/);
  });

  it('a report from a reporter that went down since no longer counts', () => {
    const c = new TestChain(params);
    c.block([c.down(ops[1], A, B)]); // B reports A
    c.block([c.down(ops[0], B, A), c.down(ops[2], B, C)]); // A and C mark B down
    assert.ok(isNodeDown(getNode(c.state, B)!));
    c.block([c.down(ops[3], A, D)]); // D's report alone is not a quorum without B's
    assert.equal(getNode(c.state, A)!.downSince, 0);
  });

  it('a down node comes back by confirming, at any height before it expires', () => {
    const c = new TestChain(params);
    c.block([c.down(ops[1], A, B), c.down(ops[2], A, C)]);
    assert.ok(isNodeDown(getNode(c.state, A)!));
    c.block([c.down(ops[3], B, D)]); // a pending report against B
    // height 3 is far before A's confirmation window (genesis confirmation, period 1000)
    c.block([c.confirm(ops[0], A)]);
    const back = getNode(c.state, A)!;
    assert.equal(back.downSince, 0);
    assert.equal(back.confirmations, 2);
    assert.equal(back.expiresAt, 3 + params.nodes.confirmPeriod);
    assert.ok(placed(c).includes(A));
    assert.ok(payoutQueueIds(c.state, 'cumulus').includes(A), 'back in the payout queue');
    // a node that is not down still cannot confirm before its window
    const early = c.try(c.confirm(ops[1], B));
    assert.equal(!early.ok && early.error.code, 'BAD_NODE_STATE');
    // reports against a node that confirmed are dropped
    c.block([c.down(ops[1], A, B)]);
    assert.equal(downReportsOf(c.state, A).length, 1);
  });

  it('a down node that does not confirm expires as usual', () => {
    const p = paramsWithNodes([owner], ops, { confirmPeriod: 12 });
    const c = new TestChain(p);
    c.block([c.down(ops[1], A, B), c.down(ops[2], A, C)]);
    // the others confirm in their window; A does not
    c.until(12 - p.nodes.confirmWindow);
    c.block([c.confirm(ops[1], B), c.confirm(ops[2], C), c.confirm(ops[3], D)]);
    c.until(12);
    const node = getNode(c.state, A)!;
    assert.equal(node.status, NodeStatus.expired);
    assert.equal(isNodeDown(node), false);
    assert.ok(!payoutQueueIds(c.state, 'cumulus').includes(A));
    assert.equal(payoutQueueIds(c.state, 'cumulus').length, 3);
  });
});
