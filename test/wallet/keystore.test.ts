import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { toHex } from '../../src/core/crypto/hash.ts';
import { deriveKeyPair } from '../../src/core/crypto/hd.ts';
import { addressBytes } from '../../src/core/crypto/keys.ts';
import { DEVNET_MNEMONIC } from '../../src/core/params/index.ts';
import {
  addAccount,
  createKeystore,
  DEFAULT_SCRYPT,
  generateMnemonic,
  keystorePath,
  loadKeystore,
  unlockAccount,
  unlockMnemonic,
  type WalletError,
} from '../../src/wallet/keystore.ts';

const FAST = { N: 1 << 10, r: 8, p: 1 };
const root = mkdtempSync(join(tmpdir(), 'openflux-keystore-'));
let n = 0;
const freshDir = () => join(root, `w${n++}`);

describe('wallet keystore', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('round-trips the mnemonic and derives the same accounts', async () => {
    const dir = freshDir();
    const mnemonic = generateMnemonic();
    assert.equal(mnemonic.split(' ').length, 24);
    const store = await createKeystore({
      dir,
      mnemonic,
      password: 'pw',
      network: 'devnet',
      accounts: 3,
      scrypt: FAST,
    });
    assert.deepEqual(
      store.accounts.map((a) => a.index),
      [0, 1, 2],
    );
    const loaded = await loadKeystore(dir);
    assert.deepEqual(loaded, store);
    assert.equal(await unlockMnemonic(loaded, 'pw'), mnemonic);
    const key = await unlockAccount(loaded, 'pw', 2);
    assert.deepEqual(key.publicKey, deriveKeyPair(mnemonic, 0, 2).publicKey);
    assert.equal(loaded.accounts[2].address, toHex(addressBytes(key.publicKey)));
  });

  it('never stores the mnemonic in the clear', async () => {
    const dir = freshDir();
    await createKeystore({ dir, mnemonic: DEVNET_MNEMONIC, password: 'pw', network: 'devnet', scrypt: FAST });
    const text = readFileSync(keystorePath(dir), 'utf8');
    assert.doesNotMatch(text, /test test/);
    assert.doesNotMatch(text, /junk/);
  });

  it('writes the keystore with mode 0600 and its directory 0700', async () => {
    const dir = freshDir();
    await createKeystore({ dir, mnemonic: DEVNET_MNEMONIC, password: 'pw', network: 'devnet', scrypt: FAST });
    assert.equal(statSync(keystorePath(dir)).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    await addAccount(dir, 'pw');
    assert.equal(statSync(keystorePath(dir)).mode & 0o777, 0o600);
  });

  it('refuses a wrong password with a clear error', async () => {
    const dir = freshDir();
    const store = await createKeystore({
      dir,
      mnemonic: DEVNET_MNEMONIC,
      password: 'right',
      network: 'devnet',
      scrypt: FAST,
    });
    await assert.rejects(unlockMnemonic(store, 'wrong'), (e: WalletError) => {
      assert.equal(e.code, 'WRONG_PASSWORD');
      assert.match(e.message, /wrong password/);
      return true;
    });
    await assert.rejects(unlockAccount(store, 'wrong', 0), { code: 'WRONG_PASSWORD' });
    await assert.rejects(addAccount(dir, 'wrong'), { code: 'WRONG_PASSWORD' });
    assert.equal((await loadKeystore(dir)).accounts.length, 1);
  });

  it('detects tampering with the KDF settings', async () => {
    const dir = freshDir();
    await createKeystore({ dir, mnemonic: DEVNET_MNEMONIC, password: 'pw', network: 'devnet', scrypt: FAST });
    const file = JSON.parse(readFileSync(keystorePath(dir), 'utf8'));
    file.kdf.N = 1 << 11;
    writeFileSync(keystorePath(dir), JSON.stringify(file));
    await assert.rejects(unlockMnemonic(await loadKeystore(dir), 'pw'), { code: 'WRONG_PASSWORD' });
  });

  it('adds accounts at the next index', async () => {
    const dir = freshDir();
    await createKeystore({ dir, mnemonic: DEVNET_MNEMONIC, password: 'pw', network: 'devnet', scrypt: FAST });
    const a1 = await addAccount(dir, 'pw');
    const a2 = await addAccount(dir, 'pw');
    assert.deepEqual([a1.index, a2.index], [1, 2]);
    assert.equal(a2.address, toHex(addressBytes(deriveKeyPair(DEVNET_MNEMONIC, 0, 2).publicKey)));
    await assert.rejects(unlockAccount(await loadKeystore(dir), 'pw', 7), { code: 'NO_ACCOUNT' });
  });

  it('refuses a bad mnemonic, an empty password, overwriting, and a missing wallet', async () => {
    const dir = freshDir();
    await assert.rejects(
      createKeystore({ dir, mnemonic: 'test test test', password: 'pw', network: 'devnet', scrypt: FAST }),
      { code: 'BAD_MNEMONIC' },
    );
    await assert.rejects(
      createKeystore({ dir, mnemonic: DEVNET_MNEMONIC, password: '', network: 'devnet', scrypt: FAST }),
      { code: 'BAD_PASSWORD' },
    );
    await createKeystore({ dir, mnemonic: DEVNET_MNEMONIC, password: 'pw', network: 'devnet', scrypt: FAST });
    await assert.rejects(
      createKeystore({ dir, mnemonic: generateMnemonic(), password: 'pw', network: 'devnet', scrypt: FAST }),
      { code: 'WALLET_EXISTS' },
    );
    await assert.rejects(
      loadKeystore(freshDir()),
      (e: WalletError) => e.code === 'NO_WALLET' && /flux wallet create/.test(e.message),
    );
  });

  it('uses strong scrypt settings by default', async () => {
    const dir = freshDir();
    const start = performance.now();
    const store = await createKeystore({ dir, mnemonic: DEVNET_MNEMONIC, password: 'pw', network: 'devnet' });
    assert.equal(store.kdf.N, DEFAULT_SCRYPT.N);
    assert.equal(await unlockMnemonic(store, 'pw'), DEVNET_MNEMONIC);
    const ms = performance.now() - start;
    assert.ok(ms < 5000, `create + unlock took ${ms} ms`);
  });
});
