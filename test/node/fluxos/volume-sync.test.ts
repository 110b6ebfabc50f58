// The file-level half of volume replication on real directories: a copy brought to a primary's
// state by one delta (files, directories, symlinks, modes, deletions, type changes), only the
// changed files carried, and hostile deltas refused before they write outside the copy.
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  applyDelta,
  decodeDelta,
  diffManifests,
  type Entry,
  encodeDelta,
  type Manifest,
  newer,
  safeRelative,
  scanTree,
} from '../../../src/node/fluxos/volume-sync.ts';

const root = mkdtempSync(join(tmpdir(), 'openflux-volsync-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** One round from `primary` to the copy at `copy` (whose manifest is `have`): the delta's bytes. */
function delta(primary: string, have: Manifest, seq: number) {
  const scan = scanTree(primary, new Map(), new Map());
  const { entries, deletes } = diffManifests(scan.manifest, have);
  const contents = entries.filter((e) => e.type === 'f').map((e) => scan.read.get(e.path) as Buffer);
  return {
    manifest: scan.manifest,
    entries,
    bytes: encodeDelta({ app: 'db', volume: 'data', generation: 1, seq, entries, deletes }, contents),
  };
}
const apply = (copy: string, bytes: Buffer) => {
  const { header, files } = decodeDelta(bytes);
  applyDelta(copy, `${copy}.tmp`, header, files);
};

describe('volume sync (real directories)', () => {
  it('brings a copy to the primary: files, dirs, symlinks, modes; later only what changed travels', () => {
    const primary = join(root, 'p1');
    const copy = join(root, 'c1');
    mkdirSync(join(primary, 'pg/base'), { recursive: true });
    writeFileSync(join(primary, 'pg/base/1'), 'one');
    writeFileSync(join(primary, 'pg/conf'), 'max_connections = 10\n');
    chmodSync(join(primary, 'pg/conf'), 0o600);
    symlinkSync('base/1', join(primary, 'pg/latest'));
    const first = delta(primary, new Map(), 1);
    apply(copy, first.bytes);
    assert.equal(readFileSync(join(copy, 'pg/base/1'), 'utf8'), 'one');
    assert.equal(lstatSync(join(copy, 'pg/conf')).mode & 0o777, 0o600);
    assert.equal(readlinkSync(join(copy, 'pg/latest')), 'base/1');
    assert.deepEqual(scanTree(copy, new Map(), new Map()).manifest.size, first.manifest.size);

    // Change one file, delete another, turn a file into a directory.
    writeFileSync(join(primary, 'pg/base/1'), 'one, changed');
    writeFileSync(join(primary, 'pg/big'), Buffer.alloc(100_000, 7));
    rmSync(join(primary, 'pg/conf'));
    mkdirSync(join(primary, 'pg/conf'));
    writeFileSync(join(primary, 'pg/conf/main'), 'x');
    const copyManifest = scanTree(copy, new Map(), new Map()).manifest;
    const second = delta(primary, copyManifest, 2);
    assert.deepEqual(
      second.entries.map((e) => e.path).sort(),
      ['pg/base/1', 'pg/big', 'pg/conf', 'pg/conf/main'],
      'unchanged files and dirs stay home',
    );
    apply(copy, second.bytes);
    assert.equal(readFileSync(join(copy, 'pg/base/1'), 'utf8'), 'one, changed');
    assert.ok(lstatSync(join(copy, 'pg/conf')).isDirectory());
    assert.equal(readFileSync(join(copy, 'pg/conf/main'), 'utf8'), 'x');
    const after = scanTree(copy, new Map(), new Map()).manifest;
    assert.deepEqual(diffManifests(second.manifest, after), { entries: [], deletes: [] });
    // Nothing changed: an empty delta.
    assert.equal(delta(primary, after, 3).entries.length, 0);
  });

  it('refuses a delta whose bytes do not match their hash, or that names paths outside the copy', () => {
    const primary = join(root, 'p2');
    mkdirSync(primary);
    writeFileSync(join(primary, 'f'), 'good');
    const { bytes } = delta(primary, new Map(), 1);
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 1] ^= 1;
    assert.throws(() => decodeDelta(tampered), /f: the content does not match its sha256/);
    assert.throws(() => decodeDelta(bytes.subarray(0, bytes.length - 1)), /past the end of the delta/);

    const hostile = (entries: Entry[], deletes: string[] = []) =>
      encodeDelta({ app: 'db', volume: 'data', generation: 1, seq: 1, entries, deletes }, []);
    const dir = (path: string): Entry => ({ path, type: 'd', mode: 0o755, uid: 0, gid: 0 });
    assert.throws(() => decodeDelta(hostile([dir('../escape')])), /a bad path in the delta/);
    assert.throws(() => decodeDelta(hostile([dir('/etc')])), /a bad path in the delta/);
    assert.throws(() => decodeDelta(hostile([], ['a/../../x'])), /a bad path to delete/);
    for (const p of ['a', 'a/b', 'a b/c.d']) assert.ok(safeRelative(p), p);
    for (const p of ['', '.', 'a//b', 'a/./b', '/a', 'a\\b']) assert.ok(!safeRelative(p), p);

    // A symlink in the copy pointing out: a file "under" it is refused, nothing is written outside.
    const copy = join(root, 'c2');
    const outside = join(root, 'outside');
    mkdirSync(copy);
    mkdirSync(outside);
    symlinkSync(outside, join(copy, 'link'));
    const through = encodeDelta(
      {
        app: 'db',
        volume: 'data',
        generation: 1,
        seq: 1,
        entries: [
          {
            path: 'link/pwned',
            type: 'f',
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 1,
            hash: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
          },
        ],
        deletes: [],
      },
      [Buffer.from('x')],
    );
    assert.throws(() => apply(copy, through), /its parent link is not a directory/);
    assert.equal(existsSync(join(outside, 'pwned')), false);
  });

  it('orders copies by generation, then round', () => {
    assert.ok(newer({ generation: 2, seq: 0 }, { generation: 1, seq: 900 }));
    assert.ok(newer({ generation: 1, seq: 5 }, { generation: 1, seq: 4 }));
    assert.ok(!newer({ generation: 1, seq: 4 }, { generation: 1, seq: 4 }));
    assert.ok(newer({ generation: 1, seq: 0 }, undefined));
    assert.ok(!newer(undefined, { generation: 1, seq: 0 }));
  });
});
