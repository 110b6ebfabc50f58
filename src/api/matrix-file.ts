// Matrix files for jobs: NumPy .npy (int8 in, int8 or int32 out) and the project's own simple
// format (.fxm: "FXM1", u32le rows, u32le cols, u8 type (1 int8, 4 int32), then row-major data).
import type { Int8Matrix } from '../core/pouw/index.ts';

export interface Int32Matrix {
  rows: number;
  cols: number;
  data: Int32Array;
}

export type AnyMatrix = ({ type: 'int8' } & Int8Matrix) | ({ type: 'int32' } & Int32Matrix);

const FXM_MAGIC = 'FXM1';
const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Decodes .npy (version 1-3, C order, dtype int8/uint8-free int8 or int32 little-endian) or .fxm. */
export function decodeMatrix(bytes: Uint8Array): AnyMatrix {
  if (NPY_MAGIC.every((b, i) => bytes[i] === b)) return decodeNpy(bytes);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) === FXM_MAGIC) return decodeFxm(bytes);
  throw new Error('not a matrix file: expected .npy (\\x93NUMPY) or .fxm (FXM1)');
}

function decodeFxm(bytes: Uint8Array): AnyMatrix {
  if (bytes.length < 13) throw new Error('.fxm file is truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows = view.getUint32(4, true);
  const cols = view.getUint32(8, true);
  const type = bytes[12];
  const body = bytes.subarray(13);
  if (type === 1) {
    if (body.length !== rows * cols)
      throw new Error(`.fxm holds ${body.length} bytes, expected ${rows * cols}`);
    return { type: 'int8', rows, cols, data: new Int8Array(body.slice().buffer) };
  }
  if (type === 4) {
    if (body.length !== rows * cols * 4)
      throw new Error(`.fxm holds ${body.length} bytes, expected ${rows * cols * 4}`);
    return { type: 'int32', rows, cols, data: new Int32Array(body.slice().buffer) };
  }
  throw new Error(`.fxm element type ${type} is not 1 (int8) or 4 (int32)`);
}

function decodeNpy(bytes: Uint8Array): AnyMatrix {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shape === undefined) throw new Error('.npy header is not understood');
  if (fortran === 'True') throw new Error('.npy in Fortran order is not supported; save it in C order');
  const dims = shape
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (dims.length !== 2) throw new Error(`.npy shape (${shape}) is not two-dimensional`);
  const [rows, cols] = dims;
  const body = bytes.slice(start + headerLen);
  if (descr === '|i1' || descr === 'i1' || descr === '<i1') {
    if (body.length !== rows * cols)
      throw new Error(`.npy holds ${body.length} bytes, expected ${rows * cols}`);
    return { type: 'int8', rows, cols, data: new Int8Array(body.buffer) };
  }
  if (descr === '<i4') {
    if (body.length !== rows * cols * 4)
      throw new Error(`.npy holds ${body.length} bytes, expected ${rows * cols * 4}`);
    return { type: 'int32', rows, cols, data: new Int32Array(body.buffer) };
  }
  throw new Error(`.npy dtype ${descr} is not supported (use int8 for A and B)`);
}

/** Encodes .npy version 1.0 (int8 '|i1' or int32 '<i4'). */
export function encodeNpy(m: AnyMatrix): Uint8Array {
  const descr = m.type === 'int8' ? '|i1' : '<i4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${m.rows}, ${m.cols}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64);
  header += '\n';
  const head = new TextEncoder().encode(header);
  const body = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  const out = new Uint8Array(10 + head.length + body.length);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(body, 10 + head.length);
  return out;
}

export function encodeFxm(m: AnyMatrix): Uint8Array {
  const body = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  const out = new Uint8Array(13 + body.length);
  out.set(new TextEncoder().encode(FXM_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, m.rows, true);
  view.setUint32(8, m.cols, true);
  out[12] = m.type === 'int8' ? 1 : 4;
  out.set(body, 13);
  return out;
}

/** By file name: .npy gets NumPy, anything else the .fxm format. */
export function encodeMatrixFor(path: string, m: AnyMatrix): Uint8Array {
  return path.endsWith('.npy') ? encodeNpy(m) : encodeFxm(m);
}

export function asInt8(m: AnyMatrix, name: string): Int8Matrix {
  if (m.type !== 'int8') throw new Error(`${name} must hold int8 entries (got int32)`);
  return { rows: m.rows, cols: m.cols, data: m.data };
}
