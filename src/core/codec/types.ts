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
export const Uint16 = new UintNumberType(2);
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
export const MAX_ENDPOINT_BYTES = 128;
/** A FluxNode's region, `CONTINENT[-COUNTRY]` (see core/nodes/region.ts): at most 5 bytes today. */
export const MAX_REGION_BYTES = 8;

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

/**
 * What a FluxNode's machine measured (src/node/fluxnode/benchmark.ts). It is carried by a confirm
 * transaction, so the operator key's signature covers it.
 */
export const BenchReport = new ContainerType(
  {
    cores: Uint16,
    /** Total RAM in MiB. */
    ramMb: Uint32,
    /** Free disk where the node keeps its data, in GB (10^9 bytes). */
    ssdGb: Uint32,
    /** sha256 of 4 KiB blocks per second, all cores together. */
    eventsPerSec: Uint32,
    /** Sequential write with fsync, MB/s. */
    diskWriteMBps: Uint32,
    /** When it was measured (ms since the Unix epoch; informational). */
    measuredAt: Uint64Num,
  },
  { typeName: 'BenchReport' },
);

/** Kind `nodeStart`, signed by the collateral owner: locks the tier's collateral. */
export const NodeStartPayload = new ContainerType(
  {
    /** 0 cumulus, 1 nimbus, 2 stratus. */
    tier: Uint8,
    /** ed25519 public key that will sign the node's confirmations. */
    operator: Bytes32,
    /** `host:port` where the node answers, utf-8. */
    endpoint: new ByteListType(MAX_ENDPOINT_BYTES),
    /** Where the node is: `CONTINENT[-COUNTRY]` (e.g. `EU-DE`), ASCII; empty when undeclared. */
    region: new ByteListType(MAX_REGION_BYTES),
    /** Moved from the owner to the operator's account, to pay the confirmations' fees. */
    deposit: Amount,
  },
  { typeName: 'NodeStartPayload' },
);

/** Kind `nodeConfirm`, signed by the node's operator key. */
export const NodeConfirmPayload = new ContainerType(
  { node: Bytes32, report: BenchReport },
  { typeName: 'NodeConfirmPayload' },
);

/** Kind `nodeStop`, signed by the collateral owner: begins the collateral's unlock. */
export const NodeStopPayload = new ContainerType({ node: Bytes32 }, { typeName: 'NodeStopPayload' });

/** Kind `nodeDown`, signed by the reporter node's operator key: `target` looks down from `reporter`. */
export const NodeDownPayload = new ContainerType(
  { target: Bytes32, reporter: Bytes32 },
  { typeName: 'NodeDownPayload' },
);

/** At most this many pending down reports per node (a quorum marks it down, so fewer are kept). */
export const MAX_DOWN_REPORTS = 256;

/** Pending down reports against one node (`downrep/<id hex>`): reporter node ids and heights. */
export const DownReports = new ListCompositeType(
  new ContainerType({ reporter: Bytes32, height: Uint64Num }, { typeName: 'DownReport' }),
  MAX_DOWN_REPORTS,
);

/** A FluxNode in the state (`node/<id hex>`). Heights are block heights. */
export const FluxNodeRecord = new ContainerType(
  {
    owner: Bytes20,
    operator: Bytes32,
    tier: Uint8,
    endpoint: new ByteListType(MAX_ENDPOINT_BYTES),
    /** As declared at start (see NodeStartPayload.region); empty when undeclared. */
    region: new ByteListType(MAX_REGION_BYTES),
    collateral: Amount,
    /** See NodeStatus in core/nodes/types.ts. */
    status: Uint8,
    startHeight: Uint64Num,
    /** Number of accepted confirmations (genesis nodes start with 1). */
    confirmations: Uint64Num,
    lastConfirmHeight: Uint64Num,
    /** Started/confirmed: first height at which a confirmation is refused and the node lapses or expires. */
    expiresAt: Uint64Num,
    /** Unlocking/expired: height at which the collateral returns to the owner. */
    unlockAt: Uint64Num,
    /** Position in the payout queue: last paid height, or the first confirmation's height. */
    lastPaidHeight: Uint64Num,
    payouts: Uint64Num,
    rewards: Amount,
    report: BenchReport,
    /** Height at which a quorum of down reports marked it down; 0 while it is not down. */
    downSince: Uint64Num,
    /** Total paid to the owner for hosting apps, and the last height it was paid for that. */
    appEarned: Amount,
    lastAppPaidHeight: Uint64Num,
  },
  { typeName: 'FluxNodeRecord' },
);

export type TxBody = ValueOf<typeof TxBody>;
export type Tx = ValueOf<typeof Tx>;
export type TransferPayload = ValueOf<typeof TransferPayload>;
export type HeaderPrefix = ValueOf<typeof HeaderPrefix>;
export type Header = ValueOf<typeof Header>;
export type Block = ValueOf<typeof Block>;
export type Account = ValueOf<typeof Account>;
export type Supply = ValueOf<typeof Supply>;
export type BenchReport = ValueOf<typeof BenchReport>;
export type NodeStartPayload = ValueOf<typeof NodeStartPayload>;
export type NodeConfirmPayload = ValueOf<typeof NodeConfirmPayload>;
export type NodeStopPayload = ValueOf<typeof NodeStopPayload>;
export type NodeDownPayload = ValueOf<typeof NodeDownPayload>;
export type DownReports = ValueOf<typeof DownReports>;
export type FluxNodeRecord = ValueOf<typeof FluxNodeRecord>;

// Proof-of-Useful-Work (src/core/jobs, src/core/consensus/pouw.ts). Matrix entries travel as
// bytes (int8 two's complement); every length bound is checked against the chain's params.
const MAX_POUW_K = 16_384;
const MAX_PATH = 32;
const MatrixLine = new ByteListType(MAX_POUW_K);
const MerklePath = new ListCompositeType(Bytes32, MAX_PATH);

/** Kind `jobSubmit`: a job's commitments and dimensions; its fee is held in escrow. */
export const JobSubmitPayload = new ContainerType(
  {
    rootA: Bytes32,
    rootB: Bytes32,
    m: Uint32,
    n: Uint32,
    k: Uint32,
    /** What the miner that delivers the product is paid (the transaction's own fee is separate). */
    fee: Amount,
  },
  { typeName: 'JobSubmitPayload' },
);

/** Kind `jobResult`, signed by the claiming miner: the Merkle root of the delivered product. */
export const JobResultPayload = new ContainerType(
  { job: Bytes32, productRoot: Bytes32 },
  { typeName: 'JobResultPayload' },
);

/** Kind `jobChallenge`: a fraud proof against one entry of a delivered product. */
export const JobChallengePayload = new ContainerType(
  {
    job: Bytes32,
    row: Uint32,
    col: Uint32,
    rowA: MatrixLine,
    pathA: MerklePath,
    colB: MatrixLine,
    pathB: MerklePath,
    /** The 16 int32 little-endian entries of row `row` of C holding entry (row, col). */
    chunkC: Bytes64,
    chunkPath: MerklePath,
    rowPath: MerklePath,
  },
  { typeName: 'JobChallengePayload' },
);

/** A job in the state (`job/<id hex>`); see JobStatus in core/jobs/types.ts. */
export const JobRecord = new ContainerType(
  {
    owner: Bytes20,
    rootA: Bytes32,
    rootB: Bytes32,
    m: Uint32,
    n: Uint32,
    k: Uint32,
    fee: Amount,
    status: Uint8,
    submitHeight: Uint64Num,
    /** The miner whose block carried a winning tile of the job (zero until claimed). */
    miner: Bytes20,
    claimHeight: Uint64Num,
    productRoot: Bytes32,
    /** Claimed: last height for the result; delivered: height the fee is paid at. */
    dueHeight: Uint64Num,
  },
  { typeName: 'JobRecord' },
);

/** A PoUW block's work proof (`Block.proof`): the job, one winning tile's opening and transcript. */
export const PouwProof = new ContainerType(
  {
    /** The job's id, or 32 zero bytes for a zero job. */
    job: Bytes32,
    rootA: Bytes32,
    rootB: Bytes32,
    m: Uint32,
    n: Uint32,
    k: Uint32,
    tileRow: Uint32,
    tileCol: Uint32,
    rowsA: new ListCompositeType(MatrixLine, 16),
    pathsA: new ListCompositeType(MerklePath, 16),
    colsB: new ListCompositeType(MatrixLine, 16),
    pathsB: new ListCompositeType(MerklePath, 16),
    transcript: Bytes64,
    ticket: Bytes32,
  },
  { typeName: 'PouwProof' },
);

/**
 * Written by every PoUW block (`pouw/`): counts, and the job its proof names, so the block hash
 * commits to the proof through the state root (the tile is in the header's nonce).
 */
export const PouwTally = new ContainerType(
  {
    pouwBlocks: Uint64Num,
    jobBlocks: Uint64Num,
    lastJob: Bytes32,
    /** sha256 of the proof's job roots and dimensions. */
    lastJobHeader: Bytes32,
  },
  { typeName: 'PouwTally' },
);

export type JobSubmitPayload = ValueOf<typeof JobSubmitPayload>;
export type JobResultPayload = ValueOf<typeof JobResultPayload>;
export type JobChallengePayload = ValueOf<typeof JobChallengePayload>;
export type JobRecord = ValueOf<typeof JobRecord>;
export type PouwProof = ValueOf<typeof PouwProof>;
export type PouwTally = ValueOf<typeof PouwTally>;

// FluxOS applications (src/core/apps). A spec travels as its JSON text, validated by
// core/apps/spec.ts on decode; names are 3..32 characters.
export const MAX_APP_SPEC_BYTES = 8_192;
const AppName = new ByteListType(32);
/** Bound of an app's stored host list (params.apps.maxInstances is at most this). */
export const MAX_APP_HOSTS = 128;

/** Kind `appRegister`: registers the app the spec names; the price is paid into escrow. */
export const AppRegisterPayload = new ContainerType(
  { spec: new ByteListType(MAX_APP_SPEC_BYTES) },
  { typeName: 'AppRegisterPayload' },
);
/** Kind `appUpdate`, by the app's owner: a new spec for the same name; pays or refunds the difference. */
export const AppUpdatePayload = new ContainerType(
  { spec: new ByteListType(MAX_APP_SPEC_BYTES) },
  { typeName: 'AppUpdatePayload' },
);
/** Kind `appExtend`: pays for `blocks` more blocks (anyone may extend an app). */
export const AppExtendPayload = new ContainerType(
  { name: AppName, blocks: Uint64Num },
  { typeName: 'AppExtendPayload' },
);
/** Kind `appCancel`, by the app's owner: ends the app now and refunds the unused blocks. */
export const AppCancelPayload = new ContainerType({ name: AppName }, { typeName: 'AppCancelPayload' });

/** An app in the state (`app/<name>`). */
export const AppRecord = new ContainerType(
  {
    owner: Bytes20,
    spec: new ByteListType(MAX_APP_SPEC_BYTES),
    /** 1 at registration, +1 per update (containers carry it in a label). */
    revision: Uint32,
    registeredAt: Uint64Num,
    updatedAt: Uint64Num,
    /** First height at which the app no longer runs. */
    expiresAt: Uint64Num,
    pricePerBlock: Amount,
    /** Held for this app: pricePerBlock x the blocks not yet settled. */
    escrow: Amount,
    /** Settled (consumed) since the last payout, not yet paid to hosting nodes. */
    owed: Amount,
    /** The nodes paid at the last payout (cancel and expiry pay what is owed to them). */
    hosts: new ListCompositeType(Bytes32, MAX_APP_HOSTS),
  },
  { typeName: 'AppRecord' },
);

/** Chain-wide app escrow (`appescrow/`): refundable `held`, and `earned` (consumed, not yet paid to hosts). */
export const AppEscrow = new ContainerType({ held: Amount, earned: Amount }, { typeName: 'AppEscrow' });

export type AppRegisterPayload = ValueOf<typeof AppRegisterPayload>;
export type AppUpdatePayload = ValueOf<typeof AppUpdatePayload>;
export type AppExtendPayload = ValueOf<typeof AppExtendPayload>;
export type AppCancelPayload = ValueOf<typeof AppCancelPayload>;
export type AppRecord = ValueOf<typeof AppRecord>;
export type AppEscrow = ValueOf<typeof AppEscrow>;

/** Transaction kinds; a payload of any other kind is refused. */
export const TxKind = {
  transfer: 1,
  nodeStart: 2,
  nodeConfirm: 3,
  nodeStop: 4,
  nodeDown: 5,
  // 6..7 left to FluxNodes
  appRegister: 8,
  appUpdate: 9,
  appExtend: 10,
  appCancel: 11,
  // 12..15 left to apps
  jobSubmit: 16,
  jobResult: 17,
  jobChallenge: 18,
} as const;
export type TxKind = (typeof TxKind)[keyof typeof TxKind];

export const TX_KIND_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TxKind).map(([name, id]) => [id, name]),
);
