// `GET /apps/:name/exec` (route appExec): a command in this node's container of the app, attached
// both ways over an HTTP Upgrade. The upgrade request goes through fastify's router like any other
// (the refusal hooks, validation, the owner gate and the JSON errors), with its socket kept aside;
// only the exec route takes the socket, answers 101 and speaks exec-wire.ts frames on it.
import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type ClientMessage,
  clientFrameReader,
  EXEC_PROTOCOL,
  encodeNode,
  FrameError,
} from '../../api/exec-wire.ts';
import { ApiError, type RouteRequest } from '../../api/route.ts';
import type { Routes } from '../../api/routes.ts';
import type { ExecProcess } from '../fluxos/runtime.ts';
import { engineMessage } from '../fluxos/runtime.ts';
import type { AppApiDeps } from './apps.ts';

/** Exec sessions one node holds open at once; one more is refused (503 BUSY). */
export const MAX_EXEC_SESSIONS = 8;
/** A session with no byte either way for this long is ended. */
export const EXEC_IDLE_MS = 30 * 60_000;

export interface ExecSessionOptions {
  maxSessions?: number;
  idleMs?: number;
  log?: (line: string) => void;
}

export interface ExecSessions {
  /** Routes the server's upgrade requests through `app` (call once, after the routes are added). */
  listen(app: FastifyInstance): void;
  /**
   * The exec route's handler: on an upgrade request, answers 101 and runs the session (true);
   * without one, false (the route's ordinary handler answers 426).
   */
  start(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
  /** How many sessions are open. */
  open(): number;
}

interface Upgrading {
  socket: Socket;
  head: Buffer;
}

export function createExecSessions(apps: AppApiDeps | undefined, o: ExecSessionOptions = {}): ExecSessions {
  const maxSessions = o.maxSessions ?? MAX_EXEC_SESSIONS;
  const idleMs = o.idleMs ?? EXEC_IDLE_MS;
  const upgrading = new WeakMap<IncomingMessage, Upgrading>();
  const sessions = new Set<(reason: string) => void>();

  function run(socket: Socket, head: Buffer, proc: ExecProcess, tty: boolean): void {
    // Keystrokes go out at once; the session's own idle bound replaces any HTTP timeout.
    socket.setNoDelay(true);
    socket.setTimeout(0);
    const read = clientFrameReader();
    let ended = false;
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => end(-1, `no input or output for ${Math.round(idleMs / 60_000)} min`), idleMs);
    };
    const end = (code: number, reason?: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(idle);
      sessions.delete(stop);
      proc.close();
      if (socket.writable) socket.end(encodeNode({ type: 'exit', code, ...(reason ? { reason } : {}) }));
      // A client that never reads its end must not hold the socket.
      socket.setTimeout(5_000, () => socket.destroy());
    };
    const stop = (reason: string) => end(-1, reason);
    sessions.add(stop);

    // Flow control both ways: a side that cannot take more pauses the other until it drains.
    let inputHeld = false;
    const onMessage = (m: ClientMessage) => {
      if (m.type === 'stdin') {
        if (!proc.stdin.writableEnded && !proc.stdin.write(m.data) && !inputHeld) {
          inputHeld = true;
          socket.pause();
          proc.stdin.once('drain', () => {
            inputHeld = false;
            socket.resume();
          });
        }
      } else if (m.type === 'stdinEnd') proc.stdin.end();
      else if (tty) proc.resize(m.rows, m.cols).catch(() => undefined);
    };
    const onData = (chunk: Buffer) => {
      if (ended) return;
      touch();
      let messages: ClientMessage[];
      try {
        messages = read(chunk);
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
        end(-1, `refused: ${e.message}`);
        return;
      }
      for (const m of messages) onMessage(m);
    };
    socket.on('data', onData);
    // The client gone (it closed its side, or the connection broke): the session ends with it.
    socket.on('end', () => end(-1));
    socket.on('error', () => end(-1));
    socket.on('close', () => end(-1));
    proc.stdin.on('error', () => undefined);

    let open = 2;
    for (const [stream, type] of [
      [proc.stdout, 'stdout'],
      [proc.stderr, 'stderr'],
    ] as const) {
      stream.on('data', (data: Buffer) => {
        if (ended) return;
        touch();
        if (!socket.write(encodeNode({ type, data }))) {
          stream.pause();
          socket.once('drain', () => stream.resume());
        }
      });
      stream.on('error', () => end(-1, 'the engine dropped the attachment'));
      stream.on('end', () => {
        if (--open > 0) return;
        proc.exitCode().then(
          (code) => end(code ?? -1, code === undefined ? 'the engine gives no exit status' : undefined),
          (e) => end(-1, `the engine gives no exit status: ${engineMessage(e)}`),
        );
      });
    }
    touch();
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${EXEC_PROTOCOL}\r\n\r\n`,
    );
    if (head.length > 0) onData(head);
    socket.resume();
  }

  return {
    listen(app) {
      app.addHook('preClose', async () => {
        for (const stop of [...sessions]) stop('the node is shutting down');
      });
      app.server.on('upgrade', (req: IncomingMessage, duplex: Duplex, head: Buffer) => {
        const socket = duplex as Socket;
        // Nothing is read until a session takes the socket: what a client sends early stays queued.
        socket.pause();
        const res = new ServerResponse(req);
        res.shouldKeepAlive = false;
        res.assignSocket(socket);
        res.on('finish', () => {
          // Answered without a session (an error, or a route that does not upgrade): drop the rest.
          socket.resume();
          socket.end();
          socket.setTimeout(5_000, () => socket.destroy());
        });
        if (req.method !== 'GET') {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: {
                code: 'BAD_REQUEST',
                message: `only GET /apps/:name/exec upgrades, not ${req.method}`,
              },
            }),
          );
          return;
        }
        upgrading.set(req, { socket, head });
        app.routing(req, res);
      });
    },

    async start(request, reply) {
      const up = upgrading.get(request.raw);
      if (!up) return false;
      const protocol = String(request.headers.upgrade ?? '').toLowerCase();
      if (protocol !== EXEC_PROTOCOL)
        throw new ApiError(
          400,
          'BAD_UPGRADE',
          `this route upgrades to ${EXEC_PROTOCOL}, not ${String(request.headers.upgrade)}`,
        );
      const fluxos = apps?.fluxos;
      if (!fluxos?.nodeId()) throw new ApiError(404, 'NOT_HOSTED', 'this node runs no apps');
      if (sessions.size >= maxSessions)
        throw new ApiError(
          503,
          'BUSY',
          `this node has ${sessions.size} exec sessions open, the most it holds; retry when one ends`,
        );
      const { params, query } = request as unknown as RouteRequest<Routes['appExec']>;
      const tty = query.tty === '1';
      // Counted from before the engine answers, so parallel requests cannot pass the bound.
      const reserved = (_: string) => undefined;
      sessions.add(reserved);
      let proc: ExecProcess;
      try {
        proc = await fluxos.exec(params.name, query.component, {
          cmd: query.cmd,
          tty,
          rows: query.rows,
          cols: query.cols,
        });
      } catch (e) {
        const status = (e as { statusCode?: number }).statusCode;
        if (status === undefined) throw new ApiError(404, 'NOT_HOSTED', (e as Error).message);
        throw new ApiError(
          status === 409 ? 409 : 502,
          status === 409 ? 'NOT_RUNNING' : 'ENGINE',
          `the Docker engine: ${engineMessage(e)}`,
        );
      } finally {
        sessions.delete(reserved);
      }
      reply.hijack();
      reply.raw.detachSocket(up.socket);
      if (up.socket.destroyed) {
        proc.close();
        return true;
      }
      o.log?.(`api: exec in ${params.name}${query.component ? `/${query.component}` : ''}: ${query.cmd[0]}`);
      run(up.socket, up.head, proc, tty);
      return true;
    },

    open: () => sessions.size,
  };
}
