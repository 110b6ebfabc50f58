import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccountJson, FluxClient } from '../../src/api/client.ts';
import { encodeTx, txIdFromBytes } from '../../src/core/codec/ids.ts';
import { TxKind } from '../../src/core/codec/types.ts';
import { fromHex, toHex } from '../../src/core/crypto/hash.ts';
import { deriveKeyPair } from '../../src/core/crypto/hd.ts';
import { checkTxSignature, encodeTransfer, minimumFee, txSize } from '../../src/core/ledger/tx.ts';
import { DEVNET_MNEMONIC, devnet } from '../../src/core/params/index.ts';
import { sendTx } from '../../src/wallet/send.ts';
import { signWithMinimumFee } from '../../src/wallet/sign.ts';

const key = deriveKeyPair(DEVNET_MNEMONIC, 0, 0);
const payload = encodeTransfer(new Uint8Array(20).fill(7), 5n, new TextEncoder().encode('memo'));

describe('signing at the minimum fee', () => {
  it('pays exactly the minimum for the signed size and signs that fee', () => {
    const tx = signWithMinimumFee({ nonce: 3, kind: TxKind.transfer, payload }, key, devnet);
    assert.equal(tx.body.fee, minimumFee(txSize(tx), devnet));
    assert.equal(tx.body.nonce, 3);
    assert.equal(tx.body.chainId, devnet.chainId);
    assert.ok(checkTxSignature(tx).ok);
  });
});

describe('sending through a node API', () => {
  const account: AccountJson = { address: 'x', balance: '1000000', locked: '0', nonce: 4, pendingNonce: 6 };
  const info = { addressPrefix: devnet.addressPrefix, minFeePerByte: '20' };
  const fakeClient = (reply?: string) => {
    const posted: string[] = [];
    const client = {
      account: async () => account,
      submitTx: async ({ body }: { body: { tx: string } }) => {
        posted.push(body.tx);
        return { id: reply ?? toHex(txIdFromBytes(fromHex(body.tx))) };
      },
    } as unknown as Pick<FluxClient, 'account' | 'submitTx'>;
    return { client, posted };
  };

  it("uses the pending nonce and the node's fee rate, and posts the signed transaction", async () => {
    const { client, posted } = fakeClient();
    const sent = await sendTx(client, key, { params: devnet, info }, { kind: TxKind.transfer, payload });
    assert.equal(sent.nonce, 6);
    assert.equal(sent.fee, BigInt(txSize(sent.tx)) * 20n);
    assert.deepEqual(posted, [toHex(encodeTx(sent.tx))]);
    assert.equal(sent.id, toHex(txIdFromBytes(encodeTx(sent.tx))));
  });

  it('pays a fee given instead, and stops when the check throws, before posting', async () => {
    const { client, posted } = fakeClient();
    const sent = await sendTx(
      client,
      key,
      { params: devnet, info },
      { kind: TxKind.transfer, payload, fee: 7n },
    );
    assert.equal(sent.fee, 7n);
    await assert.rejects(
      sendTx(
        client,
        key,
        { params: devnet, info },
        {
          kind: TxKind.transfer,
          payload,
          check: () => {
            throw new Error('too poor');
          },
        },
      ),
      /too poor/,
    );
    assert.equal(posted.length, 1);
  });

  it('warns when the node reports another id', async () => {
    const { client } = fakeClient('00'.repeat(32));
    const lines: string[] = [];
    const sent = await sendTx(
      client,
      key,
      { params: devnet, info },
      { kind: TxKind.transfer, payload, warn: (l) => lines.push(l) },
    );
    assert.equal(sent.id, '00'.repeat(32));
    assert.match(lines[0], /^warning: the node reported id 0{64}, expected [0-9a-f]{64}$/);
  });
});
