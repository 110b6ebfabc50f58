// The confirmation service on a real chain (SQLite): when down reports from two other nodes mark
// its FluxNode down, it confirms again at once instead of waiting for its window.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Tx, TxKind } from '../../../src/core/codec/types.ts';
import type { KeyPair } from '../../../src/core/crypto/keys.ts';
import { genesisNodeId } from '../../../src/core/nodes/lifecycle.ts';
import { encodeNodeDown } from '../../../src/core/nodes/payloads.ts';
import { isNodeDown } from '../../../src/core/nodes/types.ts';
import { type LocalChain, openChain } from '../../../src/node/chain/chain.ts';
import { withDevnetFluxNodes } from '../../../src/node/fluxnode/devnet.ts';
import { type ConfirmService, startConfirmService } from '../../../src/node/fluxnode/service.ts';
import { devnetParams } from '../../../src/node/genesis.ts';
import { createMiner, type Miner } from '../../../src/node/miner/miner.ts';
import { signWithMinimumFee } from '../../../src/wallet/sign.ts';
import { GOOD_REPORT } from '../../core/nodes/helpers.ts';
import { filledKey } from '../../support/keys.ts';
import { until } from '../../support/wait.ts';

const [own, r1, r2] = [7, 8, 9].map((i): KeyPair => filledKey(i));
const params = withDevnetFluxNodes(
  devnetParams(Date.now()),
  [own, r1, r2].map((k, i) => ({ operator: k.publicKey, endpoint: `127.0.0.${i + 2}:16127` })),
);
const [mine, n1, n2] = [0, 1, 2].map(genesisNodeId);

function signed(k: KeyPair, kind: number, payload: Uint8Array): Tx {
  return signWithMinimumFee({ nonce: 0, kind, payload }, k, params);
}

describe('FluxNode confirmation service and down reports', () => {
  let dir: string;
  let chain: LocalChain;
  let miner: Miner;
  let service: ConfirmService;
  const lines: string[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'openflux-fluxnode-down-'));
    chain = openChain({ params, dbPath: join(dir, 'chain.db') });
    miner = createMiner({ chain, minerAddress: new Uint8Array(20).fill(0xee) });
    service = startConfirmService({
      chain,
      operator: own,
      report: async () => GOOD_REPORT,
      log: (line) => lines.push(line),
    });
  });
  after(() => {
    service.close();
    chain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const confirmsPending = () => chain.mempool(10).filter((e) => e.tx.body.kind === TxKind.nodeConfirm);

  it('confirms again at once when its node is marked down', async () => {
    await service.check();
    assert.equal(confirmsPending().length, 0, 'its genesis confirmation is not due for a while');
    for (const [k, reporter] of [
      [r1, n1],
      [r2, n2],
    ] as const) {
      const r = chain.submitTx(signed(k, TxKind.nodeDown, encodeNodeDown(mine, reporter)));
      assert.ok(r.ok, r.ok ? '' : r.error.message);
    }
    await miner.mineBlock(); // height 1: two reports, the quorum
    const down = chain.fluxNode(mine)!;
    assert.ok(isNodeDown(down));
    assert.equal(down.downSince, 1);
    await until(
      'the confirmation in the mempool',
      () => (confirmsPending().length ? true : undefined),
      5_000,
    );
    assert.ok(
      lines.includes(`fluxnode ${mine.slice(0, 16)}: marked down at height 1 by reports; confirming again`),
      lines.join('\n'),
    );
    await miner.mineBlock();
    const back = chain.fluxNode(mine)!;
    assert.equal(isNodeDown(back), false);
    assert.equal(back.confirmations, 2);
    assert.equal(back.lastConfirmHeight, 2);
    await until(
      'the confirmed log line',
      () => (lines.some((l) => l.includes('confirmed at height 2')) ? true : undefined),
      5_000,
    );
  });
});
