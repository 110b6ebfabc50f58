import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Tx } from '../../../src/core/codec/types.ts';
import { TxKind } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { TIERS } from '../../../src/core/ledger/emission.ts';
import { accounts, StateOverlay, supply } from '../../../src/core/ledger/state.ts';
import { encodeTransfer } from '../../../src/core/ledger/tx.ts';
import { confirmFrom, genesisNodeId, nodeIdOf } from '../../../src/core/nodes/lifecycle.ts';
import { getNode, listNodes } from '../../../src/core/nodes/queries.ts';
import { NodeStatus } from '../../../src/core/nodes/types.ts';
import { COIN } from '../../../src/core/params/index.ts';
import { applyTx } from '../../../src/core/transition/tx.ts';
import { filledKey, idOf } from '../../support/keys.ts';
import type { MemoryState } from '../../support/state.ts';
import { nodeParams, TestChain } from './helpers.ts';

function checkInvariant(state: MemoryState): void {
  let balances = 0n;
  let locked = 0n;
  for (const [, v] of state.scan(accounts.prefix, Number.MAX_SAFE_INTEGER)) {
    const a = accounts.decode(v);
    balances += a.balance;
    locked += a.locked;
  }
  const s = supply.decode(state.get(supply.prefix)!);
  assert.equal(balances + locked, s.minted, 'balances + locked == minted');
  assert.equal(locked, s.locked, 'supply.locked is the sum of locked collateral');
}

describe('FluxNode properties', () => {
  it('keeps balances + locked == minted through random starts, confirms, stops, transfers and expiries', () => {
    const owners = [filledKey(1), filledKey(2), filledKey(3)];
    const operators = [
      filledKey(11),
      filledKey(12),
      filledKey(13),
      filledKey(14),
      filledKey(15),
      filledKey(16),
    ];
    const params = nodeParams(owners);
    const action = fc.record({
      kind: fc.constantFrom('start', 'confirm', 'stop', 'transfer'),
      who: fc.nat(owners.length - 1),
      op: fc.nat(operators.length - 1),
      tier: fc.constantFrom(...TIERS),
      amount: fc.bigInt({ min: 1n, max: 60_000n * COIN }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(action, { maxLength: 4 }), { minLength: 5, maxLength: 40 }), (blocks) => {
        const c = new TestChain(params);
        const started: Array<{ id: string; owner: number; op: number }> = [];
        for (const actions of blocks) {
          const view = new StateOverlay(c.state);
          const txs: Tx[] = [];
          const height = c.height + 1;
          for (const a of actions) {
            let tx: Tx;
            const owner = owners[a.who];
            if (a.kind === 'start') tx = c.start(owner, operators[a.op], a.tier);
            else if (a.kind === 'transfer')
              tx = c.tx(
                owner,
                TxKind.transfer,
                encodeTransfer(addressBytes(operators[a.op].publicKey), a.amount),
              );
            else {
              const n = started[a.op % Math.max(1, started.length)];
              if (!n) continue;
              tx = a.kind === 'confirm' ? c.confirm(operators[n.op], n.id) : c.stop(owners[n.owner], n.id);
            }
            const r = applyTx(view, tx, { params, height });
            if (r.ok) {
              txs.push(tx);
              if (a.kind === 'start')
                started.push({
                  id: nodeIdOf(addressBytes(owner.publicKey), tx.body.nonce),
                  owner: a.who,
                  op: a.op,
                });
            } else c.try(tx); // gives the nonce back
          }
          c.block(txs);
          checkInvariant(c.state);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('pays every confirmed node of a tier once per rotation, and never an expired one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.option(fc.integer({ min: 1, max: 45 }), { nil: undefined }), {
          minLength: 7,
          maxLength: 7,
        }),
        (count, deaths) => {
          const owner = filledKey(1);
          const operators = Array.from({ length: count }, (_, i) => filledKey(20 + i));
          const params = nodeParams([owner, ...operators]);
          params.genesis.nodes = operators.map((op, i) => ({
            owner: idOf(owner),
            operator: toHex(op.publicKey),
            tier: 'cumulus' as const,
            endpoint: `10.0.0.${i + 1}:16127`,
          }));
          const c = new TestChain(params);
          const ids = operators.map((_, i) => genesisNodeId(i));
          const lastPaid = new Map<string, number>();
          const rotation = new Map<string, number>();
          for (let h = 1; h <= 60; h++) {
            const txs: Tx[] = [];
            for (let i = 0; i < count; i++) {
              const node = getNode(c.state, ids[i])!;
              const dead = deaths[i] !== undefined && h >= deaths[i]!;
              if (!dead && node.status === NodeStatus.confirmed && h === confirmFrom(node, params))
                txs.push(c.confirm(operators[i], ids[i]));
            }
            const before = new Map(ids.map((id) => [id, getNode(c.state, id)!]));
            const confirmedBefore = ids.filter((id) => before.get(id)!.status === NodeStatus.confirmed);
            c.block(txs);
            const paid = ids.filter((id) => getNode(c.state, id)!.payouts > before.get(id)!.payouts);
            const active = listNodes(c.state, (n) => n.status === NodeStatus.confirmed).map((e) => e.id);
            assert.ok(paid.length <= 1, 'one node per tier per block');
            if (active.length > 0) assert.equal(paid.length, 1, 'a tier with a confirmed node pays one');
            for (const id of paid) {
              assert.ok(active.includes(id), `paid node ${id.slice(0, 8)} is confirmed`);
              assert.ok(confirmedBefore.includes(id) || before.get(id)!.status === NodeStatus.started);
              lastPaid.set(id, h);
            }
            // Round robin: nobody confirmed waits longer than one pass over the nodes that were
            // confirmed meanwhile.
            for (const id of active) {
              const widest = Math.max(rotation.get(id) ?? 0, confirmedBefore.length);
              const since = lastPaid.get(id) ?? 0;
              assert.ok(h - since <= widest, `node waited ${h - since} blocks, rotation is ${widest}`);
              rotation.set(id, paid.includes(id) ? 0 : widest);
            }
          }
          for (let i = 0; i < count; i++) {
            const node = getNode(c.state, ids[i])!;
            if (node.status === NodeStatus.expired || node.status === NodeStatus.closed)
              assert.ok((lastPaid.get(ids[i]) ?? 0) < node.expiresAt, 'never paid at or after expiry');
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
