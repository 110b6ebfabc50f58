import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asInt8, decodeMatrix, encodeFxm, encodeNpy } from '../../src/api/matrix-file.ts';

describe('job matrix files', () => {
  const int8 = {
    type: 'int8' as const,
    rows: 3,
    cols: 5,
    data: Int8Array.from({ length: 15 }, (_, i) => i - 7),
  };
  const int32 = {
    type: 'int32' as const,
    rows: 2,
    cols: 3,
    data: Int32Array.from([1, -2, 3, 1 << 30, -(1 << 30), 0]),
  };

  it('round-trips int8 and int32 matrices through .npy and .fxm', () => {
    for (const m of [int8, int32]) {
      for (const encode of [encodeNpy, encodeFxm]) {
        const back = decodeMatrix(encode(m));
        assert.equal(back.type, m.type);
        assert.deepEqual([back.rows, back.cols], [m.rows, m.cols]);
        assert.deepEqual([...back.data], [...m.data]);
      }
    }
  });

  it('writes .npy headers padded to 64 bytes, as NumPy does', () => {
    const bytes = encodeNpy(int8);
    const headerLen = new DataView(bytes.buffer).getUint16(8, true);
    assert.equal((10 + headerLen) % 64, 0);
    assert.match(
      new TextDecoder().decode(bytes.subarray(10, 10 + headerLen)),
      /'descr': '\|i1'.*'shape': \(3, 5\)/,
    );
  });

  it('names what is wrong with a file', () => {
    assert.throws(() => decodeMatrix(new Uint8Array([1, 2, 3, 4])), /not a matrix file/);
    const npy = encodeNpy(int8);
    assert.throws(() => decodeMatrix(npy.subarray(0, npy.length - 1)), /holds 14 bytes, expected 15/);
    assert.throws(() => asInt8(decodeMatrix(encodeFxm(int32)), 'A'), /A must hold int8/);
  });
});
