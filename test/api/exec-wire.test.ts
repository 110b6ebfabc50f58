// The frames of `flux app exec` after the upgrade: what each side sends reads back the same,
// however the bytes are split, and a frame that breaks the rules is refused before it is buffered.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clientFrameReader,
  encodeClient,
  encodeNode,
  FrameError,
  MAX_FRAME_PAYLOAD,
  nodeFrameReader,
} from '../../src/api/exec-wire.ts';

describe('exec wire', () => {
  it('reads back what the client sends, one byte at a time', () => {
    const bytes = Buffer.concat([
      encodeClient({ type: 'stdin', data: Buffer.from('echo hi\r') }),
      encodeClient({ type: 'resize', rows: 50, cols: 132 }),
      encodeClient({ type: 'stdinEnd' }),
    ]);
    const read = clientFrameReader();
    const got = [...bytes].flatMap((b) => read(Buffer.from([b])));
    assert.deepEqual(got, [
      { type: 'stdin', data: Buffer.from('echo hi\r') },
      { type: 'resize', rows: 50, cols: 132 },
      { type: 'stdinEnd' },
    ]);
  });

  it('reads back output and the exit status with its reason', () => {
    const read = nodeFrameReader();
    const got = read(
      Buffer.concat([
        encodeNode({ type: 'stdout', data: Buffer.from('42\r\n') }),
        encodeNode({ type: 'stderr', data: Buffer.from('oops') }),
        encodeNode({ type: 'exit', code: 3 }),
        encodeNode({ type: 'exit', code: -1, reason: 'idle' }),
      ]),
    );
    assert.deepEqual(got, [
      { type: 'stdout', data: Buffer.from('42\r\n') },
      { type: 'stderr', data: Buffer.from('oops') },
      { type: 'exit', code: 3 },
      { type: 'exit', code: -1, reason: 'idle' },
    ]);
  });

  it('splits large input into frames the other side accepts', () => {
    const data = Buffer.alloc(MAX_FRAME_PAYLOAD * 2 + 10, 7);
    const got = clientFrameReader()(encodeClient({ type: 'stdin', data }));
    assert.equal(got.length, 3);
    assert.deepEqual(Buffer.concat(got.map((m) => (m.type === 'stdin' ? m.data : Buffer.alloc(0)))), data);
  });

  it('refuses a frame larger than the limit from its header alone', () => {
    const head = Buffer.from([0, 0, 0, 0, 0]);
    head.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 1);
    assert.throws(() => clientFrameReader()(head), FrameError);
  });

  it('refuses an unknown frame type and a resize of the wrong length', () => {
    assert.throws(() => clientFrameReader()(Buffer.from([9, 0, 0, 0, 0])), /unknown frame type 9/);
    assert.throws(() => clientFrameReader()(Buffer.from([1, 0, 0, 0, 1, 5])), /resize frame is 4 bytes/);
  });
});
