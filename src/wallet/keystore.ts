// The wallet keystore: one BIP39 mnemonic per wallet directory, encrypted at rest with a key
// derived from the password by scrypt and sealed with AES-256-GCM. Account addresses and public
// keys are kept in the clear beside it, so listing and balances need no password.
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toHex } from '../core/crypto/hash.ts';
import { deriveKeyPair, isValidMnemonic, mnemonicFromEntropy, normalizeMnemonic } from '../core/crypto/hd.ts';
import { addressBytes, type KeyPair } from '../core/crypto/keys.ts';
import type { NetworkName } from '../core/params/index.ts';

export const KEYSTORE_FILE = 'keystore.json';
const VERSION = 1;
/** Bound into the ciphertext so a file edited to other KDF settings fails to open. */
const AAD_PREFIX = 'openflux-keystore-v1';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** 2^17: about 128 MiB and a few hundred ms per unlock. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 17, r: 8, p: 1 };

export interface WalletAccount {
  /** Derivation index: m/44'/19167'/0'/0'/index'. */
  index: number;
  /** 20-byte account id, hex. */
  address: string;
  publicKey: string;
}

export interface KeystoreFile {
  version: number;
  network: NetworkName;
  kdf: { name: 'scrypt'; salt: string } & ScryptParams;
  cipher: { name: 'aes-256-gcm'; iv: string; tag: string };
  /** The encrypted mnemonic, hex. */
  ciphertext: string;
  accounts: WalletAccount[];
}

export type WalletErrorCode =
  | 'NO_WALLET'
  | 'WALLET_EXISTS'
  | 'WRONG_PASSWORD'
  | 'BAD_MNEMONIC'
  | 'BAD_PASSWORD'
  | 'CORRUPT'
  | 'NO_ACCOUNT';

/** A wallet operation that failed, with a code and a message saying what to do. */
export class WalletError extends Error {
  readonly code: WalletErrorCode;
  constructor(code: WalletErrorCode, message: string) {
    super(message);
    this.name = 'WalletError';
    this.code = code;
  }
}

export function keystorePath(dir: string): string {
  return join(dir, KEYSTORE_FILE);
}

/** A fresh 24-word mnemonic from the system's randomness. */
export function generateMnemonic(): string {
  return mnemonicFromEntropy(new Uint8Array(randomBytes(32)));
}

function scrypt(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(
      password.normalize('NFKC'),
      salt,
      32,
      { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 64 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

function aad(k: KeystoreFile['kdf']): Buffer {
  return Buffer.from(`${AAD_PREFIX}/${k.N}/${k.r}/${k.p}/${k.salt}`);
}

function accountFor(mnemonic: string, index: number): WalletAccount {
  const key = deriveKeyPair(mnemonic, 0, index);
  return { index, address: toHex(addressBytes(key.publicKey)), publicKey: toHex(key.publicKey) };
}

export interface CreateKeystoreOptions {
  dir: string;
  mnemonic: string;
  password: string;
  network: NetworkName;
  /** How many accounts (indexes 0..n-1) to derive at once; default 1. */
  accounts?: number;
  scrypt?: ScryptParams;
}

/** Writes a new keystore (mode 0600, directory 0700); refuses to overwrite an existing one. */
export async function createKeystore(opts: CreateKeystoreOptions): Promise<KeystoreFile> {
  const mnemonic = normalizeMnemonic(opts.mnemonic);
  if (!isValidMnemonic(mnemonic)) {
    throw new WalletError(
      'BAD_MNEMONIC',
      'not a valid BIP39 mnemonic (check the words, their spelling and order)',
    );
  }
  if (opts.password.length === 0) throw new WalletError('BAD_PASSWORD', 'the password must not be empty');
  const file = keystorePath(opts.dir);
  if (await exists(file)) {
    throw new WalletError(
      'WALLET_EXISTS',
      `a wallet already exists at ${file}; use another --wallet-dir (or FLUX_WALLET_DIR) for a second one`,
    );
  }
  const params = opts.scrypt ?? DEFAULT_SCRYPT;
  const salt = randomBytes(16);
  const kdf = { name: 'scrypt' as const, salt: salt.toString('hex'), ...params };
  const key = await scrypt(opts.password, salt, params);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(kdf));
  const ciphertext = Buffer.concat([cipher.update(mnemonic, 'utf8'), cipher.final()]);
  const count = opts.accounts ?? 1;
  const store: KeystoreFile = {
    version: VERSION,
    network: opts.network,
    kdf,
    cipher: { name: 'aes-256-gcm', iv: iv.toString('hex'), tag: cipher.getAuthTag().toString('hex') },
    ciphertext: ciphertext.toString('hex'),
    accounts: Array.from({ length: count }, (_, i) => accountFor(mnemonic, i)),
  };
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  await writeKeystore(opts.dir, store);
  return store;
}

/** Reads the public part of the keystore (no password needed). */
export async function loadKeystore(dir: string): Promise<KeystoreFile> {
  const file = keystorePath(dir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new WalletError(
        'NO_WALLET',
        `no wallet at ${file}; create one with 'flux wallet create' or 'flux wallet import'`,
      );
    }
    throw e;
  }
  let store: KeystoreFile;
  try {
    store = JSON.parse(text) as KeystoreFile;
  } catch {
    throw new WalletError('CORRUPT', `${file} is not valid JSON`);
  }
  if (store.version !== VERSION || store.kdf?.name !== 'scrypt' || store.cipher?.name !== 'aes-256-gcm') {
    throw new WalletError('CORRUPT', `${file} is not an OpenFlux keystore version ${VERSION}`);
  }
  return store;
}

/** Decrypts the mnemonic; a wrong password is a WalletError('WRONG_PASSWORD'). */
export async function unlockMnemonic(store: KeystoreFile, password: string): Promise<string> {
  const key = await scrypt(password, Buffer.from(store.kdf.salt, 'hex'), store.kdf);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(store.cipher.iv, 'hex'));
  decipher.setAAD(aad(store.kdf));
  decipher.setAuthTag(Buffer.from(store.cipher.tag, 'hex'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(store.ciphertext, 'hex')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new WalletError(
      'WRONG_PASSWORD',
      'wrong password: the keystore did not decrypt (nothing was changed)',
    );
  }
}

/** The key pair of an account of the wallet, after checking it matches the stored address. */
export async function unlockAccount(store: KeystoreFile, password: string, index: number): Promise<KeyPair> {
  const account = store.accounts.find((a) => a.index === index);
  if (!account) {
    throw new WalletError(
      'NO_ACCOUNT',
      `the wallet has no account ${index} (it has ${store.accounts.map((a) => a.index).join(', ')})`,
    );
  }
  const mnemonic = await unlockMnemonic(store, password);
  const key = deriveKeyPair(mnemonic, 0, index);
  if (toHex(addressBytes(key.publicKey)) !== account.address) {
    throw new WalletError('CORRUPT', `account ${index}: the stored address does not match the mnemonic`);
  }
  return key;
}

/** Derives the next account index and records it. */
export async function addAccount(dir: string, password: string): Promise<WalletAccount> {
  const store = await loadKeystore(dir);
  const mnemonic = await unlockMnemonic(store, password);
  const index = store.accounts.reduce((m, a) => Math.max(m, a.index + 1), 0);
  const account = accountFor(mnemonic, index);
  store.accounts.push(account);
  await writeKeystore(dir, store);
  return account;
}

/** Atomic write: a temporary file with mode 0600, then rename over the keystore. */
async function writeKeystore(dir: string, store: KeystoreFile): Promise<void> {
  const file = keystorePath(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o600, flag: 'w' });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
