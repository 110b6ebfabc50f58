// Binary sha256 Merkle trees over fixed-position leaves (rows of A, columns of B, chunks of C).
// Leaves are hashed without a tag: the verifier knows each tree's depth from the job's
// dimensions, so a leaf can never be presented as an inner node or the other way round.
import { sha256, sha256Blocks64 } from './hash.ts';

/** Hash of an absent leaf, used to pad a level to an even length. */
export const EMPTY_LEAF = new Uint8Array(32);

export interface MerkleTree {
  /** levels[0] are the leaf hashes, the last level holds the root; levels concatenated 32-byte hashes. */
  levels: Uint8Array[];
  leafCount: number;
}

/** sha256 of a leaf's bytes (node:crypto for long rows, where it is faster than wasm). */
export function hashLeaf(leaf: ArrayBufferView): Uint8Array {
  const bytes = new Uint8Array(leaf.buffer, leaf.byteOffset, leaf.byteLength);
  if (bytes.length !== 64) return sha256(bytes);
  const out = new Uint8Array(32);
  sha256Blocks64(bytes, out);
  return out;
}

/** Depth of a tree with this many leaves: ceil(log2(leafCount)), 0 for one leaf. */
export function treeDepth(leafCount: number): number {
  let depth = 0;
  while (2 ** depth < leafCount) depth++;
  return depth;
}

/** sha256(left || right). */
export function hashNode(left: Uint8Array, right: Uint8Array): Uint8Array {
  const both = new Uint8Array(64);
  both.set(left, 0);
  both.set(right, 32);
  const out = new Uint8Array(32);
  sha256Blocks64(both, out);
  return out;
}

/** Builds the tree from leaf hashes (concatenated); a level of odd length is extended with EMPTY_LEAF. */
export function merkleTreeFromLeafHashes(leafHashes: Uint8Array, leafCount: number): MerkleTree {
  if (leafCount < 1 || leafHashes.length !== leafCount * 32) throw new RangeError('bad leaf hashes');
  const levels = [leafHashes];
  let level = leafHashes;
  let count = leafCount;
  const depth = treeDepth(leafCount);
  for (let d = 0; d < depth; d++) {
    const pairs = Math.ceil(count / 2);
    const input = new Uint8Array(pairs * 64); // zero tail = EMPTY_LEAF on odd levels
    input.set(level.subarray(0, count * 32));
    const next = new Uint8Array(pairs * 32);
    sha256Blocks64(input, next);
    levels.push(next);
    level = next;
    count = pairs;
  }
  return { levels, leafCount };
}

/** Builds the tree over leaves given as byte strings (rows, columns). */
export function merkleTree(leaves: ArrayBufferView[]): MerkleTree {
  const hashes = new Uint8Array(leaves.length * 32);
  for (let i = 0; i < leaves.length; i++) hashes.set(hashLeaf(leaves[i]), i * 32);
  return merkleTreeFromLeafHashes(hashes, leaves.length);
}

export function merkleRoot(tree: MerkleTree): Uint8Array {
  return tree.levels[tree.levels.length - 1].slice(0, 32);
}

/** Sibling hashes from the leaf up to (not including) the root. */
export function merklePath(tree: MerkleTree, index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= tree.leafCount)
    throw new RangeError(`leaf ${index} is not in the tree`);
  const path: Uint8Array[] = [];
  let at = index;
  for (let d = 0; d < tree.levels.length - 1; d++) {
    const level = tree.levels[d];
    const sibling = at ^ 1;
    path.push(
      sibling * 32 < level.length ? level.slice(sibling * 32, sibling * 32 + 32) : EMPTY_LEAF.slice(),
    );
    at >>= 1;
  }
  return path;
}

/** Root implied by a leaf hash and its path, or null when the path has the wrong shape. */
export function rootFromPath(
  leafHash: Uint8Array,
  index: number,
  leafCount: number,
  path: Uint8Array[],
): Uint8Array | null {
  if (!Number.isInteger(index) || index < 0 || index >= leafCount) return null;
  if (path.length !== treeDepth(leafCount)) return null;
  let node = leafHash;
  let at = index;
  for (const sibling of path) {
    if (sibling.length !== 32) return null;
    node = at & 1 ? hashNode(sibling, node) : hashNode(node, sibling);
    at >>= 1;
  }
  return node;
}

export function verifyMerklePath(
  root: Uint8Array,
  leaf: ArrayBufferView,
  index: number,
  leafCount: number,
  path: Uint8Array[],
): boolean {
  const computed = rootFromPath(hashLeaf(leaf), index, leafCount, path);
  return computed !== null && bytesEqual(computed, root);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
