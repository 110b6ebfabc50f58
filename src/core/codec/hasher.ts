// SSZ hash tree roots use the fastest sha256 available: the native hashtree library where it
// loads, else the wasm as-sha256. Both compute the same sha256; only the speed differs.
import { setHasher } from '@chainsafe/persistent-merkle-tree';
import { hasher as wasmHasher } from '@chainsafe/persistent-merkle-tree/hasher/as-sha256';

try {
  const { hasher } = await import('@chainsafe/persistent-merkle-tree/hasher/hashtree');
  setHasher(hasher);
} catch {
  setHasher(wasmHasher);
}
