// The HTTP layer's own refusals over raw sockets (so no client tidies the request up): a URL or
// headers too large, bad percent-encoding in the path or the query, a body too large, bad JSON,
// bytes that are not HTTP. Each answers the documented `{"error": {"code", "message"}}` body, with
// a message naming what was wrong.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { MAX_HEAD_BYTES, MAX_HEADER_BYTES, MAX_URL_BYTES } from '../../../src/node/api/refusals.ts';
import { devnetParams } from '../../../src/node/genesis.ts';
import { apiFixture } from './fixture.ts';

const params = devnetParams(Date.now());

interface Answer {
  status: number;
  headers: string;
  body: { error: { code: string; message: string } };
}

/** Sends `raw` (in pieces of `chunk` bytes) and reads one HTTP answer, until the server closes or it is complete. */
function send(port: number, raw: string | Buffer, chunk = Number.POSITIVE_INFINITY): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    const done = () => {
      const text = got.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const head = text.slice(0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
      if (end < 0 || length < 0 || Buffer.byteLength(text.slice(end + 4)) < length) return false;
      s.destroy();
      try {
        resolve({
          status: Number(head.split(' ')[1]),
          headers: head,
          body: JSON.parse(text.slice(end + 4, end + 4 + length)),
        });
      } catch (e) {
        reject(new Error(`not JSON: ${text.slice(0, 300)} (${(e as Error).message})`));
      }
      return true;
    };
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      done();
    });
    s.on('error', (e) => {
      if (!done())
        reject(new Error(`${e.message} after ${got.length} bytes: ${got.toString().slice(0, 200)}`));
    });
    s.on('close', () => {
      if (!done()) reject(new Error(`closed after ${got.length} bytes: ${got.toString().slice(0, 200)}`));
    });
    const bytes = Buffer.from(raw);
    s.on('connect', async () => {
      for (let at = 0; at < bytes.length && !s.destroyed; at += chunk) {
        s.write(bytes.subarray(at, at + chunk));
        if (chunk < bytes.length) await new Promise((r) => setTimeout(r, 2));
      }
    });
  });
}

const get = (target: string, headers = '') => `GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\n${headers}\r\n`;
const post = (target: string, body: string, type = 'application/json') =>
  `POST ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('refusals of the HTTP layer', () => {
  const api = apiFixture(params, 'refusals', (chain) => ({ jobs: { state: chain.state } }));

  const expect = async (
    raw: string | Buffer,
    status: number,
    code: string,
    message: RegExp,
    chunk?: number,
  ) => {
    const r = await send(api.server.port, raw, chunk);
    assert.equal(r.status, status, `${JSON.stringify(r.body)}`);
    assert.match(r.headers, /content-type: application\/json/i);
    assert.equal(r.body.error.code, code);
    assert.match(r.body.error.message, message);
    return r;
  };

  it('answers a URL over the limit with 414, whether fastify or Node’s parser sees it first', async () => {
    await expect(
      get(`/supply?at=1&pad=${'x'.repeat(MAX_URL_BYTES)}`),
      414,
      'URL_TOO_LONG',
      /the URL is 8,\d{3} bytes, longer than the limit of 8,192 bytes/,
    );
    // Past what the parser reads of a head: refused before any request exists, in one piece or many.
    const huge = get(`/supply?pad=${'x'.repeat(MAX_HEAD_BYTES)}`);
    await expect(huge, 414, 'URL_TOO_LONG', /URL.* 8,192 bytes/);
    await expect(huge, 414, 'URL_TOO_LONG', /URL.* 8,192 bytes/, 4096);
    await expect(
      get(`/nodes/${'a'.repeat(200)}`),
      414,
      'URL_TOO_LONG',
      /path parameter .* limit of 100 characters/,
    );
  });

  it('answers headers over the limit with 431, whether fastify or Node’s parser sees them first', async () => {
    await expect(
      get('/supply', `x-big: ${'y'.repeat(MAX_HEADER_BYTES)}\r\n`),
      431,
      'HEADERS_TOO_LARGE',
      /headers are 16,\d{3} bytes, larger than the limit of 16,384 bytes/,
    );
    const many = Array.from({ length: 1600 }, (_, i) => `x-h${i}: ${'z'.repeat(40)}\r\n`).join('');
    await expect(
      get('/supply', many),
      431,
      'HEADERS_TOO_LARGE',
      /headers are larger than the limit of 16,384 bytes/,
    );
    await expect(get('/supply', many), 431, 'HEADERS_TOO_LARGE', /16,384 bytes/, 512);
  });

  it('answers bad percent-encoding in the path or the query with 400', async () => {
    await expect(get('/blocks/%zz'), 400, 'BAD_URL', /bad percent-encoding in the path \/blocks\/%zz/);
    await expect(get('/chain/info%E0%A4'), 400, 'BAD_URL', /in the path/);
    await expect(get('/supply?at=%zz'), 400, 'BAD_URL', /bad percent-encoding in the query: at=%zz/);
    await expect(get('/mempool?limit=1&x=%E0%A4%A'), 400, 'BAD_URL', /query: x=%E0%A4%A/);
    // Good encodings still pass.
    const ok = await send(api.server.port, get('/supply?at=%30'));
    assert.equal(ok.status, 200);
  });

  it('answers a body over the route’s limit with 413 naming that limit, and bad JSON with 400', async () => {
    const big = JSON.stringify({ tx: 'ab'.repeat(200_000) });
    await expect(
      post('/txs', big),
      413,
      'TOO_LARGE',
      /request body is larger than the limit of 65,536 bytes/,
    );
    await expect(
      `POST /jobs/data HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${64 * 1024 * 1024 + 1}\r\n\r\n{`,
      413,
      'TOO_LARGE',
      /limit of 67,108,864 bytes/,
    );
    await expect(post('/txs', '{"tx":'), 400, 'BAD_JSON', /request body is not valid JSON/);
    await expect(post('/txs', ''), 400, 'BAD_JSON', /empty/i);
  });

  it('answers bytes that are not HTTP with 400', async () => {
    await expect('GARBAGE\r\n\r\n', 400, 'BAD_REQUEST', /not valid HTTP\/1.1/);
    await expect('GET /supply HTTP/1.1\r\nbad header line\r\n\r\n', 400, 'BAD_REQUEST', /not valid HTTP/);
  });
});
