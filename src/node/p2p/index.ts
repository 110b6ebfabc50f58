export type { JobDataFetch, JobDataSource, ProductFetch, ProductWanted } from './jobdata.ts';
export { JOBDATA_PROTOCOL, JOBDATA_PROTOCOL_V2 } from './jobdata.ts';
export { createP2P, gossipTopics } from './p2p.ts';
export { generatePeerKey, loadOrCreatePeerKey, PEER_KEY_BYTES, peerIdOf } from './peer-key.ts';
export { PENALTIES } from './peers.ts';
export type {
  HeartbeatJudge,
  P2P,
  P2PEvents,
  P2PLimits,
  P2POptions,
  PeerInfo,
  SyncProgress,
} from './types.ts';
export { DEFAULT_LIMITS } from './types.ts';
export { SYNC_PROTOCOL } from './wire.ts';
