// Blocks from gossip whose parent we do not have yet, kept until it arrives. A node that is one
// block behind (catching up after a partition, or a block lost on the way) otherwise drops every
// new block it hears, since each arrives before its parent, and falls back on a sync round per
// block. Bounded in count and bytes, oldest out first; a block's proof of work is checked
// before it is kept, so filling this costs an attacker real work.
import type { PeerId } from '@libp2p/interface';
import type { Block } from '../../core/codec/types.ts';

interface Orphan {
  block: Block;
  parent: string;
  bytes: number;
  from: PeerId;
}

export class OrphanBlocks {
  private readonly byHash = new Map<string, Orphan>();
  private readonly byParent = new Map<string, Set<string>>();
  private bytes = 0;
  private readonly maxBlocks: number;
  private readonly maxBytes: number;

  constructor(opts: { maxBlocks: number; maxBytes: number }) {
    this.maxBlocks = opts.maxBlocks;
    this.maxBytes = opts.maxBytes;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Keeps the block (hash and parent hash in hex) until `take(parent)`; repeats are ignored. */
  add(hash: string, parent: string, block: Block, bytes: number, from: PeerId): void {
    if (this.byHash.has(hash) || bytes > this.maxBytes || this.maxBlocks <= 0) return;
    while (this.byHash.size >= this.maxBlocks || this.bytes + bytes > this.maxBytes) {
      const oldest = this.byHash.keys().next().value as string;
      this.remove(oldest);
    }
    this.byHash.set(hash, { block, parent, bytes, from });
    let children = this.byParent.get(parent);
    if (children === undefined) this.byParent.set(parent, (children = new Set()));
    children.add(hash);
    this.bytes += bytes;
  }

  /** Removes and returns the blocks kept whose parent is `parent` (hex), oldest first. */
  take(parent: string): Array<{ block: Block; from: PeerId }> {
    const children = this.byParent.get(parent);
    if (children === undefined) return [];
    const out: Array<{ block: Block; from: PeerId }> = [];
    for (const hash of children) {
      const o = this.byHash.get(hash);
      if (o !== undefined) out.push({ block: o.block, from: o.from });
      this.remove(hash);
    }
    return out;
  }

  private remove(hash: string): void {
    const o = this.byHash.get(hash);
    if (o === undefined) return;
    this.byHash.delete(hash);
    this.bytes -= o.bytes;
    const siblings = this.byParent.get(o.parent);
    siblings?.delete(hash);
    if (siblings?.size === 0) this.byParent.delete(o.parent);
  }
}
