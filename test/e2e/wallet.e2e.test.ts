// End to end: the real daemon in its own process mines a devnet; the real CLI imports the devnet
// mnemonic, sends FLUX to a fresh address, and both balances move.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeAddress } from '../../src/core/crypto/keys.ts';
import { COIN, DEVNET_MNEMONIC } from '../../src/core/params/index.ts';
import { type Fluxd, flux, spawnFluxd } from '../support/devnet.ts';
import { until } from '../support/wait.ts';

type Daemon = Fluxd & { api: string };

/** Starts `flux node run` and resolves once it reports its API address on stdout (--json). */
async function startDaemon(datadir: string, minerAddress: string): Promise<Daemon> {
  const daemon = spawnFluxd(
    ['--datadir', datadir, '--mine', '--miner-address', minerAddress, '--api-port', '0'],
    'daemon',
    15_000,
  );
  const ready = await daemon.ready;
  assert.equal(ready.event, 'ready');
  return { ...daemon, api: ready.api };
}

describe('devnet daemon + wallet CLI', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-e2e-'));
  const datadir = join(dir, 'node');
  const minerAddress = encodeAddress('tflux', new Uint8Array(20).fill(0x11));
  let daemon: Daemon;
  let env: Record<string, string>;

  const json = async (args: string[], extra: Record<string, string> = {}, stdin?: string) => {
    const r = await flux([...args, '--json'], { ...env, ...extra }, stdin);
    assert.equal(r.code, 0, `flux ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    daemon = await startDaemon(datadir, minerAddress);
    env = {
      FLUX_API: daemon.api,
      FLUX_WALLET_DIR: join(dir, 'sender'),
      FLUX_PASSWORD: 'correct horse battery staple',
      HOME: dir,
    };
  });
  after(async () => {
    if (daemon && daemon.child.exitCode === null) {
      daemon.child.kill('SIGKILL');
      await daemon.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('mines, sends FLUX with the CLI, and both balances move', async () => {
    await until(
      'block 1',
      async () => ((await json(['chain', 'info'])).height >= 1 ? true : undefined),
      30_000,
      200,
    );

    const imported = await json(['wallet', 'import'], {}, `${DEVNET_MNEMONIC}\n`);
    const sender: string = imported.addresses[0];
    const created = await json(['wallet', 'create'], { FLUX_WALLET_DIR: join(dir, 'recipient') });
    const recipient: string = created.addresses[0];
    assert.equal(created.mnemonic.split(' ').length, 24);

    const before = await json(['wallet', 'balance', sender]);
    assert.equal(before.balance, (1_000_000n * COIN).toString());
    assert.equal((await json(['wallet', 'balance', recipient])).balance, '0');

    const sent = await json(['wallet', 'send', recipient, '1234.5']);
    assert.equal(sent.amount, '123450000000');
    const height = await until(
      'the transfer to be mined',
      async () => {
        const tx = await json(['tx', 'get', sent.id]);
        return tx.status === 'mined' ? (tx.height as number) : undefined;
      },
      30_000,
      200,
    );
    assert.ok(height >= 1);

    const afterSender = await json(['wallet', 'balance', sender]);
    const afterRecipient = await json(['wallet', 'balance', recipient]);
    assert.equal(afterRecipient.balance, '123450000000');
    assert.equal(BigInt(afterSender.balance), BigInt(before.balance) - 123_450_000_000n - BigInt(sent.fee));
    assert.equal(afterSender.nonce, 1);
    const wallet = await json(['wallet', 'balance']);
    assert.equal(wallet.accounts[0].balance, afterSender.balance);
  });

  it('stops cleanly on SIGTERM and restarts on the same devnet genesis', async () => {
    const info = await json(['chain', 'info']);
    const genesis = await json(['block', 'get', '0']);
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    assert.ok(
      daemon.stderr.some((l) => /stopped/.test(l)),
      daemon.stderr.join('\n'),
    );

    daemon = await startDaemon(datadir, minerAddress);
    env.FLUX_API = daemon.api;
    const again = await json(['chain', 'info']);
    assert.ok(again.height >= info.height);
    assert.equal((await json(['block', 'get', '0'])).hash, genesis.hash);
    daemon.child.kill('SIGINT');
    assert.equal(await daemon.exited, 0);
  });
});
