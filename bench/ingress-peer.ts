// A process of the ingress benchmark: `upstream` serves a small fixed answer (the "container"),
// `ingress PORT` runs the ingress with one app, `bench`, whose two instances are that port on
// 127.0.0.1 (twice, so round robin runs). Prints its port on stdout; exits on SIGTERM.
import { createServer } from 'node:http';
import { startIngress } from '../src/node/ingress/proxy.ts';

const [mode, upstreamPort] = process.argv.slice(2);
const BODY = Buffer.from('hello from the bench upstream\n');

if (mode === 'upstream') {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    console.log(typeof a === 'object' && a ? a.port : 0);
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
} else {
  const instance = { host: '127.0.0.1', port: Number(upstreamPort) };
  const ingress = await startIngress({
    resolve: (app) =>
      app === 'bench' ? { found: true, instances: [instance, { ...instance }] } : { found: false },
    host: '127.0.0.1',
    port: 0,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  console.log(ingress.port);
  process.on('SIGTERM', () => void ingress.close().then(() => process.exit(0)));
}
