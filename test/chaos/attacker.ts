// Attackers for the chaos suite, each run inside its own network namespace (one address):
//
//   attacker.ts sybil  --target MULTIADDR --count 60
//     `count` libp2p identities on this one address dial the target, subscribe to every gossip
//     topic, never forward anything, and redial whenever they are disconnected.
//   attacker.ts replay --targets MULTIADDR,... --record-ms 3000 --rate 300
//     one identity joins the targets, records the heartbeats gossiped for `record-ms`, then
//     publishes those same heartbeat bytes again, `rate` messages a second, round robin.
//
// Prints {"event":"ready"} and then {"event":"stats",...} every 2 s on stdout (one JSON line
// each); stops on SIGTERM or when stdin closes.
import { parseArgs } from 'node:util';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub, StrictSign } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { devnet } from '../../src/core/params/index.ts';
import { gossipTopics } from '../../src/node/p2p/index.ts';
import { generatePeerKey, privateKeyOf } from '../../src/node/p2p/peer-key.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    target: { type: 'string' },
    targets: { type: 'string' },
    count: { type: 'string', default: '60' },
    'record-ms': { type: 'string', default: '3000' },
    rate: { type: 'string', default: '300' },
  },
});
const mode = positionals[0];
const topics = gossipTopics(devnet);
const allTopics = [topics.blocks, topics.txs, topics.heartbeats];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stats: Record<string, number> = {};
const count = (key: string, n = 1) => {
  stats[key] = (stats[key] ?? 0) + n;
};

async function host() {
  const node = await createLibp2p({
    privateKey: await privateKeyOf(generatePeerKey()),
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictSign,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        allowedTopics: allTopics,
        maxInboundDataLength: devnet.limits.maxBlockBytes + 64 * 1024,
      }),
    },
  });
  await node.start();
  return node;
}

type Host = Awaited<ReturnType<typeof host>>;

/** Keeps `node` connected to `addr`: dials now and again whenever the connection is gone. */
function stayConnected(node: Host, addr: string, stopped: () => boolean): Promise<void> {
  const ma = multiaddr(addr);
  const peer = addr.slice(addr.lastIndexOf('/') + 1);
  return (async () => {
    while (!stopped()) {
      if (!node.getConnections().some((c) => c.remotePeer.toString() === peer)) {
        count('dials');
        try {
          await node.dial(ma, { signal: AbortSignal.timeout(5_000) });
        } catch {
          count('dialFailures');
        }
      }
      await sleep(1_000);
    }
  })();
}

async function main(): Promise<void> {
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();

  const hosts: Host[] = [];
  const loops: Array<Promise<void>> = [];
  let connectedTo: () => number;

  if (mode === 'sybil') {
    const target = values.target;
    if (!target) throw new Error('sybil needs --target MULTIADDR');
    const peer = target.slice(target.lastIndexOf('/') + 1);
    const n = Number(values.count);
    for (let i = 0; i < n; i++) {
      const h = await host();
      for (const t of allTopics) h.services.pubsub.subscribe(t);
      hosts.push(h);
      loops.push(stayConnected(h, target, () => stopped));
    }
    connectedTo = () =>
      hosts.filter((h) => h.getConnections().some((c) => c.remotePeer.toString() === peer)).length;
  } else if (mode === 'replay') {
    const targets = (values.targets ?? '').split(',').filter(Boolean);
    if (targets.length === 0) throw new Error('replay needs --targets MULTIADDR,...');
    const h = await host();
    hosts.push(h);
    const pubsub = h.services.pubsub;
    const recorded = new Map<string, Uint8Array>();
    let recording = true;
    pubsub.addEventListener('message', (e) => {
      if (e.detail.topic !== topics.heartbeats) return;
      count('heard');
      if (recording) recorded.set(Buffer.from(e.detail.data).toString('hex'), e.detail.data);
    });
    pubsub.subscribe(topics.heartbeats);
    for (const t of targets) loops.push(stayConnected(h, t, () => stopped));
    const ids = new Set(targets.map((t) => t.slice(t.lastIndexOf('/') + 1)));
    connectedTo = () => h.getConnections().filter((c) => ids.has(c.remotePeer.toString())).length;
    loops.push(
      (async () => {
        await sleep(Number(values['record-ms']));
        recording = false;
        stats.recorded = recorded.size;
        const messages = [...recorded.values()];
        if (messages.length === 0) return;
        const rate = Number(values.rate);
        let i = 0;
        const t0 = Date.now();
        while (!stopped) {
          // Publish what the rate allows by now, in small slices so the event loop breathes.
          const due = Math.floor(((Date.now() - t0) / 1000) * rate);
          while (i < due && !stopped) {
            Promise.resolve(pubsub.publish(topics.heartbeats, messages[i % messages.length])).catch(() =>
              count('publishErrors'),
            );
            i++;
            count('published');
            if (i % 50 === 0) break;
          }
          await sleep(10);
        }
      })(),
    );
  } else {
    throw new Error(`usage: attacker.ts sybil|replay ... (not ${mode})`);
  }

  process.stdout.write(`${JSON.stringify({ event: 'ready', identities: hosts.length })}\n`);
  const report = setInterval(() => {
    process.stdout.write(`${JSON.stringify({ event: 'stats', connected: connectedTo(), ...stats })}\n`);
  }, 2_000);
  while (!stopped) await sleep(200);
  clearInterval(report);
  process.stdout.write(
    `${JSON.stringify({ event: 'stats', connected: connectedTo(), ...stats, final: true })}\n`,
  );
  await Promise.race([Promise.all(loops), sleep(6_000)]);
  await Promise.race([
    Promise.all(hosts.map((h) => Promise.resolve(h.stop()).catch(() => undefined))),
    sleep(3_000),
  ]);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`attacker: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
