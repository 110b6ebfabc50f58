import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeAddress } from '../../src/core/crypto/keys.ts';
import { COIN, DEVNET_MNEMONIC } from '../../src/core/params/index.ts';
import type { LocalChain } from '../../src/node/chain/chain.ts';
import { createDevNode } from '../../src/node/dev-node.ts';
import { DEVNET_ALLOCATION } from '../../src/node/genesis.ts';
import { createMiner } from '../../src/node/miner/miner.ts';
import type { FluxNode } from '../../src/node/node.ts';
import { type CliRun, fluxInProcess } from '../support/io.ts';

describe('flux CLI', () => {
  let node: FluxNode;
  let walletDir: string;
  let env: Record<string, string>;
  const recipient = encodeAddress('tflux', new Uint8Array(20).fill(0x42));

  const flux = (
    args: string[],
    opts: { stdin?: string; env?: Record<string, string> } = {},
  ): Promise<CliRun> => fluxInProcess(args, { ...env, ...opts.env }, opts.stdin);
  const json = async (args: string[], opts?: { stdin?: string; env?: Record<string, string> }) => {
    const r = await flux([...args, '--json'], opts);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    node = await createDevNode();
    walletDir = mkdtempSync(join(tmpdir(), 'openflux-cli-'));
    env = {
      FLUX_API: node.url!,
      FLUX_WALLET_DIR: join(walletDir, 'w'),
      FLUX_PASSWORD: 'hunter2',
      HOME: walletDir,
    };
  });
  after(async () => {
    await node.close();
    rmSync(walletDir, { recursive: true, force: true });
  });

  it('imports the devnet mnemonic from stdin and lists its funded accounts', async () => {
    const out = await json(['wallet', 'import', '--accounts', '2'], { stdin: `${DEVNET_MNEMONIC}\n` });
    assert.equal(out.network, 'devnet');
    assert.equal(out.addresses.length, 2);
    const list = await json(['wallet', 'list']);
    assert.deepEqual(
      list.accounts.map((a: { address: string }) => a.address),
      out.addresses,
    );
    const balance = await json(['wallet', 'balance']);
    assert.equal(balance.total, (2n * DEVNET_ALLOCATION).toString());
    const text = await flux(['wallet', 'balance', out.addresses[1]]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /1000000 FLUX/);
  });

  it('refuses a second wallet in the same directory', async () => {
    const r = await flux(['wallet', 'import'], { stdin: DEVNET_MNEMONIC });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists/);
  });

  it('creates a wallet and shows the mnemonic once, on stderr', async () => {
    const dir = join(walletDir, 'created');
    const r = await flux(['wallet', 'create', '--wallet-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    const words = r.stderr.match(/^ {2}([a-z]+(?: [a-z]+){23})$/m);
    assert.ok(words, r.stderr);
    assert.doesNotMatch(r.stdout, new RegExp(words[1]));
    assert.match(r.stdout, /^0 {2}tflux1/);
    const list = await flux(['wallet', 'list', '--wallet-dir', dir]);
    assert.doesNotMatch(
      list.stdout + list.stderr,
      new RegExp(`${words[1].split(' ')[0]} ${words[1].split(' ')[1]}`),
    );
  });

  it('sends FLUX with the minimum fee and the pending nonce', async () => {
    const sent = await json(['wallet', 'send', recipient, '12.5']);
    assert.equal(sent.amount, ((125n * COIN) / 10n).toString());
    assert.equal(sent.nonce, 0);
    assert.ok(BigInt(sent.fee) > 0n);
    const again = await json(['wallet', 'send', recipient, '0.00000001', '--fee', '0.001']);
    assert.equal(again.nonce, 1);
    assert.equal(again.fee, '100000');
    const pending = await json(['tx', 'get', sent.id]);
    assert.equal(pending.status, 'pending');

    await createMiner({ chain: node.chain as LocalChain, minerAddress: new Uint8Array(20) }).mineBlock();
    const mined = await json(['tx', 'get', sent.id]);
    assert.equal(mined.status, 'mined');
    const to = await json(['wallet', 'balance', recipient]);
    assert.equal(to.balance, 1_250_000_001n.toString());
    const block = await json(['block', 'get', String(mined.height)]);
    assert.equal(block.txs.length, 2);
    const info = await json(['chain', 'info']);
    assert.equal(info.height, 1);
    const supply = await json(['supply', '--at', '0']);
    assert.equal(supply.height, 0);
  });

  it('refuses bad amounts, bad addresses and a wrong password with clear messages', async () => {
    const cases: Array<[string[], number, RegExp, Record<string, string>?]> = [
      [['wallet', 'send', recipient, '-1'], 2, /AMOUNT must not be negative/],
      [['wallet', 'send', recipient, '1.123456789'], 2, /more than 8 decimals/],
      [['wallet', 'send', recipient, 'ten'], 2, /AMOUNT is not a decimal number/],
      [['wallet', 'send', recipient, '0'], 2, /more than 0/],
      [['wallet', 'send', recipient, '1', '--fee', '1e3'], 2, /--fee is not a decimal number/],
      [['wallet', 'send', recipient, '1', '--fee', '-0.1'], 2, /--fee must not be negative/],
      [['wallet', 'send', 'tflux1nope', '1'], 2, /TO: not a valid address/],
      [['wallet', 'send', recipient, '5000000'], 1, /insufficient funds/],
      [['wallet', 'send', recipient, '1'], 1, /wrong password/, { FLUX_PASSWORD: 'nope' }],
      [['wallet', 'send', recipient], 2, /expected 2 argument/],
      [['wallet', 'send', recipient, '1', '--bogus'], 2, /Unknown option '--bogus'/],
      [['wallet', 'fly'], 2, /unknown command 'wallet fly'/],
      [['block', 'get', 'xyz'], 1, /id must be a block height/],
      [['tx', 'get', '00'], 1, /id must be a transaction id/],
      [['supply', '--at', '-4'], 1, /at must be a non-negative integer/],
      [['wallet', 'balance', 'flux1qqqq'], 1, /address/],
      [['chain', 'info', '--api', 'http://127.0.0.1:1'], 1, /cannot reach the node API/],
      [['wallet', 'list', '--wallet-dir', '/nonexistent/w'], 1, /no wallet at/],
    ];
    for (const [args, code, message, extraEnv] of cases) {
      const r = await flux([...args, '--json'], { env: extraEnv });
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '', `${args.join(' ')} printed on stdout`);
    }
  });

  it('prints help', async () => {
    const r = await flux(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /wallet send/);
  });
});
