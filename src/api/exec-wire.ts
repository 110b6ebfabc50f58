// The byte stream of `flux app exec` after the HTTP Upgrade (GET /apps/:name/exec, Upgrade:
// openflux-exec): frames both ways, each [type u8][length u32 big-endian][payload], at most
// MAX_FRAME_PAYLOAD bytes of payload (a larger one, or an unknown type, ends the session).
//
// Client to node: STDIN bytes; RESIZE rows u16, cols u16 (a terminal only); STDIN_END (no more input).
// Node to client: STDOUT bytes (all output with a terminal); STDERR bytes (without one); EXIT code
// i32, then a UTF-8 reason when the session ended otherwise than by the process exiting (code -1).

export const EXEC_PROTOCOL = 'openflux-exec';
export const MAX_FRAME_PAYLOAD = 64 * 1024;
const HEAD = 5;

export const ClientFrame = { stdin: 0, resize: 1, stdinEnd: 2 } as const;
export const NodeFrame = { stdout: 0, stderr: 1, exit: 2 } as const;

export type ClientMessage =
  | { type: 'stdin'; data: Uint8Array }
  | { type: 'resize'; rows: number; cols: number }
  | { type: 'stdinEnd' };
export type NodeMessage =
  | { type: 'stdout' | 'stderr'; data: Uint8Array }
  | { type: 'exit'; code: number; reason?: string };

/** A frame that breaks the wire's rules: the peer is not speaking it (or is hostile). */
export class FrameError extends Error {
  override name = 'FrameError';
}

function frame(type: number, payload: Uint8Array): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD)
    throw new FrameError(`a frame carries at most ${MAX_FRAME_PAYLOAD} bytes, not ${payload.length}`);
  const out = Buffer.alloc(HEAD + payload.length);
  out[0] = type;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, HEAD);
  return out;
}

/** Bytes as frames of type `type`, split at the payload limit. */
function chunked(type: number, data: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_FRAME_PAYLOAD)
    out.push(frame(type, data.subarray(at, at + MAX_FRAME_PAYLOAD)));
  return out;
}

export function encodeClient(m: ClientMessage): Buffer {
  if (m.type === 'stdin') return Buffer.concat(chunked(ClientFrame.stdin, m.data));
  if (m.type === 'stdinEnd') return frame(ClientFrame.stdinEnd, new Uint8Array());
  const p = Buffer.alloc(4);
  p.writeUInt16BE(clampSize(m.rows), 0);
  p.writeUInt16BE(clampSize(m.cols), 2);
  return frame(ClientFrame.resize, p);
}

export function encodeNode(m: NodeMessage): Buffer {
  if (m.type === 'exit') {
    const reason = Buffer.from(m.reason ?? '', 'utf8').subarray(0, MAX_FRAME_PAYLOAD - 4);
    const p = Buffer.alloc(4 + reason.length);
    p.writeInt32BE(m.code, 0);
    p.set(reason, 4);
    return frame(NodeFrame.exit, p);
  }
  return Buffer.concat(chunked(m.type === 'stdout' ? NodeFrame.stdout : NodeFrame.stderr, m.data));
}

/** A terminal dimension as the wire carries it: 1 to 65535. */
export function clampSize(n: number): number {
  return Math.min(65_535, Math.max(1, Math.floor(Number.isFinite(n) ? n : 1)));
}

/**
 * Reads frames from chunks as they arrive (a frame may span chunks); throws FrameError on a frame
 * too large or of an unknown type, before buffering its payload.
 */
function createReader<M>(decode: (type: number, payload: Buffer) => M): (chunk: Uint8Array) => M[] {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    const out: M[] = [];
    while (pending.length >= HEAD) {
      const length = pending.readUInt32BE(1);
      if (length > MAX_FRAME_PAYLOAD)
        throw new FrameError(
          `a frame of ${length} bytes: at most ${MAX_FRAME_PAYLOAD} bytes of payload are accepted`,
        );
      if (pending.length < HEAD + length) break;
      out.push(decode(pending[0], pending.subarray(HEAD, HEAD + length)));
      pending = pending.subarray(HEAD + length);
    }
    return out;
  };
}

/** The node's reader of what a client sends. */
export function clientFrameReader(): (chunk: Uint8Array) => ClientMessage[] {
  return createReader((type, p): ClientMessage => {
    if (type === ClientFrame.stdin) return { type: 'stdin', data: Buffer.from(p) };
    if (type === ClientFrame.stdinEnd) return { type: 'stdinEnd' };
    if (type === ClientFrame.resize) {
      if (p.length !== 4) throw new FrameError(`a resize frame is 4 bytes, not ${p.length}`);
      return { type: 'resize', rows: clampSize(p.readUInt16BE(0)), cols: clampSize(p.readUInt16BE(2)) };
    }
    throw new FrameError(`unknown frame type ${type} from the client`);
  });
}

/** The client's reader of what the node sends. */
export function nodeFrameReader(): (chunk: Uint8Array) => NodeMessage[] {
  return createReader((type, p): NodeMessage => {
    if (type === NodeFrame.stdout) return { type: 'stdout', data: Buffer.from(p) };
    if (type === NodeFrame.stderr) return { type: 'stderr', data: Buffer.from(p) };
    if (type === NodeFrame.exit) {
      if (p.length < 4) throw new FrameError(`an exit frame is at least 4 bytes, not ${p.length}`);
      const reason = p.subarray(4).toString('utf8');
      return { type: 'exit', code: p.readInt32BE(0), ...(reason ? { reason } : {}) };
    }
    throw new FrameError(`unknown frame type ${type} from the node`);
  });
}
