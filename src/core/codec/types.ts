// Every consensus object is declared once here as an SSZ container: its TypeScript type,
// its bytes and its hash all come from this one declaration.
import './hasher.ts';
import {
  ByteListType,
  ByteVectorType,
  ContainerType,
  ListCompositeType,
  UintBigintType,
  UintNumberType,
  type ValueOf,
} from '@chainsafe/ssz';

export const Uint8 = new UintNumberType(1);
export const Uint32 = new UintNumberType(4);
/** Heights and millisecond times: exact as JS numbers up to 2^53. */
export const Uint64Num = new UintNumberType(8);
/** Amounts, in units of 10^-8 FLUX. */
export const Amount = new UintBigintType(8);
export const Bytes20 = new ByteVectorType(20);
export const Bytes32 = new ByteVectorType(32);
export const Bytes64 = new ByteVectorType(64);

export const MAX_PAYLOAD_BYTES = 16_384;
export const MAX_BLOCK_TXS = 1 << 20;
export const MAX_MEMO_BYTES = 128;
export const MAX_PROOF_BYTES = 1 << 20;

/** What a sender signs: everything about the transaction except the signature. */
export const TxBody = new ContainerType(
  {
    chainId: Uint32,
    nonce: Uint64Num,
    fee: Amount,
    sender: Bytes32,
    kind: Uint8,
    payload: new ByteListType(MAX_PAYLOAD_BYTES),
  },
  { typeName: 'TxBody' },
);

export const Tx = new ContainerType({ body: TxBody, signature: Bytes64 }, { typeName: 'Tx' });

/** Payload of kind `transfer`. */
export const TransferPayload = new ContainerType(
  { to: Bytes20, amount: Amount, memo: new ByteListType(MAX_MEMO_BYTES) },
  { typeName: 'TransferPayload' },
);

/** The header fields the proof of work commits to; the nonce is searched over them. */
export const HeaderPrefix = new ContainerType(
  {
    version: Uint32,
    height: Uint64Num,
    parent: Bytes32,
    /** Milliseconds since the Unix epoch, as claimed by the miner. */
    time: Uint64Num,
    stateRoot: Bytes32,
    txRoot: Bytes32,
    /** Proof-of-work target as a 256-bit big-endian number. */
    target: Bytes32,
    miner: Bytes20,
  },
  { typeName: 'HeaderPrefix' },
);

export const Header = new ContainerType({ ...HeaderPrefix.fields, nonce: Uint64Num }, { typeName: 'Header' });

export const TxList = new ListCompositeType(Tx, MAX_BLOCK_TXS);

export const Block = new ContainerType(
  {
    header: Header,
    txs: TxList,
    /** Work proof data beyond the header nonce (empty under PoW; PoUW puts its tile opening here). */
    proof: new ByteListType(MAX_PROOF_BYTES),
  },
  { typeName: 'Block' },
);

/** An account in the state: spendable balance, locked collateral, next nonce. */
export const Account = new ContainerType(
  { balance: Amount, locked: Amount, nonce: Uint64Num },
  { typeName: 'Account' },
);

/** Chain-wide totals kept in the state. */
export const Supply = new ContainerType({ minted: Amount, locked: Amount }, { typeName: 'Supply' });

export type TxBody = ValueOf<typeof TxBody>;
export type Tx = ValueOf<typeof Tx>;
export type TransferPayload = ValueOf<typeof TransferPayload>;
export type HeaderPrefix = ValueOf<typeof HeaderPrefix>;
export type Header = ValueOf<typeof Header>;
export type Block = ValueOf<typeof Block>;
export type Account = ValueOf<typeof Account>;
export type Supply = ValueOf<typeof Supply>;

/** Transaction kinds; a payload of any other kind is refused. */
export const TxKind = {
  transfer: 1,
} as const;
export type TxKind = (typeof TxKind)[keyof typeof TxKind];

export const TX_KIND_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TxKind).map(([name, id]) => [id, name]),
);
