import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ApiError, createClient } from '../../../src/api/client.ts';
import { encodeTx, txId } from '../../../src/core/codec/ids.ts';
import { type Tx, TxKind } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { deriveKeyPair } from '../../../src/core/crypto/hd.ts';
import { addressBytes, encodeAddress, type KeyPair } from '../../../src/core/crypto/keys.ts';
import { encodeTransfer, signTx } from '../../../src/core/ledger/tx.ts';
import { COIN, DEVNET_MNEMONIC } from '../../../src/core/params/index.ts';
import { DEVNET_ALLOCATION, devnetParams } from '../../../src/node/genesis.ts';
import { createMiner } from '../../../src/node/miner/miner.ts';
import { signWithMinimumFee } from '../../../src/wallet/sign.ts';
import { apiFixture } from './fixture.ts';

const params = devnetParams(Date.now());
const prefix = params.addressPrefix;
const funded: KeyPair = deriveKeyPair(DEVNET_MNEMONIC, 0, 0);
const fundedAddr = encodeAddress(prefix, addressBytes(funded.publicKey));
const stranger = encodeAddress(prefix, new Uint8Array(20).fill(7));

function transfer(nonce: number, amount: bigint, fee?: bigint): Tx {
  const unsigned = {
    nonce,
    kind: TxKind.transfer,
    payload: encodeTransfer(new Uint8Array(20).fill(7), amount),
  };
  return fee === undefined
    ? signWithMinimumFee(unsigned, funded, params)
    : signTx({ ...unsigned, fee }, funded, params);
}

describe('REST API', () => {
  const api = apiFixture(params, 'api');

  const raw = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${api.server.url}${path}`, init);
    return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
  };
  const post = (body: string, type = 'application/json') =>
    raw('/txs', { method: 'POST', headers: { 'content-type': type }, body });

  it('reports chain info at genesis', async () => {
    const info = await api.client.chainInfo();
    assert.equal(info.network, 'devnet');
    assert.equal(info.height, 0);
    assert.match(info.tipHash, /^[0-9a-f]{64}$/);
    assert.equal(info.supply.minted, (4n * DEVNET_ALLOCATION).toString());
    assert.equal(info.nextSubsidy, (50n * COIN).toString());
    assert.ok(BigInt(info.difficulty.work) > 0n);
    assert.equal(BigInt(info.cumulativeWork), BigInt(info.difficulty.work));
  });

  it('serves the genesis block by height and by hash', async () => {
    const byHeight = await api.client.block({ params: { id: '0' } });
    const byHash = await api.client.block({ params: { id: byHeight.hash } });
    assert.deepEqual(byHash, byHeight);
    assert.equal(byHeight.height, 0);
    assert.equal(byHeight.txs.length, 0);
  });

  it('shows a funded account and an empty one', async () => {
    const a = await api.client.account({ params: { address: fundedAddr } });
    assert.deepEqual(a, {
      address: fundedAddr,
      balance: DEVNET_ALLOCATION.toString(),
      locked: '0',
      nonce: 0,
      pendingNonce: 0,
    });
    const b = await api.client.account({ params: { address: stranger } });
    assert.equal(b.balance, '0');
  });

  it('accepts a signed transfer, then shows it pending everywhere', async () => {
    const tx = transfer(0, 5n * COIN);
    const { id } = await api.client.submitTx({ body: { tx: toHex(encodeTx(tx)) } });
    assert.equal(id, toHex(txId(tx)));
    const got = await api.client.tx({ params: { id } });
    assert.equal(got.status, 'pending');
    assert.equal(got.from, fundedAddr);
    assert.deepEqual(got.transfer, { to: stranger, amount: (5n * COIN).toString(), memo: '' });
    const account = await api.client.account({ params: { address: fundedAddr } });
    assert.equal(account.nonce, 0);
    assert.equal(account.pendingNonce, 1);
    const pool = await api.client.mempool();
    assert.equal(pool.count, 1);
    assert.equal(pool.txs[0].id, id);
    const txs = await api.client.accountTxs({ params: { address: stranger } });
    assert.deepEqual(
      txs.txs.map((t) => t.id),
      [id],
    );
    assert.equal((await api.client.chainInfo()).mempoolSize, 1);
  });

  it('refuses a duplicate and a wrong nonce with the chain reason', async () => {
    const tx = transfer(0, 5n * COIN);
    await assert.rejects(api.client.submitTx({ body: { tx: toHex(encodeTx(tx)) } }), (e: ApiError) => {
      assert.equal(e.status, 409);
      assert.equal(e.code, 'DUPLICATE');
      return true;
    });
    // A nonce a little ahead is held until the gap fills (mempool tests); far ahead is refused.
    await assert.rejects(
      api.client.submitTx({ body: { tx: toHex(encodeTx(transfer(1_000, COIN))) } }),
      /nonce 1000 is too far ahead/,
    );
  });

  it('refuses an overspend, a low fee and a bad signature', async () => {
    const over = transfer(1, 2n * DEVNET_ALLOCATION);
    await assert.rejects(api.client.submitTx({ body: { tx: toHex(encodeTx(over)) } }), {
      code: 'INSUFFICIENT_FUNDS',
    });
    const cheap = transfer(1, COIN, 1n);
    await assert.rejects(api.client.submitTx({ body: { tx: toHex(encodeTx(cheap)) } }), {
      code: 'FEE_TOO_LOW',
    });
    const forged = transfer(1, COIN);
    forged.signature = new Uint8Array(64).fill(1);
    await assert.rejects(api.client.submitTx({ body: { tx: toHex(encodeTx(forged)) } }), {
      code: 'BAD_SIGNATURE',
    });
  });

  it('answers bad input with a 4xx that names the field', async () => {
    const cases: Array<[string, RequestInit | undefined, number, RegExp]> = [
      ['/blocks/abc', undefined, 400, /id must be a block height/],
      ['/blocks/-1', undefined, 400, /id/],
      ['/blocks/1.5', undefined, 400, /id/],
      ['/blocks/99999', undefined, 404, /height 99999/],
      [`/blocks/${'ab'.repeat(32)}`, undefined, 404, /no block with hash/],
      ['/txs/xyz', undefined, 400, /id must be a transaction id/],
      [`/txs/${'00'.repeat(32)}`, undefined, 404, /no transaction/],
      ['/accounts/flux1qqqq', undefined, 400, /address/],
      ['/accounts/notanaddress', undefined, 400, /address/],
      [`/accounts/${encodeAddress('flux', new Uint8Array(20))}`, undefined, 400, /prefix 'flux'.*'tflux'/],
      [`/accounts/${fundedAddr}/txs?limit=-3`, undefined, 400, /limit must be a non-negative integer/],
      [`/accounts/${fundedAddr}/txs?limit=2.5`, undefined, 400, /limit/],
      ['/supply?at=-1', undefined, 400, /at must be a non-negative integer/],
      ['/supply?at=abc', undefined, 400, /at must be/],
      ['/supply?at=99999999999999999999', undefined, 400, /at must be/],
      ['/supply?at=500', undefined, 404, /at: height 500 is above the tip/],
      ['/nowhere', undefined, 404, /no route GET \/nowhere/],
      ['/chain/info', { method: 'DELETE' }, 404, /no route DELETE/],
    ];
    for (const [path, init, status, message] of cases) {
      const r = await raw(path, init);
      assert.equal(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, message, path);
      assert.equal(typeof r.body.error.code, 'string');
    }
  });

  it('answers malformed submissions with a 4xx, never a 500', async () => {
    const cases: Array<[string, string, number, RegExp]> = [
      ['{"tx":"zz"}', 'application/json', 400, /body\.tx: tx must be hex/],
      ['{"tx":"abc"}', 'application/json', 400, /tx must be hex/],
      ['{"tx":""}', 'application/json', 400, /tx/],
      ['{"tx":12}', 'application/json', 400, /tx must be a string/],
      ['{}', 'application/json', 400, /tx must be a string/],
      ['{"tx":"00","extra":1}', 'application/json', 400, /extra/],
      ['[]', 'application/json', 400, /body/],
      ['{"tx":', 'application/json', 400, /JSON/i],
      ['{"tx":"0011"}', 'application/json', 400, /tx: not an SSZ-encoded signed transaction/],
      ['tx=00', 'text/plain', 400, /body: .*expected object/],
      ['<tx/>', 'application/xml', 415, /./],
      [
        JSON.stringify({ tx: 'ab'.repeat(params.limits.maxTxBytes + 1) }),
        'application/json',
        413,
        new RegExp(`tx: ${params.limits.maxTxBytes + 1} bytes, the limit is ${params.limits.maxTxBytes}`),
      ],
      [
        JSON.stringify({ tx: 'ab'.repeat(200_000) }),
        'application/json',
        413,
        /request body is larger than the limit/,
      ],
    ];
    for (const [body, type, status, message] of cases) {
      const r = await post(body, type);
      assert.equal(r.status, status, `${body.slice(0, 40)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, message, body.slice(0, 40));
    }
  });

  it('never answers random input with a 5xx', async () => {
    const segment = fc.string({ maxLength: 80 }).map(encodeURIComponent);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          segment.map((s) => `/blocks/${s}`),
          segment.map((s) => `/txs/${s}`),
          segment.map((s) => `/accounts/${s}`),
          segment.map((s) => `/accounts/${fundedAddr}/txs?limit=${s}`),
          segment.map((s) => `/supply?at=${s}`),
          segment.map((s) => `/mempool?limit=${s}`),
        ),
        async (path) => {
          const r = await fetch(`${api.server.url}${path}`);
          await r.arrayBuffer();
          assert.ok(r.status < 500, `${path} -> ${r.status}`);
        },
      ),
      { numRuns: 150 },
    );
    const validTx = encodeTx(transfer(1, COIN));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }).map((b) => JSON.stringify({ tx: toHex(b) })),
          fc.tuple(fc.nat(validTx.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, v]) => {
            const b = Uint8Array.from(validTx);
            b[i] = (b[i] + v) % 256; // always a different byte
            return JSON.stringify({ tx: toHex(b) });
          }),
          fc.json(),
        ),
        async (body) => {
          const r = await post(body);
          assert.ok(r.status >= 400 && r.status < 500, `${body.slice(0, 60)} -> ${r.status}`);
          assert.equal(typeof r.body.error.message, 'string');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses a transfer of zero and an unknown kind', async () => {
    const zero = signTx(
      { nonce: 1, fee: 10_000n, kind: TxKind.transfer, payload: encodeTransfer(new Uint8Array(20), 0n) },
      funded,
      params,
    );
    await assert.rejects(api.client.submitTx({ body: { tx: toHex(encodeTx(zero)) } }), {
      code: 'BAD_AMOUNT',
    });
    const unknown = signTx(
      { nonce: 1, fee: 10_000n, kind: 99 as never, payload: new Uint8Array(4) },
      funded,
      params,
    );
    await assert.rejects(api.client.submitTx({ body: { tx: toHex(encodeTx(unknown)) } }), {
      code: 'UNKNOWN_KIND',
    });
  });

  it('shows a mined transfer in its block, the accounts and the supply', async () => {
    const [pending] = (await api.client.mempool()).txs;
    const miner = createMiner({ chain: api.chain, minerAddress: new Uint8Array(20).fill(9) });
    const block = await miner.mineBlock();
    assert.equal(block.txs.length, 1);
    const mined = await api.client.tx({ params: { id: pending.id } });
    assert.equal(mined.status, 'mined');
    assert.equal(mined.height, 1);
    const b = await api.client.block({ params: { id: '1' } });
    assert.deepEqual(
      b.txs.map((t) => t.id),
      [pending.id],
    );
    assert.equal(b.header.miner, encodeAddress(prefix, new Uint8Array(20).fill(9)));
    const to = await api.client.account({ params: { address: stranger } });
    assert.equal(to.balance, (5n * COIN).toString());
    const from = await api.client.account({ params: { address: fundedAddr } });
    assert.equal(BigInt(from.balance), DEVNET_ALLOCATION - 5n * COIN - BigInt(mined.fee));
    assert.equal(from.nonce, 1);
    assert.equal(from.pendingNonce, 1);
    assert.equal((await api.client.mempool()).count, 0);
    const history = await api.client.accountTxs({ params: { address: fundedAddr }, query: { limit: 10 } });
    assert.deepEqual(
      history.txs.map((t) => [t.id, t.status]),
      [[pending.id, 'mined']],
    );
    const s0 = await api.client.supply({ query: { at: 0 } });
    const s1 = await api.client.supply();
    assert.equal(s1.height, 1);
    assert.ok(BigInt(s1.minted) > BigInt(s0.minted));
    assert.equal(s0.minted, (4n * DEVNET_ALLOCATION).toString());
  });

  it('serves an OpenAPI document with every declared route', async () => {
    const res = await fetch(`${api.server.url}/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { summary: string }>>;
    };
    assert.match(doc.openapi, /^3\./);
    for (const path of [
      '/chain/info',
      '/blocks/{id}',
      '/txs/{id}',
      '/accounts/{address}',
      '/accounts/{address}/txs',
      '/supply',
      '/txs',
      '/mempool',
    ]) {
      assert.ok(doc.paths[path], `missing ${path}`);
    }
    assert.ok(doc.paths['/txs'].post.summary);
  });

  it('reports an unreachable node clearly', async () => {
    const dead = createClient({ baseUrl: 'http://127.0.0.1:1' });
    await assert.rejects(
      dead.chainInfo(),
      (e: ApiError) => e.code === 'UNREACHABLE' && /is fluxd running/.test(e.message),
    );
  });
});
