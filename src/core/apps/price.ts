// The price of an app: a pure function of its spec and the chain's price parameters.
import type { AppParams } from '../params/index.ts';
import { type AppSpec, instanceResources } from './spec.ts';

export interface AppPrice {
  /** Each line is the item's cost over the whole duration and all instances, in base units. */
  items: { cpu: bigint; ram: bigint; hdd: bigint; ports: bigint; instances: bigint };
  /** What one block of the app costs (all instances). */
  perBlock: bigint;
  blocks: number;
  instances: number;
  total: bigint;
}

/** What one block of the app costs, by item (all instances). */
export function appPricePerBlock(spec: AppSpec, params: AppParams): AppPrice['items'] {
  const r = instanceResources(spec);
  const n = BigInt(spec.instances);
  const p = params.price;
  return {
    cpu: BigInt(r.cpuTenths) * p.cpuTenth * n,
    ram: BigInt(r.ramMb) * p.ramMb * n,
    hdd: BigInt(r.hddGb) * p.hddGb * n,
    ports: BigInt(r.ports) * p.port * n,
    instances: p.instance * n,
  };
}

/** The price of running `spec` for `blocks` blocks (default: its expiryBlocks). */
export function appPrice(spec: AppSpec, params: AppParams, blocks = spec.expiryBlocks): AppPrice {
  const each = appPricePerBlock(spec, params);
  const b = BigInt(blocks);
  const items = {
    cpu: each.cpu * b,
    ram: each.ram * b,
    hdd: each.hdd * b,
    ports: each.ports * b,
    instances: each.instances * b,
  };
  const perBlock = each.cpu + each.ram + each.hdd + each.ports + each.instances;
  return { items, perBlock, blocks, instances: spec.instances, total: perBlock * b };
}
