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
import { mainnet } from '../../../src/core/params/index.ts';
import { idOf, key, type MemoryState, nodeParams, TestChain } from '../nodes/helpers.ts';
import { GOOD } from './fixtures.ts';

const params = nodeParams([key(1), key(2)]);
const FEE = 100_000n;

function spec(over: Partial<AppSpec> = {}, env = 'hi'): AppSpec {
  const r = validateAppSpec({ ...structuredClone(GOOD), ...over }, params);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  r.spec.components[0].env.GREETING = env;
  return r.spec;
}

function balance(c: TestChain, i: number): bigint {
  return accounts.decode(c.state.get(accounts.prefix + idOf(key(i)))!).balance;
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
  for (const [k] of state.scan('app/', 1e9)) held += getApp(state, k.slice(4))!.escrow;
  assert.equal(held, e.held, 'escrow.held is the sum of the apps’ escrow');
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
    const c = new TestChain(params);
    const owner = key(1);
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
    assert.equal(c.try(c.tx(key(2), TxKind.appRegister, encodeAppRegister(s))).ok, false);
    // only the owner updates or cancels
    const stranger = c.try(c.tx(key(2), TxKind.appCancel, encodeAppCancel(s.name)));
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
    c.block([c.tx(key(2), TxKind.appExtend, encodeAppExtend(s.name, 50))]);
    assert.equal(balance(c, 2), b2 - newPrice.perBlock * 50n - FEE);
    assert.equal(getApp(c.state, s.name)!.expiresAt, 1051);
    checkInvariant(c.state);

    // cancel at height 13: refund of the unused blocks
    const b3 = balance(c, 1);
    c.block([c.tx(owner, TxKind.appCancel, encodeAppCancel(s.name))]);
    assert.equal(balance(c, 1), b3 + newPrice.perBlock * (1051n - 13n) - FEE);
    assert.equal(getApp(c.state, s.name), undefined);
    checkInvariant(c.state);
    assert.equal(getAppEscrow(c.state).held, 0n);
  });

  it('expires an app at its height and frees the name', () => {
    const c = new TestChain(params);
    const s = spec({ expiryBlocks: 10 });
    c.block([c.tx(key(1), TxKind.appRegister, encodeAppRegister(s))]);
    c.until(10);
    assert.ok(getApp(c.state, s.name));
    c.block();
    assert.equal(getApp(c.state, s.name), undefined);
    assert.equal(getAppEscrow(c.state).earned, appPrice(s, params.apps).total);
    checkInvariant(c.state);
    c.block([c.tx(key(2), TxKind.appRegister, encodeAppRegister(s))]);
    assert.ok(getApp(c.state, s.name));
  });

  it('refuses an update that the balance cannot pay, and changes nothing', () => {
    const c = new TestChain(params);
    c.block([c.tx(key(1), TxKind.appRegister, encodeAppRegister(spec()))]);
    // leave the owner 1000 base units after the next fee
    const left = balance(c, 1) - 2n * FEE - 1000n;
    c.block([c.tx(key(1), TxKind.transfer, encodeTransfer(addressBytes(key(2).publicKey), left))]);
    const bigger = spec({ instances: 4 });
    const before = getApp(c.state, 'hello-web');
    const r = c.try(c.tx(key(1), TxKind.appUpdate, encodeAppUpdate(bigger)));
    assert.ok(!r.ok && r.error.code === 'INSUFFICIENT_FUNDS', r.ok ? 'applied' : r.error.message);
    assert.deepEqual(getApp(c.state, 'hello-web'), before);
  });

  it('keeps balances + locked + escrow == minted through random app transactions', () => {
    const names = ['app-a', 'app-b', 'app-c'];
    const action = fc.record({
      kind: fc.constantFrom('register', 'update', 'extend', 'cancel'),
      who: fc.nat(1),
      app: fc.nat(2),
      ram: fc.constantFrom(16, 64, 512),
      instances: fc.integer({ min: 1, max: 4 }),
      blocks: fc.integer({ min: 10, max: 40 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(action, { maxLength: 3 }), { minLength: 1, maxLength: 30 }), (blocks) => {
        const c = new TestChain(params);
        for (const actions of blocks) {
          const ok = [];
          for (const a of actions) {
            const k = key(a.who + 1);
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
      }),
      { numRuns: 60 },
    );
  });
});
