import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type AppPlacement,
  type PlacementApp,
  type PlacementNode,
  placeApps,
} from '../../../src/core/apps/placement.ts';
import { sha256, toHex } from '../../../src/core/crypto/hash.ts';
import { TIERS } from '../../../src/core/ledger/emission.ts';
import { inAnyRegion } from '../../../src/core/nodes/region.ts';

const nodeId = (i: number) => toHex(sha256(new Uint8Array([i & 255, i >> 8])));

/** Node i's region: i mod 5 ('' declares none). */
const REGIONS = ['EU-DE', 'NA-US', 'EU-FR', '', 'AS-JP'];

function node(i: number, cap = { cpuTenths: 40, ramMb: 8000, hddGb: 200, gpu: 0 }): PlacementNode {
  const region = REGIONS[i % REGIONS.length];
  return { id: nodeId(i), tier: TIERS[i % 3], capacity: cap, ...(region ? { region } : {}) };
}

function app(name: string, instances: number, over: Partial<PlacementApp> = {}): PlacementApp {
  return {
    name,
    registeredAt: 1,
    instances,
    needs: { cpuTenths: 5, ramMb: 1000, hddGb: 10, gpu: 0, ports: 0 },
    hostPorts: [],
    ...over,
  };
}

const asObject = (m: Map<string, AppPlacement>) =>
  Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

const arbApp = fc.record({
  name: fc.stringMatching(/^[a-z]{3,8}$/),
  registeredAt: fc.nat(20),
  instances: fc.integer({ min: 1, max: 4 }),
  needs: fc.record({
    cpuTenths: fc.integer({ min: 1, max: 30 }),
    ramMb: fc.integer({ min: 16, max: 6000 }),
    hddGb: fc.integer({ min: 1, max: 100 }),
    gpu: fc.constant(0),
    ports: fc.constant(0),
  }),
  hostPorts: fc
    .array(fc.constantFrom('8080/tcp', '9000/tcp', '53/udp'), { maxLength: 2 })
    .map((p) => [...new Set(p)]),
  tiers: fc.option(fc.subarray([...TIERS], { minLength: 1 }), { nil: undefined }),
  geolocation: fc.option(fc.subarray(['EU', 'EU-DE', 'NA', 'AS-JP', 'OC'], { minLength: 1 }), {
    nil: undefined,
  }),
});
const arbApps = fc.uniqueArray(arbApp, { selector: (a) => a.name, maxLength: 25 });
const arbNodes = fc.integer({ min: 0, max: 30 }).map((n) => Array.from({ length: n }, (_, i) => node(i)));

describe('placement', () => {
  it('gives the same result for any order of nodes and apps', () => {
    fc.assert(
      fc.property(arbNodes, arbApps, fc.nat(), (nodes, apps, seed) => {
        const shuffle = <T>(xs: T[]) =>
          xs
            .map((x, i) => [((i + 1) * 2654435761 + seed) % 4294967296, x] as const)
            .sort((a, b) => a[0] - b[0])
            .map(([, x]) => x);
        assert.deepEqual(
          asObject(placeApps(shuffle(nodes), shuffle(apps))),
          asObject(placeApps(nodes, apps)),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('never over-commits a node, never puts two instances of an app on one node, never reuses a host port', () => {
    fc.assert(
      fc.property(arbNodes, arbApps, (nodes, apps) => {
        const placed = placeApps(nodes, apps);
        const byName = new Map(apps.map((a) => [a.name, a]));
        for (const n of nodes) {
          let cpu = 0;
          let ram = 0;
          let hdd = 0;
          const ports = new Set<string>();
          for (const p of placed.values()) {
            const hits = p.nodes.filter((id) => id === n.id).length;
            assert.ok(hits <= 1, `${p.name} twice on one node`);
            if (!hits) continue;
            const a = byName.get(p.name)!;
            if (a.tiers) assert.ok(a.tiers.includes(n.tier));
            if (a.geolocation)
              assert.ok(inAnyRegion(n.region ?? '', a.geolocation), `${p.name} outside its region`);
            cpu += a.needs.cpuTenths;
            ram += a.needs.ramMb;
            hdd += a.needs.hddGb;
            for (const port of a.hostPorts) {
              assert.ok(!ports.has(port), `port ${port} twice`);
              ports.add(port);
            }
          }
          assert.ok(cpu <= n.capacity.cpuTenths && ram <= n.capacity.ramMb && hdd <= n.capacity.hddGb);
        }
        for (const p of placed.values()) {
          assert.ok(p.nodes.length <= p.wanted);
          assert.equal(p.nodes.length < p.wanted, p.reason !== undefined);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('moves only the instances of a removed node when capacity is ample', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 60 }),
        fc.integer({ min: 1, max: 40 }),
        fc.nat(),
        (n, count, victim) => {
          const big = { cpuTenths: 100_000, ramMb: 10_000_000, hddGb: 100_000, gpu: 0 };
          const nodes = Array.from({ length: n }, (_, i) => node(i, big));
          const apps = Array.from({ length: count }, (_, i) => app(`app-${i}`, 1 + (i % 3)));
          const before = placeApps(nodes, apps);
          const gone = nodes[victim % n].id;
          const after = placeApps(
            nodes.filter((x) => x.id !== gone),
            apps,
          );
          for (const [name, p] of before) {
            const kept = p.nodes.filter((id) => id !== gone);
            const now = after.get(name)!.nodes;
            for (const id of kept) assert.ok(now.includes(id), `${name} moved off a node that stayed`);
            assert.equal(now.length, Math.min(p.wanted, n - 1));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('spreads apps over nodes', () => {
    const nodes = Array.from({ length: 50 }, (_, i) =>
      node(i, { cpuTenths: 1e6, ramMb: 1e9, hddGb: 1e6, gpu: 0 }),
    );
    const apps = Array.from({ length: 500 }, (_, i) => app(`a${i}`, 1));
    const counts = new Map<string, number>();
    for (const p of placeApps(nodes, apps).values())
      counts.set(p.nodes[0], (counts.get(p.nodes[0]) ?? 0) + 1);
    assert.ok(counts.size >= 45, `only ${counts.size} of 50 nodes used`);
    assert.ok(Math.max(...counts.values()) < 30);
  });

  it('says why an app is not fully placed', () => {
    const nodes = [
      node(0, { cpuTenths: 80, ramMb: 64_000, hddGb: 500, gpu: 0 }),
      node(1, { cpuTenths: 80, ramMb: 64_000, hddGb: 500, gpu: 0 }),
      node(2),
    ];
    const p = placeApps(nodes, [
      app('big', 3, { needs: { cpuTenths: 10, ramMb: 64_000, hddGb: 10, gpu: 0, ports: 0 } }),
    ]).get('big')!;
    assert.equal(p.nodes.length, 2);
    assert.equal(p.reason, '2 of 3 instances placed: no other node: 1 of 3 without 64000 MB RAM free');
    const none = placeApps([], [app('x', 1)]).get('x')!;
    assert.equal(none.reason, '0 of 1 instances placed: no confirmed FluxNode');
  });

  it('leaves a node that cannot run an app out for that app only: its instance goes to the next-ranked node', () => {
    const nodes = Array.from({ length: 6 }, (_, i) => node(i));
    const apps = [app('web', 2), app('db', 2), app('cache', 1)];
    const before = placeApps(nodes, apps);
    const [x] = before.get('web')!.nodes;
    const after = placeApps(nodes, apps, { cannotRun: (a, n) => a === 'web' && n === x });
    const web = after.get('web')!;
    assert.equal(web.nodes.length, 2);
    assert.ok(!web.nodes.includes(x));
    assert.ok(web.nodes.includes(before.get('web')!.nodes[1]), 'the other instance stays');
    assert.deepEqual(after.get('db'), before.get('db'));
    assert.deepEqual(after.get('cache'), before.get('cache'));
    const one = placeApps([node(0)], [app('web', 1)], { cannotRun: () => true }).get('web')!;
    assert.equal(one.reason, '0 of 1 instances placed: no other node: 1 of 1 say they cannot run it');
  });

  it('places a geo-constrained app only on nodes in its regions', () => {
    const big = { cpuTenths: 1000, ramMb: 1e6, hddGb: 1000, gpu: 0 };
    const nodes = Array.from({ length: 40 }, (_, i) => node(i, big));
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const p = placeApps(nodes, [
      app('de', 8, { geolocation: ['EU-DE'] }),
      app('eu', 16, { geolocation: ['EU'] }),
      app('eu-jp', 16, { geolocation: ['EU-FR', 'AS-JP'] }),
      app('anywhere', 40),
    ]);
    const regions = (name: string) => new Set(p.get(name)!.nodes.map((id) => byId.get(id)!.region));
    assert.equal(p.get('de')!.nodes.length, 8);
    assert.deepEqual(regions('de'), new Set(['EU-DE']));
    assert.equal(p.get('eu')!.nodes.length, 16);
    assert.deepEqual(regions('eu'), new Set(['EU-DE', 'EU-FR']));
    assert.deepEqual(regions('eu-jp'), new Set(['EU-FR', 'AS-JP']));
    assert.equal(p.get('anywhere')!.nodes.length, 40, 'nodes without a region host unconstrained apps');
  });

  it('says why a geo-constrained app is not fully placed', () => {
    const nodes = Array.from({ length: 10 }, (_, i) => node(i)); // 2 in EU-DE, 8000 MB each
    const ram = (ramMb: number) => ({ needs: { cpuTenths: 5, ramMb, hddGb: 10, gpu: 0, ports: 0 } });
    const full = placeApps(nodes, [app('de', 2, { geolocation: ['EU-DE'], ...ram(9000) })]).get('de')!;
    assert.deepEqual(full.nodes, []);
    assert.equal(
      full.reason,
      '0 of 2 instances placed: no confirmed node in region EU-DE with 9000 MB RAM free (2 in EU-DE: 2 without 9000 MB RAM free; 8 outside EU-DE, 2 of them declaring no region)',
    );
    const part = placeApps(nodes, [app('de', 3, { geolocation: ['EU-DE'] })]).get('de')!;
    assert.equal(part.nodes.length, 2);
    assert.equal(
      part.reason,
      '2 of 3 instances placed: no other confirmed node in region EU-DE (2 in EU-DE: 2 already host it; 8 outside EU-DE, 2 of them declaring no region)',
    );
    const none = placeApps(nodes, [app('oc', 1, { geolocation: ['OC', 'SA'] })]).get('oc')!;
    assert.equal(
      none.reason,
      '0 of 1 instances placed: no confirmed node in region OC or SA (10 elsewhere, 2 of them declaring no region)',
    );
  });

  it('places apps without a geolocation as if no node declared a region', () => {
    fc.assert(
      fc.property(arbNodes, arbApps, (nodes, apps) => {
        const plain = apps.map((a) => ({ ...a, geolocation: undefined }));
        const bare = nodes.map(({ region: _, ...n }) => n);
        assert.deepEqual(asObject(placeApps(bare, plain)), asObject(placeApps(nodes, plain)));
      }),
      { numRuns: 50 },
    );
  });

  it('places earlier registrations first', () => {
    const nodes = [node(0, { cpuTenths: 10, ramMb: 1000, hddGb: 10, gpu: 0 })];
    const p = placeApps(nodes, [app('late', 1, { registeredAt: 5 }), app('early', 1, { registeredAt: 4 })]);
    assert.equal(p.get('early')!.nodes.length, 1);
    assert.equal(p.get('late')!.nodes.length, 0);
  });
});

describe('placement standbys (replicated volumes)', () => {
  it('puts copies on the next-ranked eligible nodes, which take over in order when the host goes', () => {
    const nodes = Array.from({ length: 12 }, (_, i) => node(i));
    // Its disk need includes the 50 GB volume (instanceResources), as a standby's must once it hosts.
    const db = app('db', 1, {
      standbys: 2,
      volumeGb: 50,
      needs: { cpuTenths: 5, ramMb: 1000, hddGb: 60, gpu: 0, ports: 0 },
    });
    const first = placeApps(nodes, [db]).get('db')!;
    assert.equal(first.nodes.length, 1);
    assert.equal(first.standbys?.length, 2);
    assert.ok(!first.standbys?.includes(first.nodes[0]), 'a host is not its own standby');
    // The host dies: the first standby hosts, the second is first standby, a new one joins.
    const without = placeApps(
      nodes.filter((n) => n.id !== first.nodes[0]),
      [db],
    ).get('db')!;
    assert.deepEqual(without.nodes, [first.standbys?.[0]]);
    assert.equal(without.standbys?.[0], first.standbys?.[1]);
    // A node that could not host it (here: not the disk) is no standby; an app with no replicated volume has none.
    const small = nodes.map((n) =>
      n.id === first.standbys?.[0] ? { ...n, capacity: { ...n.capacity, hddGb: 40 } } : n,
    );
    assert.ok(!placeApps(small, [db]).get('db')!.standbys?.includes(first.standbys![0]));
    assert.equal(placeApps(nodes, [app('web', 1)]).get('web')!.standbys, undefined);
  });

  it('keeps a preferred node (the one running it) as the host, the top-ranked others as standbys', () => {
    const nodes = Array.from({ length: 12 }, (_, i) => node(i));
    const db = app('db', 1, {
      standbys: 2,
      volumeGb: 50,
      needs: { cpuTenths: 5, ramMb: 1000, hddGb: 60, gpu: 0, ports: 0 },
    });
    const ranked = placeApps(nodes, [db]).get('db')!;
    const runner = ranked.standbys![1];
    const sticky = placeApps(nodes, [db], { prefer: () => runner }).get('db')!;
    assert.deepEqual(sticky.nodes, [runner]);
    assert.deepEqual(sticky.standbys, [ranked.nodes[0], ranked.standbys![0]]);
    // A preferred node that cannot host it is passed over.
    const full = nodes.map((n) => (n.id === runner ? { ...n, capacity: { ...n.capacity, ramMb: 10 } } : n));
    assert.deepEqual(placeApps(full, [db], { prefer: () => runner }).get('db')!.nodes, ranked.nodes);
  });
});
