import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { placementFromState, placementNodesFromState } from '../../../src/core/apps/placement.ts';
import { TxKind } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { genesisNodeId, nodeIdOf } from '../../../src/core/nodes/lifecycle.ts';
import { encodeNodeStart } from '../../../src/core/nodes/payloads.ts';
import { getNode } from '../../../src/core/nodes/queries.ts';
import { inAnyRegion, regionError, regionMatches, regionOf } from '../../../src/core/nodes/region.ts';
import { COIN } from '../../../src/core/params/index.ts';
import { filledKey, idOf } from '../../support/keys.ts';
import { GOOD_REPORT, nodeParams, TestChain } from './helpers.ts';

const owner = filledKey(1);
const operator = filledKey(2);
const params = nodeParams([owner]);

describe('FluxNode regions', () => {
  it('accepts CONTINENT[-COUNTRY] and names the rule otherwise', () => {
    for (const ok of ['EU', 'EU-DE', 'NA-US', 'OC', 'AN-AQ']) assert.equal(regionError(ok), undefined, ok);
    for (const bad of ['', 'DE', 'eu-de', 'EU-DEU', 'EU-', 'XX-DE', 'EU_DE', 'EU-D1', ' EU'])
      assert.match(
        regionError(bad) ?? '',
        /is not a region: a region is a continent \(AF, AN, AS, EU, NA, OC, SA\)/,
        bad,
      );
  });

  it('matches a node to a region it lies in', () => {
    assert.ok(regionMatches('EU-DE', 'EU'));
    assert.ok(regionMatches('EU-DE', 'EU-DE'));
    assert.ok(!regionMatches('EU-DE', 'EU-FR'));
    assert.ok(!regionMatches('EU', 'EU-DE'));
    assert.ok(!regionMatches('', 'EU'));
    assert.ok(!regionMatches('EUX', 'EU'));
    assert.ok(inAnyRegion('', undefined));
    assert.ok(inAnyRegion('NA-US', ['EU', 'NA']));
    assert.ok(!inAnyRegion('AS-JP', ['EU', 'NA']));
  });

  it('a start declares a region, kept in the record and in placement', () => {
    const c = new TestChain(params);
    c.block([
      c.tx(
        owner,
        TxKind.nodeStart,
        encodeNodeStart({
          tier: 'cumulus',
          operator: operator.publicKey,
          endpoint: '127.0.0.1:1',
          region: 'EU-DE',
          deposit: COIN,
        }),
      ),
    ]);
    const id = nodeIdOf(addressBytes(owner.publicKey), 0);
    assert.equal(regionOf(getNode(c.state, id)!.region), 'EU-DE');
    c.block([c.confirm(operator, id, GOOD_REPORT)]);
    const nodes = placementNodesFromState(c.state, params);
    assert.deepEqual(
      nodes.map((n) => [n.id, n.region]),
      [[id, 'EU-DE']],
    );
  });

  it('a start without a region declares none', () => {
    const c = new TestChain(params);
    c.block([c.start(owner, operator, 'cumulus')]);
    const id = nodeIdOf(addressBytes(owner.publicKey), 0);
    assert.equal(getNode(c.state, id)!.region.length, 0);
    c.block([c.confirm(operator, id, GOOD_REPORT)]);
    assert.equal(placementNodesFromState(c.state, params)[0].region, undefined);
  });

  it('refuses a start whose region is not a region, naming the field and the rule', () => {
    const c = new TestChain(params);
    const r = c.try(
      c.tx(
        owner,
        TxKind.nodeStart,
        encodeNodeStart({
          tier: 'cumulus',
          operator: operator.publicKey,
          endpoint: '127.0.0.1:1',
          region: 'DE',
        }),
      ),
    );
    assert.equal(!r.ok && r.error.code, 'MALFORMED');
    assert.match(!r.ok ? r.error.message : '', /nodeStart region: "DE" is not a region: .*like EU or EU-DE/);
  });

  it('genesis nodes carry their region; a bad one stops the genesis', () => {
    const genesis = (region: string) =>
      nodeParams([owner], {
        genesis: {
          time: 0,
          allocations: [{ address: idOf(owner), amount: 100_000n * COIN }],
          nodes: [
            {
              owner: idOf(owner),
              operator: toHex(operator.publicKey),
              tier: 'nimbus',
              endpoint: '127.0.0.2:1',
              region,
            },
          ],
        },
      });
    const c = new TestChain(genesis('NA-US'));
    assert.equal(regionOf(getNode(c.state, genesisNodeId(0))!.region), 'NA-US');
    assert.equal(placementFromState(c.state, c.params, 1).size, 0);
    assert.throws(() => new TestChain(genesis('US')), /genesis node 0: region "US" is not a region/);
  });
});
