// The HTTP layer's own refusals, in the API's error shape `{"error": {"code", "message"}}`: a URL
// or headers too large, bad percent-encoding, an HTTP message that does not parse. Node's parser
// refuses some before fastify sees a request (the server's 'clientError' event); fastify's router
// refuses others (its `frameworkErrors`); the rest are checked on each request here.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../api/route.ts';

/** Largest URL (path and query) accepted. */
export const MAX_URL_BYTES = 8 * 1024;
/** Largest headers accepted (names, values and line ends, the request line not counted). */
export const MAX_HEADER_BYTES = 16 * 1024;
/**
 * What Node's parser reads of a request's head at most (request line and headers). Above both
 * limits, so a head up to this size reaches the checks here, which can tell a long URL from long
 * headers exactly; past it the parser refuses and the refusal is told from where it stopped.
 */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Longest path parameter (fastify's router refuses longer ones). */
export const MAX_PARAM_CHARS = 100;

const fmt = (n: number) => n.toLocaleString('en-US');
const shown = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…` : text);
const ENCODING_RULE = 'a % must be followed by two hex digits, and the bytes must be UTF-8';

interface Refusal {
  status: number;
  code: string;
  message: string;
}

const URL_TOO_LONG = (bytes?: number): Refusal => ({
  status: 414,
  code: 'URL_TOO_LONG',
  message: `the URL is ${bytes === undefined ? 'longer' : `${fmt(bytes)} bytes, longer`} than the limit of ${fmt(MAX_URL_BYTES)} bytes`,
});
const HEADERS_TOO_LARGE = (bytes?: number): Refusal => ({
  status: 431,
  code: 'HEADERS_TOO_LARGE',
  message: `the request's headers are ${bytes === undefined ? 'larger' : `${fmt(bytes)} bytes, larger`} than the limit of ${fmt(MAX_HEADER_BYTES)} bytes`,
});

function refusalOf(
  err: NodeJS.ErrnoException & { reason?: string; rawPacket?: Buffer; bytesParsed?: number },
): Refusal {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // Node's parser only hands over the piece it was reading: a line end before where it stopped
    // means it was among the headers. Without one it stopped inside a line over a piece long:
    // the request line when the piece starts it, most likely so otherwise (one header line that
    // long is told as a URL too).
    const packet =
      err.rawPacket?.subarray(0, err.bytesParsed ?? err.rawPacket.length).toString('latin1') ?? '';
    if (packet.includes('\r\n')) return HEADERS_TOO_LARGE();
    if (/^[A-Z]+ \S/.test(packet)) return URL_TOO_LONG();
    return {
      ...URL_TOO_LONG(),
      message: `the request's head passed ${fmt(MAX_HEAD_BYTES)} bytes inside one line, most likely its URL: a URL may be at most ${fmt(MAX_URL_BYTES)} bytes (and headers ${fmt(MAX_HEADER_BYTES)})`,
    };
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { status: 408, code: 'TIMEOUT', message: 'the request did not arrive in time' };
  const why = err.reason ?? err.message;
  return {
    status: 400,
    code: 'BAD_REQUEST',
    message: `the request is not valid HTTP/1.1${why ? `: ${why}` : ''}`,
  };
}

/**
 * The server's 'clientError': Node's parser refused the bytes before any request existed. Answers
 * in the API's error shape, then closes; the rest of what the client sends is read and dropped,
 * so closing does not reset the connection before the client reads the answer.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable || socket.writableEnded) {
    socket.destroy();
    return;
  }
  const r = refusalOf(err);
  const body = JSON.stringify({ error: { code: r.code, message: r.message } });
  socket.end(
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status]}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  socket.on('data', () => {});
  socket.resume();
  setTimeout(() => socket.destroy(), 2_000).unref();
}

/** fastify's router refused the path: bad percent-encoding, or a parameter over MAX_PARAM_CHARS. */
export function answerFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const path = shown(request.raw.url?.split('?')[0] ?? '');
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    reply.code(414).send({
      error: {
        code: 'URL_TOO_LONG',
        message: `a path parameter of ${path} is longer than the limit of ${MAX_PARAM_CHARS} characters`,
      },
    });
    return;
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    reply.code(400).send({
      error: { code: 'BAD_URL', message: `bad percent-encoding in the path ${path} (${ENCODING_RULE})` },
    });
    return;
  }
  reply.code(400).send({ error: { code: 'BAD_REQUEST', message: err.message } });
}

/**
 * A URL over MAX_URL_BYTES (414), headers over MAX_HEADER_BYTES (431) or a query with bad
 * percent-encoding (400), else nothing.
 */
export function requestRefusal(url: string, rawHeaders: string[]): ApiError | undefined {
  if (url.length > MAX_URL_BYTES) return apiError(URL_TOO_LONG(url.length));
  let headerBytes = 0;
  for (const h of rawHeaders) headerBytes += h.length + 2; // ': ' or the line end
  if (headerBytes > MAX_HEADER_BYTES) return apiError(HEADERS_TOO_LARGE(headerBytes));
  const q = url.indexOf('?');
  if (q < 0 || url.indexOf('%', q) < 0) return undefined;
  for (const part of url.slice(q + 1).split('&')) {
    if (!part.includes('%')) continue;
    try {
      decodeURIComponent(part.replaceAll('+', ' '));
    } catch {
      return new ApiError(
        400,
        'BAD_URL',
        `bad percent-encoding in the query: ${shown(part)} (${ENCODING_RULE})`,
      );
    }
  }
  return undefined;
}

const apiError = (r: Refusal) => new ApiError(r.status, r.code, r.message);
