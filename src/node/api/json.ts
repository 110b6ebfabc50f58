// Domain objects -> the JSON shapes declared in routes.ts.

import type { BlockJson, NetworkJson, SupplyJson, TxJson } from '../../api/routes.ts';
import { blockHash, txId } from '../../core/codec/ids.ts';
import { Block, type Header, TransferPayload, TX_KIND_NAMES, Tx, TxKind } from '../../core/codec/types.ts';
import { workOf } from '../../core/consensus/pow.ts';
import { bytesToBigint, toHex } from '../../core/crypto/hash.ts';
import { addressBytes, encodeAddress } from '../../core/crypto/keys.ts';
import type { ChainParams } from '../../core/params/index.ts';
import type { StoredTx, SupplyInfo } from '../chain/types.ts';
import type { P2P, SyncProgress } from '../p2p/index.ts';

export function txJson(
  tx: Tx,
  params: ChainParams,
  where: { id?: Uint8Array; stored?: StoredTx } = {},
): TxJson {
  const prefix = params.addressPrefix;
  const id = where.id ?? where.stored?.id ?? txId(tx);
  const kindName = TX_KIND_NAMES[tx.body.kind];
  const out: TxJson = {
    id: toHex(id),
    status: where.stored ? 'mined' : 'pending',
    chainId: tx.body.chainId,
    nonce: tx.body.nonce,
    fee: tx.body.fee.toString(),
    from: encodeAddress(prefix, addressBytes(tx.body.sender)),
    senderPublicKey: toHex(tx.body.sender),
    kind: kindName ?? `unknown(${tx.body.kind})`,
    signature: toHex(tx.signature),
    size: Tx.value_serializedSize(tx),
  };
  if (tx.body.kind === TxKind.transfer) {
    try {
      const t = TransferPayload.deserialize(tx.body.payload);
      out.transfer = {
        to: encodeAddress(prefix, t.to),
        amount: t.amount.toString(),
        memo: Buffer.from(t.memo).toString('utf8'),
      };
    } catch {
      // A stored transaction always decodes; a malformed one never reaches the chain.
    }
  }
  if (where.stored) {
    out.blockHash = toHex(where.stored.blockHash);
    out.height = where.stored.height;
    out.index = where.stored.index;
  }
  return out;
}

export function headerJson(header: Header, params: ChainParams): BlockJson['header'] {
  return {
    version: header.version,
    height: header.height,
    parent: toHex(header.parent),
    time: header.time,
    stateRoot: toHex(header.stateRoot),
    txRoot: toHex(header.txRoot),
    target: toHex(header.target),
    miner: encodeAddress(params.addressPrefix, header.miner),
    nonce: header.nonce,
  };
}

export function blockJson(block: Block, params: ChainParams): BlockJson {
  const hash = blockHash(block.header);
  return {
    hash: toHex(hash),
    height: block.header.height,
    header: headerJson(block.header, params),
    work: workOf(bytesToBigint(block.header.target)).toString(),
    size: Block.value_serializedSize(block),
    txs: block.txs.map((tx, index) =>
      txJson(tx, params, {
        stored: { tx, id: txId(tx), blockHash: hash, height: block.header.height, index },
      }),
    ),
  };
}

export function supplyJson(s: SupplyInfo): SupplyJson {
  return {
    height: s.height,
    minted: s.minted.toString(),
    locked: s.locked.toString(),
    maxSupply: s.maxSupply.toString(),
    nextSubsidy: s.nextSubsidy.toString(),
  };
}

/** The p2p host's state as GET /network shows it. */
export function networkJson(p2p: P2P, sync: SyncProgress | undefined): NetworkJson {
  const syncing = p2p.syncing();
  return {
    enabled: true,
    peerId: p2p.peerId,
    listen: p2p.multiaddrs(),
    syncing,
    ...(syncing && sync ? { sync } : {}),
    peers: p2p.peers().map((p) => ({
      id: p.id,
      addrs: p.addrs,
      direction: p.direction,
      score: p.score,
      ...(p.height === undefined ? {} : { height: p.height }),
      ...(p.cumulativeWork === undefined ? {} : { cumulativeWork: p.cumulativeWork.toString() }),
    })),
    banned: p2p.banned().length,
  };
}
