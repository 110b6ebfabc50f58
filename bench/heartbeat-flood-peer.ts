// The rogue of the heartbeat flood benchmark, in its own process so the target's CPU time is its
// own: it joins the target's heartbeat topic, records real heartbeats, then sends them again,
// each in a new envelope, as fast as it can until the target hangs up; then it comes back with a
// new peer id from a new loopback address (a sybil with many hosts), until COUNT are sent.
// Usage: node bench/heartbeat-flood-peer.ts TARGET_MULTIADDR TOPIC COUNT
// Prints `flooding` when it starts and `{"sent":N,"identities":M}` when it stops.
import { multiaddr } from '@multiformats/multiaddr';
import { canBind, rawHost, recordTopic } from '../test/support/p2p.ts';
import { until } from '../test/support/wait.ts';

const [target, topic, count] = process.argv.slice(2);
const MAX_IDENTITIES = 20;

/** Linux answers on all of 127/8; elsewhere there is one address, and one identity gets through. */
const manyAddresses = await canBind('127.0.3.1');

/** A rogue identity dialing from its own loopback address, not 127.0.0.1. */
const identity = (n: number) =>
  rawHost({ from: manyAddresses ? `127.0.3.${n + 1}` : '127.0.0.1', publishToZeroPeers: false });

const recorded: Uint8Array[] = [];
let sent = 0;
let identities = 0;
for (let n = 0; n < MAX_IDENTITIES && sent < Number(count); n++) {
  const rogue = await identity(n);
  const pubsub = rogue.services.pubsub;
  recordTopic(rogue, topic, recorded);
  const joined =
    (await rogue.dial(multiaddr(target)).then(
      () => true,
      () => false,
    )) &&
    (await until(
      'the rogue to join the topic and record heartbeats',
      () => pubsub.getSubscribers(topic).length > 0 && recorded.length >= 4,
      15_000,
      10,
    ).then(
      () => true,
      () => false,
    ));
  if (!joined) {
    await rogue.stop();
    break; // refused (its address is banned): no more identities to try
  }
  if (n === 0) console.log('flooding');
  identities++;
  let cutOff = false;
  while (sent < Number(count) && !cutOff) {
    // 64 at a time: signing the envelopes is the rogue's bottleneck, not waiting for each.
    const batch = Array.from({ length: 64 }, (_, i) =>
      pubsub.publish(topic, recorded[(sent + i) % recorded.length]).then(
        () => 1,
        () => {
          cutOff = true; // the target hung up: no subscriber left
          return 0;
        },
      ),
    );
    for (const ok of await Promise.all(batch)) sent += ok;
    await new Promise((r) => setImmediate(r));
  }
  await rogue.stop();
}
console.log(JSON.stringify({ sent, identities }));
process.exit(0);
