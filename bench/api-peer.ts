// The node side of the API benchmark: opens the chain in DATADIR (built by api.bench.ts), serves
// the API on a free loopback port with the node's job state, as a node does, prints the port on
// stdout and exits on SIGTERM. Its own process, so the load generator does not share its loop.
import { join } from 'node:path';
import { startApiServer } from '../src/node/api/server.ts';
import { openChain } from '../src/node/chain/chain.ts';
import { JobDataStore } from '../src/node/jobs/store.ts';

import { benchParams } from './api.bench.ts';

const [datadir, genesisTime] = process.argv.slice(2);
const params = benchParams(Number(genesisTime));
const chain = openChain({ params, dbPath: join(datadir, 'chain.db') });
const api = await startApiServer({
  chain,
  port: 0,
  jobs: { state: chain.state, data: new JobDataStore(join(datadir, 'jobs'), params.pouw) },
});
console.log(api.port);
process.on('SIGTERM', () => {
  api.app.server.closeAllConnections();
  void api.close().then(() => {
    chain.close();
    process.exit(0);
  });
});
