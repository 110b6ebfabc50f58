import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  encodeAppCancel,
  encodeAppExtend,
  encodeAppRegister,
  encodeAppUpdate,
} from '../../../src/core/apps/handlers.ts';
import { appPrice } from '../../../src/core/apps/price.ts';
import { type AppSpec, validateAppSpec } from '../../../src/core/apps/spec.ts';
import { getApp, getAppEscrow } from '../../../src/core/apps/types.ts';
import { TxKind } from '../../../src/core/codec/types.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { accounts, supply } from '../../../src/core/ledger/state.ts';
import { encodeTransfer } from '../../../src/core/ledger/tx.ts';
import { getNode } from '../../../src/core/nodes/queries.ts';
import { createParams, mainnet } from '../../../src/core/params/index.ts';
import { filledKey, idOf } from '../../support/keys.ts';
import type { MemoryState } from '../../support/state.ts';
import { genesisIds, nodeParams, paramsWithNodes, TestChain } from '../nodes/helpers.ts';
import { GOOD } from './fixtures.ts';

const params = nodeParams([filledKey(1), filledKey(2)]);
/** No FluxNodes and no payout in sight: escrow arithmetic alone. */
const noPayouts = createParams(params, { apps: { ...params.apps, payoutInterval: 1_000_000 } });
const FEE = 100_000n;

function spec(over: Partial<AppSpec> = {}, env = 'hi'): AppSpec {
  const r = validateAppSpec({ ...structuredClone(GOOD), ...over }, params);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  r.spec.components[0].env.GREETING = env;
  return r.spec;
}

function balance(c: TestChain, i: number): bigint {
  return accounts.decode(c.state.get(accounts.prefix + idOf(filledKey(i)))!).balance;
}

function checkInvariant(state: MemoryState): void {
  let total = 0n;
  for (const [, v] of state.scan(accounts.prefix, Number.MAX_SAFE_INTEGER)) {
    const a = accounts.decode(v);
    total += a.balance + a.locked;
  }
  const e = getAppEscrow(state);
  const minted = supply.decode(state.get(supply.prefix)!).minted;
  assert.equal(total + e.held + e.earned, minted, 'balances + locked + app escrow == minted');
  let held = 0n;
  let owed = 0n;
  for (const [k] of state.scan('app/', 1e9)) {
    const app = getApp(state, k.slice(4))!;
    held += app.escrow;
    owed += app.owed;
  }
  assert.equal(held, e.held, 'escrow.held is the sum of the apps’ escrow');
  assert.equal(owed, e.earned, 'escrow.earned is the sum of what the apps owe their hosts');
}

describe('app price', () => {
  it('is itemised and adds up', () => {
    const s = spec();
    const p = appPrice(s, mainnet.apps);
    const per = mainnet.apps.price;
    // 2 instances x 1000 blocks
    assert.equal(p.items.cpu, 1n * per.cpuTenth * 2n * 1000n);
    assert.equal(p.items.ram, 64n * per.ramMb * 2n * 1000n);
    assert.equal(p.items.hdd, 1n * per.hddGb * 2n * 1000n);
    assert.equal(p.items.ports, 1n * per.port * 2n * 1000n);
    assert.equal(p.items.instances, per.instance * 2n * 1000n);
    assert.equal(
      p.total,
      Object.values(p.items).reduce((a, b) => a + b, 0n),
    );
    assert.equal(p.perBlock * 1000n, p.total);
    assert.equal(appPrice(s, mainnet.apps, 10).total, p.perBlock * 10n);
  });
});

describe('app transactions', () => {
  it('registers, updates, extends and cancels with escrow and refunds', () => {
    const c = new TestChain(noPayouts);
    const owner = filledKey(1);
    const s = spec();
    const price = appPrice(s, params.apps);
    const before = balance(c, 1);
    c.block([c.tx(owner, TxKind.appRegister, encodeAppRegister(s))]);
    assert.equal(balance(c, 1), before - price.total - FEE);
    const app = getApp(c.state, s.name)!;
    assert.equal(app.expiresAt, 1 + 1000);
    assert.equal(app.revision, 1);
    checkInvariant(c.state);

    // the name is taken
    assert.equal(c.try(c.tx(filledKey(2), TxKind.appRegister, encodeAppRegister(s))).ok, false);
    // only the owner updates or cancels
    const stranger = c.try(c.tx(filledKey(2), TxKind.appCancel, encodeAppCancel(s.name)));
    assert.ok(!stranger.ok && stranger.error.code === 'NOT_AUTHORIZED');

    // update at height 11 to twice the ram: pays the difference for the 990 blocks left
    c.until(10);
    const bigger = spec({}, 'new');
    bigger.components[0].ram = 128;
    const newPrice = appPrice(bigger, params.apps);
    const b1 = balance(c, 1);
    c.block([c.tx(owner, TxKind.appUpdate, encodeAppUpdate(bigger))]);
    const left = 1001n - 11n;
    assert.equal(balance(c, 1), b1 - (newPrice.perBlock - price.perBlock) * left - FEE);
    assert.equal(getApp(c.state, s.name)!.revision, 2);
    checkInvariant(c.state);

    // anyone may extend
    const b2 = balance(c, 2);
    c.block([c.tx(filledKey(2), TxKind.appExtend, encodeAppExtend(s.name, 50))]);
    assert.equal(balance(c, 2), b2 - newPrice.perBlock * 50n - FEE);
    assert.equal(getApp(c.state, s.name)!.expiresAt, 1051);
    checkInvariant(c.state);

    // cancel at height 13: refund of the unused blocks; and as no payout ever found it a host,
    // what it consumed (10 blocks at the first price, 2 at the second) returns too
    assert.equal(getApp(c.state, s.name)!.owed, price.perBlock * 10n + newPrice.perBlock);
    const b3 = balance(c, 1);
    c.block([c.tx(owner, TxKind.appCancel, encodeAppCancel(s.name))]);
    const owed = price.perBlock * 10n + newPrice.perBlock * 2n;
    assert.equal(balance(c, 1), b3 + newPrice.perBlock * (1051n - 13n) + owed - FEE);
    assert.equal(getApp(c.state, s.name), undefined);
    checkInvariant(c.state);
    assert.equal(getAppEscrow(c.state).held, 0n);
  });

  it('expires an app at its height and frees the name', () => {
    const c = new TestChain(params);
    const s = spec({ expiryBlocks: 10 });
    const before = balance(c, 1);
    c.block([c.tx(filledKey(1), TxKind.appRegister, encodeAppRegister(s))]);
    c.until(10);
    assert.ok(getApp(c.state, s.name));
    c.block();
    assert.equal(getApp(c.state, s.name), undefined);
    assert.deepEqual(getAppEscrow(c.state), { held: 0n, earned: 0n });
    assert.equal(balance(c, 1), before - FEE, 'with no FluxNode to host it, the owner paid only the fee');
    checkInvariant(c.state);
    c.block([c.tx(filledKey(2), TxKind.appRegister, encodeAppRegister(s))]);
    assert.ok(getApp(c.state, s.name));
  });

  it('refuses an update that the balance cannot pay, and changes nothing', () => {
    const c = new TestChain(params);
    c.block([c.tx(filledKey(1), TxKind.appRegister, encodeAppRegister(spec()))]);
    // leave the owner 1000 base units after the next fee
    const left = balance(c, 1) - 2n * FEE - 1000n;
    c.block([
      c.tx(filledKey(1), TxKind.transfer, encodeTransfer(addressBytes(filledKey(2).publicKey), left)),
    ]);
    const bigger = spec({ instances: 4 });
    const before = getApp(c.state, 'hello-web');
    const r = c.try(c.tx(filledKey(1), TxKind.appUpdate, encodeAppUpdate(bigger)));
    assert.ok(!r.ok && r.error.code === 'INSUFFICIENT_FUNDS', r.ok ? 'applied' : r.error.message);
    assert.deepEqual(getApp(c.state, 'hello-web'), before);
  });

  it('keeps balances + locked + escrow == minted through random app transactions, payouts and down reports', () => {
    const names = ['app-a', 'app-b', 'app-c'];
    // 4 FluxNodes to host, a payout every 3 blocks (so settlements between payouts accumulate)
    const ops = [filledKey(10), filledKey(11), filledKey(12), filledKey(13)];
    const withNodes = paramsWithNodes([filledKey(1), filledKey(2), filledKey(3)], ops, { payoutInterval: 3 });
    const ids = genesisIds(ops.length);
    const seen = { paid: 0, down: 0 };
    const action = fc.record({
      kind: fc.constantFrom('register', 'update', 'extend', 'cancel', 'down', 'confirm'),
      who: fc.nat(1),
      node: fc.nat(3),
      target: fc.nat(3),
      app: fc.nat(2),
      ram: fc.constantFrom(16, 64, 512),
      instances: fc.integer({ min: 1, max: 4 }),
      blocks: fc.integer({ min: 10, max: 40 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(action, { maxLength: 3 }), { minLength: 1, maxLength: 30 }), (blocks) => {
        const c = new TestChain(withNodes);
        for (const actions of blocks) {
          const ok = [];
          for (const a of actions) {
            if (a.kind === 'down') {
              ok.push(c.down(ops[a.node], ids[a.target], ids[a.node]));
              continue;
            }
            if (a.kind === 'confirm') {
              ok.push(c.confirm(ops[a.target], ids[a.target]));
              continue;
            }
            const k = filledKey(a.who + 1);
            const s = spec({ name: names[a.app], instances: a.instances, expiryBlocks: a.blocks });
            s.components[0].ram = a.ram;
            const payload =
              a.kind === 'register'
                ? [TxKind.appRegister, encodeAppRegister(s)]
                : a.kind === 'update'
                  ? [TxKind.appUpdate, encodeAppUpdate(s)]
                  : a.kind === 'extend'
                    ? [TxKind.appExtend, encodeAppExtend(s.name, a.blocks)]
                    : [TxKind.appCancel, encodeAppCancel(s.name)];
            ok.push(c.tx(k, payload[0] as number, payload[1] as Uint8Array));
          }
          // Apply one at a time so a refused transaction is left out (its sender's nonce reused).
          for (const tx of ok) {
            const r = c.try(tx);
            if (r.ok) c.block([tx]);
          }
          c.block();
          checkInvariant(c.state);
        }
        for (const id of ids) {
          const node = getNode(c.state, id)!;
          if (node.appEarned > 0n) seen.paid++;
          if (node.downSince > 0 || node.confirmations > 1) seen.down++;
        }
      }),
      {
        numRuns: 60,
        // One run that surely registers an app and reports a node down by a quorum, so the
        // coverage check below does not hang on the luck of the random runs.
        examples: [
          [
            [
              [
                { kind: 'register', who: 0, node: 0, target: 0, app: 0, ram: 16, instances: 4, blocks: 40 },
                { kind: 'down', who: 0, node: 0, target: 3, app: 0, ram: 16, instances: 1, blocks: 10 },
                { kind: 'down', who: 0, node: 1, target: 3, app: 0, ram: 16, instances: 1, blocks: 10 },
              ],
              [],
              [],
              [],
            ],
          ],
        ],
      },
    );
    assert.ok(seen.paid > 0 && seen.down > 0, `runs paid hosts ${seen.paid}, saw down marks ${seen.down}`);
  });
});
