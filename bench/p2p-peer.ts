// The serving peer of the sync benchmark, in its own process: opens a chain and serves it.
// Usage: node bench/p2p-peer.ts DB_PATH GENESIS_TIME_MS (prints its multiaddr on stdout).
import { openChain } from '../src/node/chain/chain.ts';
import { createP2P } from '../src/node/p2p/index.ts';
import { benchParams } from './p2p.bench.ts';

const [dbPath, genesisTime] = process.argv.slice(2);
const chain = openChain({ params: benchParams(Number(genesisTime)), dbPath });
const p2p = await createP2P({ chain });
await p2p.start();
console.log(p2p.multiaddrs()[0]);
process.on('SIGTERM', async () => {
  await p2p.stop();
  chain.close();
  process.exit(0);
});
