// `flux wallet ...`: create, import, list, add-account, balance, send.

import { formatFlux, parseFlux } from '../api/amount.ts';
import type { AccountJson, ChainInfoJson } from '../api/client.ts';
import { TxKind } from '../core/codec/types.ts';
import { fromHex, toHex } from '../core/crypto/hash.ts';
import { decodeAddress, encodeAddress } from '../core/crypto/keys.ts';
import { encodeTransfer } from '../core/ledger/tx.ts';
import { type NetworkName, presets } from '../core/params/index.ts';
import {
  addAccount,
  createKeystore,
  generateMnemonic,
  type KeystoreFile,
  loadKeystore,
  unlockAccount,
  type WalletAccount,
} from '../wallet/keystore.ts';
import { sendTx } from '../wallet/send.ts';
import type { CommandContext } from './context.ts';
import { CliError, promptHidden, readAll, readPassword } from './io.ts';

const NETWORKS = ['mainnet', 'testnet', 'devnet'] as const;

function prefixOf(network: NetworkName): string {
  return presets[network].addressPrefix;
}

function shown(store: KeystoreFile, a: WalletAccount): string {
  return encodeAddress(prefixOf(store.network), fromHex(a.address));
}

/** The network for a new wallet: --network, else the node's, else devnet. */
async function networkFor(ctx: CommandContext): Promise<NetworkName> {
  const given = ctx.values.network as string | undefined;
  if (given !== undefined) {
    if (!(NETWORKS as readonly string[]).includes(given)) {
      throw new CliError(`--network must be one of ${NETWORKS.join(', ')}, not ${given}`, 2);
    }
    return given as NetworkName;
  }
  try {
    const info = await ctx.client().chainInfo();
    if ((NETWORKS as readonly string[]).includes(info.network)) return info.network as NetworkName;
  } catch {
    // No node reachable: fall back to devnet, the network most people start on.
  }
  return 'devnet';
}

function accountCount(ctx: CommandContext): number {
  const text = (ctx.values.accounts as string | undefined) ?? '1';
  if (!/^[1-9][0-9]{0,3}$/.test(text))
    throw new CliError(`--accounts must be an integer from 1 to 9999, not ${text}`, 2);
  return Number(text);
}

export async function walletCreate(ctx: CommandContext): Promise<void> {
  const dir = ctx.walletDir();
  await assertNoWallet(dir);
  const network = await networkFor(ctx);
  const count = accountCount(ctx);
  const password = await readPassword(ctx.io, { confirm: true });
  const mnemonic = generateMnemonic();
  const store = await createKeystore({ dir, mnemonic, password, network, accounts: count });
  const addresses = store.accounts.map((a) => shown(store, a));
  if (ctx.json) {
    ctx.emit({ walletDir: dir, network, mnemonic, addresses }, '');
    return;
  }
  ctx.note('Your recovery phrase (shown only this once; write it down and keep it offline):');
  ctx.note('');
  ctx.note(`  ${mnemonic}`);
  ctx.note('');
  ctx.note(`Wallet written to ${dir} (${network}).`);
  ctx.emit(null, addresses.map((a, i) => `${i}  ${a}`).join('\n'));
}

export async function walletImport(ctx: CommandContext): Promise<void> {
  const dir = ctx.walletDir();
  await assertNoWallet(dir);
  const network = await networkFor(ctx);
  const count = accountCount(ctx);
  let mnemonic: string;
  if (ctx.io.stdin.isTTY)
    mnemonic = await promptHidden(ctx.io, 'Recovery phrase (words separated by spaces): ');
  else mnemonic = await readAll(ctx.io.stdin);
  if (mnemonic.trim() === '')
    throw new CliError('no recovery phrase given (type it at the prompt or pipe it on stdin)', 2);
  const password = await readPassword(ctx.io, { confirm: true });
  let store: KeystoreFile;
  try {
    store = await createKeystore({ dir, mnemonic, password, network, accounts: count });
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const addresses = store.accounts.map((a) => shown(store, a));
  ctx.note(`Wallet imported to ${dir} (${network}).`);
  ctx.emit({ walletDir: dir, network, addresses }, addresses.map((a, i) => `${i}  ${a}`).join('\n'));
}

export async function walletList(ctx: CommandContext): Promise<void> {
  const store = await loadKeystore(ctx.walletDir());
  const accounts = store.accounts.map((a) => ({
    index: a.index,
    address: shown(store, a),
    publicKey: a.publicKey,
  }));
  ctx.emit({ network: store.network, accounts }, accounts.map((a) => `${a.index}  ${a.address}`).join('\n'));
}

export async function walletAddAccount(ctx: CommandContext): Promise<void> {
  const dir = ctx.walletDir();
  const store = await loadKeystore(dir);
  const password = await readPassword(ctx.io);
  const account = await addAccount(dir, password);
  const address = shown(store, account);
  ctx.emit({ index: account.index, address }, `${account.index}  ${address}`);
}

function balanceLine(a: AccountJson, index?: number): string {
  const pending = a.pendingNonce > a.nonce ? `  (${a.pendingNonce - a.nonce} pending)` : '';
  const locked = a.locked !== '0' ? `  locked ${formatFlux(BigInt(a.locked))}` : '';
  return `${index === undefined ? '' : `${index}  `}${a.address}  ${formatFlux(BigInt(a.balance))} FLUX${locked}${pending}`;
}

export async function walletBalance(ctx: CommandContext): Promise<void> {
  const client = ctx.client();
  const [given] = ctx.positionals;
  if (given !== undefined) {
    const account = await client.account({ params: { address: given } });
    ctx.emit(account, balanceLine(account));
    return;
  }
  const store = await loadKeystore(ctx.walletDir());
  const info = await client.chainInfo();
  const accounts: Array<AccountJson & { index: number }> = [];
  for (const a of store.accounts) {
    const address = encodeAddress(info.addressPrefix, fromHex(a.address));
    accounts.push({ index: a.index, ...(await client.account({ params: { address } })) });
  }
  const total = accounts.reduce((s, a) => s + BigInt(a.balance), 0n);
  ctx.emit(
    { accounts, total: total.toString() },
    [...accounts.map((a) => balanceLine(a, a.index)), `total  ${formatFlux(total)} FLUX`].join('\n'),
  );
}

/** --from: an account index or one of the wallet's addresses; default the first account. */
export function senderAccount(
  store: KeystoreFile,
  from: string | undefined,
  info: ChainInfoJson,
): WalletAccount {
  if (from === undefined) {
    if (store.accounts.length === 0) throw new CliError('the wallet has no accounts');
    return store.accounts[0];
  }
  if (/^[0-9]+$/.test(from)) {
    const account = store.accounts.find((a) => a.index === Number(from));
    if (!account) throw new CliError(`--from: the wallet has no account ${from} (see 'flux wallet list')`, 2);
    return account;
  }
  const decoded = decodeAddress(info.addressPrefix, from);
  if (!decoded.ok) throw new CliError(`--from: ${decoded.error}`, 2);
  const account = store.accounts.find((a) => a.address === toHex(decoded.address));
  if (!account)
    throw new CliError(`--from: ${from} is not an address of this wallet (see 'flux wallet list')`, 2);
  return account;
}

export async function walletSend(ctx: CommandContext): Promise<void> {
  const [toText, amountText] = ctx.positionals;
  const client = ctx.client();
  const store = await loadKeystore(ctx.walletDir());
  const info = await client.chainInfo();
  const params = presets[info.network as NetworkName];
  if (!params || params.chainId !== info.chainId) {
    throw new CliError(
      `the node at ${ctx.api} runs an unknown network ${info.network} (chain ${info.chainId})`,
    );
  }

  const to = decodeAddress(info.addressPrefix, toText);
  if (!to.ok) throw new CliError(`TO: ${to.error}`, 2);
  const amount = parseFlux(amountText, 'AMOUNT');
  if (!amount.ok) throw new CliError(amount.error, 2);
  if (amount.value === 0n) throw new CliError('AMOUNT must be more than 0', 2);
  let fee: bigint | undefined;
  if (ctx.values.fee !== undefined) {
    const parsed = parseFlux(ctx.values.fee as string, '--fee');
    if (!parsed.ok) throw new CliError(parsed.error, 2);
    fee = parsed.value;
  }
  let memo = new Uint8Array();
  if (ctx.values.memo !== undefined) {
    memo = new TextEncoder().encode(ctx.values.memo as string);
    if (memo.length > 128) throw new CliError(`--memo is ${memo.length} bytes, the limit is 128`, 2);
  }

  const sender = senderAccount(store, ctx.values.from as string | undefined, info);
  const fromAddress = encodeAddress(info.addressPrefix, fromHex(sender.address));
  const password = await readPassword(ctx.io);
  let key: Awaited<ReturnType<typeof unlockAccount>>;
  try {
    key = await unlockAccount(store, password, sender.index);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const sent = await sendTx(
    client,
    key,
    { params, info },
    {
      kind: TxKind.transfer,
      payload: encodeTransfer(to.address, amount.value, memo),
      fee,
      check: (txFee, account) => {
        const spend = amount.value + txFee;
        if (spend > BigInt(account.balance))
          throw new CliError(
            `insufficient funds: ${fromAddress} has ${formatFlux(BigInt(account.balance))} FLUX, ` +
              `the transfer needs ${formatFlux(spend)} FLUX (amount + fee ${formatFlux(txFee)})`,
          );
      },
      warn: (line) => ctx.note(line),
    },
  );
  const { id } = sent;
  const result = {
    id,
    from: fromAddress,
    to: toText,
    amount: amount.value.toString(),
    fee: sent.fee.toString(),
    nonce: sent.nonce,
  };
  if (ctx.values.wait) {
    ctx.note(`sent ${id}; waiting until it is mined...`);
    const mined = await waitMined(ctx, id);
    ctx.emit({ ...result, height: mined }, `${id}  mined at height ${mined}`);
    return;
  }
  ctx.emit(
    result,
    `${id}  ${formatFlux(amount.value)} FLUX to ${toText} (fee ${formatFlux(sent.fee)}), pending`,
  );
}

export async function waitMined(ctx: CommandContext, id: string, timeoutMs = 120_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const tx = await ctx.client().tx({ params: { id } });
    if (tx.status === 'mined' && tx.height !== undefined) return tx.height;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new CliError(`transaction ${id} was not mined within ${timeoutMs / 1000} s (it may still be)`);
}

async function assertNoWallet(dir: string): Promise<void> {
  try {
    await loadKeystore(dir);
  } catch {
    return;
  }
  throw new CliError(
    `a wallet already exists in ${dir}; use --wallet-dir (or FLUX_WALLET_DIR) for another one`,
  );
}
