// `flux app exec NAME [--instance N] [--component C] -- CMD...`: a command in the app's container
// on the node that runs the instance, attached to this terminal. The request is signed by the
// owner's key and upgraded to exec-wire.ts frames. With a terminal on stdin it runs under a
// pseudo-terminal: raw mode here (Ctrl-C is a byte for the container's process, not a signal
// for this one), the size sent at the start and on each resize, the terminal restored at the end.
import { request } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { routeUrl } from '../api/call.ts';
import {
  clampSize,
  EXEC_PROTOCOL,
  encodeClient,
  FrameError,
  type NodeMessage,
  nodeFrameReader,
} from '../api/exec-wire.ts';
import type { RequestSigner } from '../api/owner-auth.ts';
import { ApiError, type ErrorBody, type RouteDef, type RouteInput } from '../api/route.ts';
import { type Routes, routes } from '../api/routes.ts';
import { ownedInstances } from './apps.ts';
import type { CommandContext } from './context.ts';
import { CliError, type CliIo } from './io.ts';

/** The exit status when the session ends without the command's (like ssh's). */
const SESSION_FAILED = 255;
const DEFAULT_CMD = ['sh'];

export async function appExec(ctx: CommandContext): Promise<number> {
  const [name, ...given] = ctx.positionals;
  const cmd = given.length > 0 ? given : DEFAULT_CMD;
  const component = ctx.values.component as string | undefined;
  const [instance] = await ownedInstances(ctx, name, '0');
  const tty = ctx.io.stdin.isTTY === true && typeof ctx.io.stdin.setRawMode === 'function';
  const size = terminalSize(ctx.io);
  const input: RouteInput<Routes['appExec']> = {
    params: { name },
    query: {
      cmd: JSON.stringify(cmd),
      ...(component ? { component } : {}),
      ...(tty ? { tty: '1', rows: size.rows, cols: size.cols } : {}),
    },
  };
  const url = routeUrl(`http://${instance.api}`, routes.appExec, input as unknown as RouteInput<RouteDef>);
  const { socket, head } = await upgrade(url, instance.sign);
  return attach(ctx.io, socket, head, tty);
}

/** The terminal's size (24x80 when stdout is no terminal). */
function terminalSize(io: CliIo): { rows: number; cols: number } {
  const out = io.stdout as { rows?: number; columns?: number };
  return { rows: clampSize(out.rows ?? 24), cols: clampSize(out.columns ?? 80) };
}

/** Sends the signed upgrade request; resolves to the socket once the node answers 101. */
function upgrade(url: string, sign: RequestSigner): Promise<{ socket: Socket; head: Buffer }> {
  const u = new URL(url);
  const headers = {
    ...sign({ method: 'GET', pathAndQuery: u.pathname + u.search }),
    connection: 'Upgrade',
    upgrade: EXEC_PROTOCOL,
  };
  return new Promise((resolve, reject) => {
    const req = request(u, { method: 'GET', headers });
    req.setTimeout(15_000, () => req.destroy(new Error('no answer in 15 s')));
    req.on('upgrade', (_res, socket, head) => {
      req.setTimeout(0);
      resolve({ socket, head });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        let err: ErrorBody['error'] | undefined;
        try {
          err = (JSON.parse(text) as Partial<ErrorBody>).error;
        } catch {
          err = undefined;
        }
        const status = res.statusCode ?? 0;
        reject(new ApiError(status, err?.code ?? `HTTP_${status}`, err?.message ?? `HTTP ${status}`));
      });
    });
    req.on('error', (e) =>
      reject(new ApiError(0, 'UNREACHABLE', `cannot reach the node API at ${u.host} (${e.message})`)),
    );
    req.end();
  });
}

/** Pipes this terminal (or these streams) and the session both ways; resolves to the exit status. */
function attach(io: CliIo, socket: Socket, head: Buffer, tty: boolean): Promise<number> {
  const { stdin, stdout, stderr } = io;
  socket.setNoDelay(true);
  const read = nodeFrameReader();
  let exit: Extract<NodeMessage, { type: 'exit' }> | undefined;
  let broken: string | undefined;
  const held = new Set<NodeJS.WritableStream>();
  const send = (frame: Buffer) => {
    if (!socket.destroyed) socket.write(frame);
  };
  const onInput = (chunk: Buffer | string) =>
    send(encodeClient({ type: 'stdin', data: typeof chunk === 'string' ? Buffer.from(chunk) : chunk }));
  const onInputEnd = () => send(encodeClient({ type: 'stdinEnd' }));
  const onResize = () => send(encodeClient({ type: 'resize', ...terminalSize(io) }));
  const onOutput = (chunk: Buffer) => {
    let messages: NodeMessage[];
    try {
      messages = read(chunk);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      broken = `the node's answer is not exec frames: ${e.message}`;
      socket.destroy();
      return;
    }
    for (const m of messages) {
      if (m.type === 'exit') exit = m;
      else {
        const out = m.type === 'stdout' ? stdout : stderr;
        if (!out.write(m.data) && !held.has(out)) {
          // A slow reader of our output (a pipe) holds the session's output back until it drains.
          held.add(out);
          socket.pause();
          out.once('drain', () => {
            held.delete(out);
            if (held.size === 0) socket.resume();
          });
        }
      }
    }
  };

  if (tty) {
    stdin.setRawMode?.(true);
    stdout.on('resize', onResize);
  }
  stdin.on('data', onInput);
  stdin.on('end', onInputEnd);
  stdin.resume();
  socket.on('data', onOutput);
  socket.on('error', (e) => {
    broken ??= `the connection to the node failed: ${e.message}`;
  });
  if (head.length > 0) onOutput(head);

  return new Promise((resolve, reject) => {
    socket.on('close', () => {
      if (tty) {
        stdout.off('resize', onResize);
        stdin.setRawMode?.(false);
      }
      stdin.off('data', onInput);
      stdin.off('end', onInputEnd);
      stdin.pause();
      unrefIfPipe(stdin);
      if (exit && exit.code >= 0) {
        if (exit.reason) stderr.write(`flux app exec: ${exit.reason}\n`);
        resolve(Math.min(exit.code, 255));
      } else
        reject(
          new CliError(
            exit?.reason ?? broken ?? 'the node closed the session without an exit status',
            SESSION_FAILED,
          ),
        );
    });
  });
}

/** A piped stdin that was read from keeps the process alive even paused: let it go. */
function unrefIfPipe(stream: Readable): void {
  (stream as Readable & { unref?: () => void }).unref?.();
}
