// Streams for tests that run a command in process and read what it wrote.
import { Writable } from 'node:stream';

/** A writable stream that keeps everything written to it as text. */
export class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}
