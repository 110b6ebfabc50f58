// Every REST route is declared once here (the app and job routes in app-routes.ts and
// job-routes.ts): method, path, request and response schemas, summary. The server
// (src/node/api/server.ts), the OpenAPI document and the typed client (client.ts) all read these.
// JSON conventions: amounts are decimal strings of base units (10^-8 FLUX), hashes and ids are
// lowercase hex, addresses are bech32m (`flux1...` on mainnet, `tflux1...` elsewhere).
import { z } from 'zod';
import { appRoutes } from './app-routes.ts';
import { jobRoutes, PouwInfoJson } from './job-routes.ts';
import { route } from './route.ts';

const HEX32 = /^(0x)?[0-9a-fA-F]{64}$/;
const UINT = /^(0|[1-9][0-9]{0,15})$/;

/** A non-negative decimal integer in a path or query string, below 2^53. */
const uintParam = (field: string) =>
  z
    .string()
    .regex(UINT, { error: `${field} must be a non-negative integer (digits only)` })
    .transform(Number)
    .refine(Number.isSafeInteger, { error: `${field} is too large` });

export const Hash = z.string().describe('32 bytes, hex');
export const AmountString = z.string().describe('amount in base units (10^-8 FLUX), decimal');
export const Address = z.string().describe('bech32m address');

export const TransferJson = z.object({ to: Address, amount: AmountString, memo: z.string() });

export const TxJson = z
  .object({
    id: Hash,
    status: z.enum(['mined', 'pending']),
    chainId: z.number(),
    nonce: z.number(),
    fee: AmountString,
    from: Address,
    senderPublicKey: z.string(),
    kind: z.string().describe("'transfer', or 'unknown(N)'"),
    transfer: TransferJson.optional(),
    signature: z.string(),
    size: z.number(),
    blockHash: Hash.optional(),
    height: z.number().optional(),
    index: z.number().optional(),
  })
  .meta({ id: 'Tx' });
export type TxJson = z.infer<typeof TxJson>;

export const HeaderJson = z.object({
  version: z.number(),
  height: z.number(),
  parent: Hash,
  time: z.number().describe('ms since the Unix epoch'),
  stateRoot: Hash,
  txRoot: Hash,
  target: Hash,
  miner: Address,
  nonce: z.number(),
});

export const BlockJson = z
  .object({
    hash: Hash,
    height: z.number(),
    header: HeaderJson,
    work: z.string().describe('expected hashes to meet the target, decimal'),
    size: z.number(),
    txs: z.array(TxJson),
  })
  .meta({ id: 'Block' });
export type BlockJson = z.infer<typeof BlockJson>;

export const SupplyJson = z.object({
  height: z.number(),
  minted: AmountString,
  locked: AmountString,
  maxSupply: AmountString,
  nextSubsidy: AmountString,
});
export type SupplyJson = z.infer<typeof SupplyJson>;

export const ChainInfoJson = z.object({
  network: z.string(),
  chainId: z.number(),
  addressPrefix: z.string(),
  height: z.number(),
  tipHash: Hash,
  tipTime: z.number(),
  cumulativeWork: z.string().describe('decimal'),
  difficulty: z.object({
    target: Hash.describe('target of the tip block, 256-bit hex'),
    work: z.string().describe('expected hashes per block at that target, decimal'),
  }),
  supply: SupplyJson,
  nextSubsidy: AmountString,
  mempoolSize: z.number(),
  minFeePerByte: AmountString,
  peers: z.number().optional().describe('connected peers (absent when the node runs without p2p)'),
  syncing: z.boolean().optional().describe('whether the node is catching up with a peer'),
  consensus: z.enum(['pow', 'pouw']).optional().describe('the rule the next block is mined under'),
  pouw: PouwInfoJson.optional(),
});
export type ChainInfoJson = z.infer<typeof ChainInfoJson>;

export const AccountJson = z.object({
  address: Address,
  balance: AmountString,
  locked: AmountString,
  nonce: z.number(),
  pendingNonce: z.number().describe('the nonce to use for the next transaction, counting the mempool'),
});
export type AccountJson = z.infer<typeof AccountJson>;

export const PeerJson = z.object({
  id: z.string().describe('libp2p peer id'),
  addrs: z.array(z.string()),
  direction: z.enum(['inbound', 'outbound']),
  score: z.number().describe('0 is neutral; at the ban threshold the peer is disconnected and banned'),
  height: z.number().optional().describe("the peer's height as it last told us"),
  cumulativeWork: z.string().optional().describe('decimal'),
});

export const SyncJson = z.object({
  peer: z.string(),
  startHeight: z.number(),
  height: z.number(),
  targetHeight: z.number(),
  blocks: z.number(),
  blocksPerSecond: z.number(),
});

export const NetworkJson = z
  .object({
    enabled: z.boolean().describe('false when the node runs without p2p'),
    peerId: z.string().optional(),
    listen: z.array(z.string()).describe('multiaddrs others can dial, each ending in /p2p/<peer id>'),
    syncing: z.boolean(),
    sync: SyncJson.optional().describe('progress of the running sync'),
    peers: z.array(PeerJson),
    banned: z.number().describe('peers refused for now'),
    isolation: z
      .object({
        isolated: z.boolean().describe('this node looks cut off from the network: it sends no down reports'),
        since: z.number().describe('ms since the Unix epoch it has been (or stopped being) isolated'),
        reasons: z.array(z.string()).describe('why it looks isolated; empty when it is connected'),
      })
      .optional(),
  })
  .meta({ id: 'Network' });
export type NetworkJson = z.infer<typeof NetworkJson>;

export const MempoolEntryJson = TxJson.extend({ feePerByte: AmountString });

const limitQuery = z.object({ limit: uintParam('limit').optional() });

export const TIER_NAMES = ['cumulus', 'nimbus', 'stratus'] as const;
export const NODE_STATUSES = ['started', 'confirmed', 'expired', 'unlocking', 'closed', 'lapsed'] as const;
const NODE_ID = /^[0-9a-f]{64}$/;
const nodeIdParams = z.object({
  id: z.string().regex(NODE_ID, { error: 'id must be a node id (64 lowercase hex characters)' }),
});

export const BenchReportJson = z.object({
  cores: z.number(),
  ramMb: z.number(),
  ssdGb: z.number().describe('free disk, GB'),
  eventsPerSec: z.number().describe('sha256 of 4 KiB blocks per second, all cores'),
  diskWriteMBps: z.number(),
  measuredAt: z.number().describe('ms since the Unix epoch; 0 for none yet'),
});
export type BenchReportJson = z.infer<typeof BenchReportJson>;

export const NodeJson = z
  .object({
    id: z.string(),
    tier: z.enum(TIER_NAMES),
    status: z.enum(NODE_STATUSES),
    owner: Address.describe('collateral owner, paid the rewards'),
    operator: z.string().describe('ed25519 public key (hex) that signs confirmations'),
    operatorAddress: Address,
    endpoint: z.string(),
    region: z
      .string()
      .optional()
      .describe('where the node is, CONTINENT[-COUNTRY] like EU-DE; absent: undeclared'),
    collateral: AmountString,
    startHeight: z.number(),
    confirmations: z.number(),
    lastConfirmHeight: z.number().optional(),
    confirmFrom: z.number().optional().describe('started/confirmed: first height of the next confirmation'),
    expiresAt: z.number().optional().describe('started/confirmed: height at which it lapses or expires'),
    unlockAt: z.number().optional().describe('expired/unlocking: height at which the collateral returns'),
    lastPaidHeight: z.number().optional(),
    queuePosition: z.number().optional().describe('confirmed: 0 is paid next'),
    down: z.boolean().describe('confirmed but marked down by a quorum of reports: hosts and earns nothing'),
    downSince: z.number().optional().describe('down: height at which the reports marked it down'),
    payouts: z.number(),
    rewards: AmountString,
    appEarned: AmountString.describe('paid to the owner for hosting apps, in total'),
    liveness: z
      .object({
        state: z.enum(['alive', 'returning', 'down']),
        since: z.number().describe('ms since the Unix epoch it has been in this state'),
        lastHeard: z.number().optional().describe('ms since the Unix epoch of its last heartbeat heard'),
      })
      .optional()
      .describe('the node as the answering node’s heartbeat view sees it (confirmed nodes only)'),
    report: BenchReportJson,
  })
  .meta({ id: 'FluxNode' });
export type NodeJson = z.infer<typeof NodeJson>;

export const PayoutQueuesJson = z.object({
  height: z.number(),
  tiers: z.array(
    z.object({
      tier: z.enum(TIER_NAMES),
      length: z.number(),
      share: AmountString.describe("the tier's share of the next block's subsidy"),
      next: z.array(z.object({ id: z.string(), owner: Address, lastPaidHeight: z.number() })),
    }),
  ),
});
export type PayoutQueuesJson = z.infer<typeof PayoutQueuesJson>;

export const NodeRewardsJson = z.object({
  id: z.string(),
  owner: Address,
  payouts: z.number(),
  rewards: AmountString,
  lastPaidHeight: z.number().optional(),
  appEarned: AmountString.describe('paid to the owner for hosting apps, in total'),
  lastAppPaidHeight: z.number().optional().describe('last height it was paid for hosting apps'),
  down: z.boolean(),
  downSince: z.number().optional(),
  queuePosition: z.number().optional(),
  queueLength: z.number(),
  /** Blocks until its next payout if it stays confirmed. */
  nextPayoutIn: z.number().optional(),
});
export type NodeRewardsJson = z.infer<typeof NodeRewardsJson>;

export const routes = {
  chainInfo: route({
    method: 'GET',
    path: '/chain/info',
    summary: 'Network, tip, cumulative work, difficulty, supply and next subsidy',
    status: 200,
    response: ChainInfoJson,
  }),
  block: route({
    method: 'GET',
    path: '/blocks/:id',
    summary: 'A block of the best chain by height, or any stored block by hash',
    params: z.object({
      id: z.string().refine((s) => UINT.test(s) || HEX32.test(s), {
        error: 'id must be a block height (digits) or a block hash (64 hex characters)',
      }),
    }),
    status: 200,
    response: BlockJson,
  }),
  tx: route({
    method: 'GET',
    path: '/txs/:id',
    summary: 'A transaction by id, mined or pending',
    params: z.object({
      id: z.string().regex(HEX32, { error: 'id must be a transaction id (64 hex characters)' }),
    }),
    status: 200,
    response: TxJson,
  }),
  account: route({
    method: 'GET',
    path: '/accounts/:address',
    summary: 'Balance, locked amount, nonce and pending nonce of an account',
    params: z.object({ address: Address }),
    status: 200,
    response: AccountJson,
  }),
  accountTxs: route({
    method: 'GET',
    path: '/accounts/:address/txs',
    summary: 'Transactions sent or received by an account: pending first, then mined, newest first',
    params: z.object({ address: Address }),
    query: limitQuery,
    status: 200,
    response: z.object({ address: Address, txs: z.array(TxJson) }),
  }),
  supply: route({
    method: 'GET',
    path: '/supply',
    summary: 'Minted, locked and maximum supply at the tip or at a height',
    query: z.object({ at: uintParam('at').optional() }),
    status: 200,
    response: SupplyJson,
  }),
  submitTx: route({
    method: 'POST',
    path: '/txs',
    summary: 'Submit a signed transaction (hex of its SSZ encoding) to the mempool',
    body: z.strictObject({
      tx: z
        .string({ error: 'tx must be a string of hex' })
        .min(2, { error: 'tx must not be empty' })
        .regex(/^(0x)?([0-9a-fA-F]{2})+$/, { error: 'tx must be hex (an even number of 0-9a-f digits)' }),
    }),
    status: 201,
    response: z.object({ id: Hash }),
  }),
  mempool: route({
    method: 'GET',
    path: '/mempool',
    summary: 'Pending transactions, best fee rate first',
    query: limitQuery,
    status: 200,
    response: z.object({ count: z.number(), txs: z.array(MempoolEntryJson) }),
  }),
  nodes: route({
    method: 'GET',
    path: '/nodes',
    summary: 'FluxNodes in id order, optionally of one tier and/or status',
    query: z.object({
      tier: z.enum(TIER_NAMES).optional(),
      status: z.enum(NODE_STATUSES).optional(),
      limit: uintParam('limit').optional(),
    }),
    status: 200,
    response: z.object({ height: z.number(), count: z.number(), nodes: z.array(NodeJson) }),
  }),
  payoutQueues: route({
    method: 'GET',
    path: '/nodes/queues',
    summary: "Each tier's payout queue, next paid first",
    query: limitQuery,
    status: 200,
    response: PayoutQueuesJson,
  }),
  node: route({
    method: 'GET',
    path: '/nodes/:id',
    summary:
      'One FluxNode: state (and whether it is down), confirmations, payout position, rewards, last report',
    params: nodeIdParams,
    status: 200,
    response: NodeJson,
  }),
  nodeRewards: route({
    method: 'GET',
    path: '/nodes/:id/rewards',
    summary: "A FluxNode's block rewards, its app hosting earnings and its place in the payout queue",
    params: nodeIdParams,
    status: 200,
    response: NodeRewardsJson,
  }),
  network: route({
    method: 'GET',
    path: '/network',
    summary: 'Peer id, listen addresses, connected peers (score, height) and sync state',
    status: 200,
    response: NetworkJson,
  }),
  ...jobRoutes,
  ...appRoutes,
} as const;

export type Routes = typeof routes;
export type RouteName = keyof Routes;
