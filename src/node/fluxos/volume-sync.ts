// The file-level half of volume replication: a volume's manifest (every path with its type,
// owner, mode and, for files, size and sha256), the difference between two manifests, the delta
// that carries it (a JSON header, then the changed files' bytes), and applying a delta to a copy
// so that every file changes at once (written beside the copy, renamed into place) and no
// half-written state is ever seen. Paths from a delta are hostile until checked: relative, no
// `..`, no parent that is a symlink, so a delta writes nothing outside the copy.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export interface Entry {
  /** Relative, `/`-separated, no `.` or `..` parts. */
  path: string;
  type: 'f' | 'd' | 'l';
  /** Permission bits (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Files: bytes. */
  size?: number;
  /** Files: sha256 hex of the content. */
  hash?: string;
  /** Files: modification time, ms. */
  mtimeMs?: number;
  /** Symlinks: where they point (kept as written; never followed when applying). */
  target?: string;
}

export type Manifest = Map<string, Entry>;

/** What a scan remembers of a file to skip hashing it again: inode, size, mtime. */
export type ScanCache = Map<string, { ino: number; size: number; mtimeNs: bigint; hash: string }>;

export interface Scan {
  manifest: Manifest;
  /** Content read during this scan (files new or changed since the cache), by path. */
  read: Map<string, Buffer>;
  /** Files whose content was not read this scan (over `maxReadBytes`): their entries keep the previous hash. */
  deferred: number;
}

const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Walks `dir` (lstat, never following links): a manifest of everything under it. Files the cache
 * knows unchanged keep their hash; the others are read (up to `maxReadBytes` in all; the rest
 * keep their previous entry, or are left out when new, and count as deferred).
 */
export function scanTree(dir: string, cache: ScanCache, prev: Manifest, maxReadBytes = 256 * 2 ** 20): Scan {
  const manifest: Manifest = new Map();
  const read = new Map<string, Buffer>();
  let budget = maxReadBytes;
  let deferred = 0;
  const seen = new Set<string>();
  const walk = (rel: string) => {
    const names = readdirSync(rel ? join(dir, rel) : dir).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, path), { bigint: true });
      const base = { path, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
      if (st.isDirectory()) {
        manifest.set(path, { ...base, type: 'd' });
        walk(path);
      } else if (st.isSymbolicLink()) {
        manifest.set(path, { ...base, type: 'l', target: readlinkSync(join(dir, path)) });
      } else if (st.isFile()) {
        seen.add(path);
        const size = Number(st.size);
        const known = cache.get(path);
        let hash: string | undefined;
        if (known && known.ino === Number(st.ino) && known.size === size && known.mtimeNs === st.mtimeNs)
          hash = known.hash;
        else if (size <= budget) {
          const content = readFileSync(join(dir, path));
          budget -= content.length;
          hash = sha256Hex(content);
          read.set(path, content);
          cache.set(path, { ino: Number(st.ino), size: content.length, mtimeNs: st.mtimeNs, hash });
        } else {
          deferred++;
          const old = prev.get(path);
          if (old) manifest.set(path, old);
          continue;
        }
        manifest.set(path, {
          ...base,
          type: 'f',
          size: read.get(path)?.length ?? size,
          hash,
          mtimeMs: Number(st.mtimeNs / 1_000_000n),
        });
      }
      // Sockets, fifos and devices are not carried.
    }
  };
  if (existsSync(dir)) walk('');
  for (const path of [...cache.keys()]) if (!seen.has(path)) cache.delete(path);
  return { manifest, read, deferred };
}

const same = (a: Entry, b: Entry) =>
  a.type === b.type &&
  a.mode === b.mode &&
  a.uid === b.uid &&
  a.gid === b.gid &&
  a.hash === b.hash &&
  a.target === b.target;

/** What turns `have` into `want`: entries to write (new or changed) and paths to delete. */
export function diffManifests(want: Manifest, have: Manifest): { entries: Entry[]; deletes: string[] } {
  const entries: Entry[] = [];
  for (const e of want.values()) {
    const h = have.get(e.path);
    if (!h || !same(e, h)) entries.push(e);
  }
  const deletes = [...have.keys()].filter((p) => !want.has(p));
  return { entries, deletes };
}

export interface DeltaHeader {
  app: string;
  volume: string;
  generation: number;
  seq: number;
  entries: Entry[];
  deletes: string[];
}

/** A delta on the wire: u32 BE length of the JSON header, the header, then each file entry's bytes in order. */
export function encodeDelta(header: DeltaHeader, contents: Buffer[]): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([len, json, ...contents]);
}

export const MAX_DELTA_HEADER_BYTES = 32 * 2 ** 20;
const MAX_PATH = 4096;

/** Checks a path from a delta: relative, `/`-separated, no empty, `.` or `..` part, no NUL. */
export function safeRelative(path: unknown): path is string {
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_PATH) return false;
  if (path.startsWith('/') || path.includes('\0') || path.includes('\\')) return false;
  return path.split('/').every((p) => p !== '' && p !== '.' && p !== '..');
}

/** Parses and checks a delta; every file's bytes are checked against its hash. Throws with the reason. */
export function decodeDelta(buf: Buffer): { header: DeltaHeader; files: Map<string, Buffer> } {
  if (buf.length < 4) throw new Error('a delta is at least 4 bytes');
  const len = buf.readUInt32BE(0);
  if (len > MAX_DELTA_HEADER_BYTES || 4 + len > buf.length) throw new Error(`a delta header of ${len} bytes`);
  let header: DeltaHeader;
  try {
    header = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as DeltaHeader;
  } catch (e) {
    throw new Error(`the delta header is not JSON: ${(e as Error).message}`);
  }
  if (
    !header ||
    typeof header.app !== 'string' ||
    typeof header.volume !== 'string' ||
    !Number.isSafeInteger(header.generation) ||
    !Number.isSafeInteger(header.seq) ||
    !Array.isArray(header.entries) ||
    !Array.isArray(header.deletes)
  )
    throw new Error('the delta header lacks app, volume, generation, seq, entries or deletes');
  const files = new Map<string, Buffer>();
  let at = 4 + len;
  for (const e of header.entries) {
    if (!e || !safeRelative(e.path)) throw new Error(`a bad path in the delta: ${JSON.stringify(e?.path)}`);
    if (!['f', 'd', 'l'].includes(e.type)) throw new Error(`${e.path}: type ${JSON.stringify(e.type)}`);
    for (const k of ['mode', 'uid', 'gid'] as const)
      if (!Number.isSafeInteger(e[k]) || e[k] < 0) throw new Error(`${e.path}: bad ${k}`);
    if (
      e.type === 'l' &&
      (typeof e.target !== 'string' || e.target.length > MAX_PATH || e.target.includes('\0'))
    )
      throw new Error(`${e.path}: bad symlink target`);
    if (e.type !== 'f') continue;
    const size = e.size ?? -1;
    if (!Number.isSafeInteger(size) || size < 0 || at + size > buf.length)
      throw new Error(`${e.path}: ${size} bytes, past the end of the delta`);
    const content = buf.subarray(at, at + size);
    at += size;
    if (sha256Hex(content) !== e.hash) throw new Error(`${e.path}: the content does not match its sha256`);
    files.set(e.path, content);
  }
  if (at !== buf.length) throw new Error(`${buf.length - at} bytes after the last file of the delta`);
  for (const d of header.deletes)
    if (!safeRelative(d)) throw new Error(`a bad path to delete: ${JSON.stringify(d)}`);
  return { header, files };
}

/** lstat, or undefined when nothing is there (or a parent is not a directory). */
function lstatOrNone(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** Throws unless every parent of `path` under `root` is a real directory (not a symlink). */
function checkParents(root: string, path: string): void {
  const parts = path.split('/');
  let cur = root;
  for (const p of parts.slice(0, -1)) {
    cur = join(cur, p);
    const st = lstatOrNone(cur);
    if (!st || !st.isDirectory())
      throw new Error(`${path}: its parent ${cur.slice(root.length + 1)} is not a directory`);
  }
}

const ownAndMode = (full: string, e: Entry) => {
  if (e.type === 'l') {
    lchownSync(full, e.uid, e.gid);
    return;
  }
  chownSync(full, e.uid, e.gid);
  chmodSync(full, e.mode);
};

/**
 * Applies a decoded delta to the copy at `dataDir`, staging files in `tmpDir` (on the same file
 * system) and renaming each into place. Deletes deepest first, directories shallowest first,
 * then files and symlinks; owners and modes as the primary has them.
 */
export function applyDelta(
  dataDir: string,
  tmpDir: string,
  header: DeltaHeader,
  files: Map<string, Buffer>,
): void {
  mkdirSync(dataDir, { recursive: true });
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  const depth = (p: string) => p.split('/').length;
  // What is deleted or changes type goes first, deepest first.
  const removals = [...header.deletes];
  for (const e of header.entries) {
    const st = lstatOrNone(join(dataDir, e.path));
    if (!st) continue;
    const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f';
    if (type !== e.type) removals.push(e.path);
  }
  for (const p of removals.sort((a, b) => depth(b) - depth(a))) {
    if (!lstatOrNone(join(dataDir, p))) continue;
    checkParents(dataDir, p);
    rmSync(join(dataDir, p), { recursive: true, force: true });
  }
  const dirs = header.entries.filter((e) => e.type === 'd').sort((a, b) => depth(a.path) - depth(b.path));
  for (const e of dirs) {
    checkParents(dataDir, e.path);
    const full = join(dataDir, e.path);
    if (!existsSync(full)) mkdirSync(full);
  }
  let n = 0;
  for (const e of header.entries) {
    if (e.type === 'd') continue;
    checkParents(dataDir, e.path);
    const staged = join(tmpDir, String(n++));
    if (e.type === 'f') writeFileSync(staged, files.get(e.path) ?? Buffer.alloc(0));
    else symlinkSync(e.target as string, staged);
    ownAndMode(staged, e);
    if (e.type === 'f' && e.mtimeMs !== undefined) utimesSync(staged, e.mtimeMs / 1000, e.mtimeMs / 1000);
    renameSync(staged, join(dataDir, e.path));
  }
  // Directories' owners and modes last: a read-only one would have refused its children.
  for (const e of dirs.reverse()) ownAndMode(join(dataDir, e.path), e);
  rmSync(tmpDir, { recursive: true, force: true });
}

/** A copy's place in the volume's history: bumped generation at each promotion, seq at each sync. */
export interface CopyMeta {
  generation: number;
  seq: number;
}

export function readCopyMeta(path: string): CopyMeta | undefined {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as CopyMeta;
    return Number.isSafeInteger(m.generation) && Number.isSafeInteger(m.seq) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Written beside and renamed: a crash leaves the old meta or the new one. */
export function writeCopyMeta(path: string, meta: CopyMeta): void {
  writeFileSync(`${path}.new`, JSON.stringify(meta));
  renameSync(`${path}.new`, path);
}

/** (generation, seq) order: the newer copy compares greater. */
export function newer(a: CopyMeta | undefined, b: CopyMeta | undefined): boolean {
  if (!a) return false;
  if (!b) return true;
  return a.generation !== b.generation ? a.generation > b.generation : a.seq > b.seq;
}
