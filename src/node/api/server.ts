// The REST server: registers every route declared in routes.ts on fastify, with zod validation,
// JSON errors `{error: {code, message}}`, and the OpenAPI document at /openapi.json.
import { PassThrough, type Readable } from 'node:stream';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { OWNER_BODY_HASH_HEADER, OWNER_HEADERS } from '../../api/owner-auth.ts';
import {
  ApiError,
  ErrorBody,
  type RouteDef,
  type RouteOutput,
  type RouteRequest,
  type StreamedAnswer,
  type StreamedBody,
} from '../../api/route.ts';
import { type NetworkJson, type RouteName, type Routes, routes } from '../../api/routes.ts';
import { TransferPayload, Tx, TxKind } from '../../core/codec/types.ts';
import { blockWork } from '../../core/consensus/pouw.ts';
import { fromHex, toHex } from '../../core/crypto/hash.ts';
import { addressBytes, decodeAddress, encodeAddress } from '../../core/crypto/keys.ts';
import type { Chain } from '../chain/types.ts';
import { type AppApiDeps, createAppHandlers, createNodeGate, createOwnerGate } from './apps.ts';
import { createExecSessions } from './exec.ts';
import { createConsensusInfo, createJobHandlers, type JobApiDeps } from './jobs.ts';
import { blockJson, supplyJson, txJson } from './json.ts';
import { createNodeHandlers } from './nodes.ts';
import {
  answerClientError,
  answerFrameworkError,
  MAX_HEAD_BYTES,
  MAX_PARAM_CHARS,
  requestRefusal,
} from './refusals.ts';
import { type MempoolVersion, mempoolVersion, perTip } from './tip-cache.ts';

export type Handlers = {
  [K in RouteName]: (
    req: RouteRequest<Routes[K]>,
  ) => RouteOutput<Routes[K]> | Promise<RouteOutput<Routes[K]>>;
};

export interface ApiServerOptions {
  chain: Chain;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 16127; 0 picks a free port. */
  port?: number;
  /** One short line per notable event (server errors); default: nothing. */
  log?: (line: string) => void;
  /** The node's p2p state for GET /network; absent when the node runs without p2p. */
  network?: () => NetworkJson;
  /** Job state and this node's job data, for the /jobs routes. */
  jobs?: JobApiDeps;
  /** App state and this node's FluxOS agent, for the /apps routes. */
  apps?: AppApiDeps;
}

const NO_NETWORK: NetworkJson = { enabled: false, listen: [], syncing: false, peers: [], banned: 0 };

export interface ApiServer {
  app: FastifyInstance;
  /** Base URL the server listens on, e.g. http://127.0.0.1:16127 */
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_API_PORT = 16127;
const MEMPOOL_SCAN = 1_000_000;

/** Route handlers over a Chain; each throws ApiError for a 4xx. */
export function createHandlers(
  chain: Chain,
  network?: () => NetworkJson,
  jobs?: JobApiDeps,
  apps?: AppApiDeps,
  mempool?: MempoolVersion,
): Handlers {
  const params = chain.params;
  const prefix = params.addressPrefix;

  const parseAddress = (text: string): Uint8Array => {
    const decoded = decodeAddress(prefix, text);
    if (!decoded.ok) throw new ApiError(400, 'BAD_ADDRESS', `address: ${decoded.error}`);
    return decoded.address;
  };

  // What /chain/info says that only changes with the tip (the CLI polls it): built once per tip.
  const consensus = createConsensusInfo(chain, jobs);
  const infoAtTip = perTip(chain, (tip) => {
    const supply = chain.supply();
    if (!supply) throw new ApiError(503, 'NOT_READY', 'the chain has no supply record at its tip yet');
    return {
      network: params.network,
      chainId: params.chainId,
      addressPrefix: prefix,
      height: tip.height,
      tipHash: toHex(tip.hash),
      tipTime: tip.header.time,
      cumulativeWork: tip.cumulativeWork.toString(),
      difficulty: { target: toHex(tip.header.target), work: blockWork(tip.header, params).toString() },
      supply: supplyJson(supply),
      nextSubsidy: supply.nextSubsidy.toString(),
      minFeePerByte: params.limits.minFeePerByte.toString(),
    };
  });

  // The mempool by sender and by recipient, rebuilt only after it changed (not per request).
  let pool: { version: number; view: MempoolView } | undefined;
  const pending = (): MempoolView => {
    const version = mempool?.get();
    if (version === undefined) return mempoolView(chain.mempool(MEMPOOL_SCAN));
    if (pool?.version !== version) pool = { version, view: mempoolView(chain.mempool(MEMPOOL_SCAN)) };
    return pool.view;
  };

  return {
    ...createNodeHandlers(chain, apps?.liveness),
    ...createJobHandlers(chain, jobs),
    ...createAppHandlers(chain, apps),
    chainInfo() {
      const net = network?.();
      return {
        ...infoAtTip(),
        mempoolSize: chain.mempoolSize(),
        ...(net ? { peers: net.peers.length, syncing: net.syncing } : {}),
        ...consensus(),
      };
    },

    network() {
      return network ? network() : NO_NETWORK;
    },

    block({ params: { id } }) {
      const block = /^[0-9]{1,16}$/.test(id)
        ? chain.blockByHeight(Number(id))
        : chain.blockByHash(fromHex(id));
      if (!block)
        throw new ApiError(404, 'NOT_FOUND', `no block with ${id.length < 20 ? 'height' : 'hash'} ${id}`);
      return blockJson(block, params);
    },

    tx({ params: { id } }) {
      const bytes = fromHex(id);
      const stored = chain.tx(bytes);
      if (stored) return txJson(stored.tx, params, { stored });
      const pendingTx = chain.mempoolTx(bytes);
      if (pendingTx) return txJson(pendingTx, params, { id: bytes });
      throw new ApiError(404, 'NOT_FOUND', `no transaction with id ${id} (neither mined nor pending)`);
    },

    account({ params: { address } }) {
      const bytes = parseAddress(address);
      const account = chain.account(bytes);
      const nonces = new Set((pending().from.get(toHex(bytes)) ?? []).map((e) => e.tx.body.nonce));
      let pendingNonce = account.nonce;
      while (nonces.has(pendingNonce)) pendingNonce++;
      return {
        address: encodeAddress(prefix, bytes),
        balance: account.balance.toString(),
        locked: account.locked.toString(),
        nonce: account.nonce,
        pendingNonce,
      };
    },

    accountTxs({ params: { address }, query }) {
      const bytes = parseAddress(address);
      const limit = Math.min(query.limit ?? 50, 1000);
      const pool = pending();
      const key = toHex(bytes);
      const mine = new Set([...(pool.from.get(key) ?? []), ...(pool.to.get(key) ?? [])]);
      const pendingTxs = pool.all
        .filter((e) => mine.has(e))
        .slice(0, limit)
        .map((e) => txJson(e.tx, params, { id: e.id }));
      const mined = chain
        .txsByAddress(bytes, Math.max(0, limit - pendingTxs.length))
        .map((s) => txJson(s.tx, params, { stored: s }));
      return { address: encodeAddress(prefix, bytes), txs: [...pendingTxs, ...mined] };
    },

    supply({ query }) {
      const tipHeight = chain.tip().height;
      if (query.at !== undefined && query.at > tipHeight) {
        throw new ApiError(404, 'NOT_FOUND', `at: height ${query.at} is above the tip (${tipHeight})`);
      }
      const s = chain.supply(query.at);
      if (!s) throw new ApiError(404, 'NOT_FOUND', `at: no supply record at height ${query.at}`);
      return supplyJson(s);
    },

    submitTx({ body }) {
      const hex = body.tx.startsWith('0x') ? body.tx.slice(2) : body.tx;
      const size = hex.length / 2;
      if (size > params.limits.maxTxBytes) {
        throw new ApiError(413, 'TOO_LARGE', `tx: ${size} bytes, the limit is ${params.limits.maxTxBytes}`);
      }
      let tx: Tx;
      try {
        tx = Tx.deserialize(fromHex(hex));
      } catch (e) {
        throw new ApiError(
          400,
          'MALFORMED',
          `tx: not an SSZ-encoded signed transaction (${(e as Error).message})`,
        );
      }
      const result = chain.submitTx(tx);
      if (!result.ok)
        throw new ApiError(submitStatus(result.error.code), result.error.code, result.error.message);
      return { id: toHex(result.id) };
    },

    mempool({ query }) {
      const limit = Math.min(query.limit ?? 100, 1000);
      const all = pending().all;
      return {
        count: all.length,
        txs: all.slice(0, limit).map((e) => ({
          ...txJson(e.tx, params, { id: e.id }),
          feePerByte: e.feePerByte.toString(),
        })),
      };
    },
  };
}

type PendingEntry = ReturnType<Chain['mempool']>[number];

interface MempoolView {
  /** Best fee rate first. */
  all: PendingEntry[];
  /** By sender account id (hex), nonce order. */
  from: Map<string, PendingEntry[]>;
  /** Transfers by recipient account id (hex). */
  to: Map<string, PendingEntry[]>;
}

function mempoolView(all: PendingEntry[]): MempoolView {
  const from = new Map<string, PendingEntry[]>();
  const to = new Map<string, PendingEntry[]>();
  const add = (map: Map<string, PendingEntry[]>, key: string, e: PendingEntry) => {
    const list = map.get(key);
    if (list) list.push(e);
    else map.set(key, [e]);
  };
  for (const e of all) {
    add(from, toHex(addressBytes(e.tx.body.sender)), e);
    const recipient = transferTo(e.tx);
    if (recipient) add(to, toHex(recipient), e);
  }
  return { all, from, to };
}

function transferTo(tx: Tx): Uint8Array | undefined {
  if (tx.body.kind !== TxKind.transfer) return undefined;
  try {
    return TransferPayload.deserialize(tx.body.payload).to;
  } catch {
    return undefined;
  }
}

/** A refused transaction is the client's fault (4xx); a duplicate is a conflict. */
function submitStatus(code: string): number {
  if (/DUPLICATE|KNOWN/.test(code)) return 409;
  if (/FULL/.test(code)) return 503;
  return 400;
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_JSON',
};

// Owner routes in the OpenAPI document: the five headers together (each an apiKey scheme).
const OWNER_SECURITY_SCHEMES = Object.fromEntries(
  Object.entries(OWNER_HEADERS).map(([k, header]) => [
    `owner-${k}`,
    { type: 'apiKey' as const, in: 'header', name: header },
  ]),
);
const OWNER_SECURITY = Object.fromEntries(Object.keys(OWNER_SECURITY_SCHEMES).map((k) => [k, []]));
const OWNER_DESCRIPTION = [
  "Only the app's owner: the request carries an ed25519 signature by the key of the account that owns the app on chain",
  `over sha256("openflux/owner-request/v1" 0x00 METHOD 0x00 PATH?QUERY 0x00 sha256(body) node-id time-u64be-ms nonce-16),`,
  `in ${Object.values(OWNER_HEADERS).join(', ')} (hex; time in ms since the Unix epoch).`,
  'Refused with 401 OWNER_SIGNATURE_REQUIRED, BAD_SIGNATURE, WRONG_NODE (signed for another node), STALE_REQUEST (more than 60 s from the node clock)',
  'or REPLAYED (nonce already used), 403 NOT_OWNER (the key does not own the app), 503 BUSY (too many recent nonces).',
].join(' ');

/** A signed route's request with its body's bytes as they came. */
type SignedBody = FastifyRequest & { signedBody?: Uint8Array };

/** The whole payload, refused as TOO_LARGE past `limit` bytes. */
async function readBounded(payload: Readable, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new ApiError(
        413,
        'TOO_LARGE',
        `request body is larger than the limit of ${limit.toLocaleString('en-US')} bytes`,
      );
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** A fastify app with every declared route; call `listen` or use `startApiServer`. */
export async function buildApi(opts: ApiServerOptions): Promise<FastifyInstance> {
  const { chain } = opts;
  const log = opts.log ?? (() => {});
  const bodyLimit = Math.max(64 * 1024, 2 * chain.params.limits.maxTxBytes + 1024);
  const app = Fastify({
    logger: false,
    bodyLimit,
    http: { maxHeaderSize: MAX_HEAD_BYTES },
    routerOptions: { maxParamLength: MAX_PARAM_CHARS },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onRequest', async (request) => {
    const refused = requestRefusal(request.raw.url ?? '', request.raw.rawHeaders);
    if (refused) throw refused;
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof ApiError) {
      return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'request';
      const message = err.validation
        .map((v) => {
          const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
          return `${where}${path ? `.${path}` : ''}: ${v.message}`;
        })
        .join('; ');
      return reply.code(400).send({ error: { code: 'BAD_REQUEST', message } });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = FASTIFY_CODES[err.code] ?? 'BAD_REQUEST';
      const limit = request.routeOptions.bodyLimit ?? bodyLimit;
      const message =
        code === 'TOO_LARGE'
          ? `request body is larger than the limit of ${limit.toLocaleString('en-US')} bytes`
          : code === 'BAD_JSON'
            ? `request body is not valid JSON: ${err.message}`
            : err.message;
      return reply.code(status).send({ error: { code, message } });
    }
    log(`api: ${request.method} ${request.url} failed: ${err.message}`);
    return reply
      .code(500)
      .send({ error: { code: 'INTERNAL', message: 'internal error (see the node log)' } });
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    });
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'OpenFlux node API',
        version: '1',
        description: 'Amounts are decimal strings of base units (10^-8 FLUX).',
      },
      components: { securitySchemes: OWNER_SECURITY_SCHEMES },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  const ownerGate = createOwnerGate(opts.apps);
  const nodeGate = createNodeGate(chain, opts.apps);
  const exec = createExecSessions(opts.apps, { log });
  const rawTypes = new Set<string>();
  const mempool = mempoolVersion(chain);
  app.addHook('onClose', async () => {
    mempool.close();
  });
  const handlers = createHandlers(chain, opts.network, opts.jobs, opts.apps, mempool) as Record<
    RouteName,
    (req: unknown) => unknown
  >;
  for (const [name, def] of Object.entries(routes) as Array<[RouteName, RouteDef]>) {
    const schema: Record<string, unknown> = {
      summary: def.summary,
      operationId: name,
      response: { [def.status]: def.response, '4xx': ErrorBody, '5xx': ErrorBody },
    };
    if (def.params) schema.params = def.params;
    if (def.query) schema.querystring = def.query;
    if (def.body) schema.body = def.body;
    if (def.auth) {
      schema.security = [OWNER_SECURITY];
      schema.description =
        def.auth === 'owner' ? OWNER_DESCRIPTION : OWNER_DESCRIPTION.replace("the app's owner", 'a FluxNode');
    }
    const limit = def.bodyLimit ?? bodyLimit;
    // Raw routes: a streamed body reaches the handler unread; a streamed answer is not serialised.
    const rawRequest = def.raw?.request;
    if (rawRequest && !rawTypes.has(rawRequest)) {
      rawTypes.add(rawRequest);
      app.addContentTypeParser(rawRequest, (_request, payload, done) => done(null, payload));
    }
    if (def.raw?.response) {
      schema.response = { '4xx': ErrorBody, '5xx': ErrorBody };
      schema.description = `${schema.description ?? ''} Answers ${def.raw.response} bytes.`.trim();
    }
    if (rawRequest)
      schema.description =
        `${schema.description ?? ''} The body is ${rawRequest} bytes; ${OWNER_BODY_HASH_HEADER} carries their sha256.`.trim();
    app.route({
      method: def.method,
      url: def.path,
      schema,
      ...(def.auth
        ? {
            // A signed route's signature covers the body's bytes as sent: kept before parsing.
            ...(def.body
              ? {
                  preParsing: async (request: FastifyRequest, _reply: unknown, payload: Readable) => {
                    const bytes = await readBounded(payload, limit);
                    (request as SignedBody).signedBody = bytes;
                    return new PassThrough().end(Buffer.from(bytes));
                  },
                }
              : {}),
            preHandler: async (request: FastifyRequest) => {
              const signed = {
                method: request.method,
                url: request.raw.url ?? request.url,
                headers: request.headers,
                app: (request.params as { name: string }).name,
                body: (request as SignedBody).signedBody,
                streamedBody: rawRequest !== undefined,
              };
              if (def.auth === 'owner') ownerGate(signed);
              else nodeGate({ ...signed, forNode: (request.query as { for?: string }).for ?? '' });
            },
          }
        : {}),
      ...(def.bodyLimit ? { bodyLimit: def.bodyLimit } : {}),
      handler: async (request, reply) => {
        // An exec upgrade is answered with 101 and frames; the route's handler answers the rest.
        if (name === 'appExec' && (await exec.start(request, reply))) return reply;
        const out = await handlers[name]({
          params: request.params,
          query: request.query,
          body: rawRequest ? streamedBody(request, rawRequest) : request.body,
        });
        reply.code(def.status);
        if (def.raw?.response) {
          const answer = out as StreamedAnswer;
          reply.header('content-type', answer.contentType).headers(answer.headers ?? {});
          return reply.send(answer.stream);
        }
        return out;
      },
    });
  }

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  exec.listen(app);
  await app.ready();
  return app;
}

/** A raw route's body as its handler gets it: the request stream, its length and the signed sha256. */
function streamedBody(request: FastifyRequest, contentType: string): StreamedBody {
  const stream = request.body as AsyncIterable<Uint8Array> | undefined;
  if (!stream || typeof stream[Symbol.asyncIterator] !== 'function')
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `the body must be ${contentType}`);
  const claimed = request.headers[OWNER_BODY_HASH_HEADER];
  const length = Number(request.headers['content-length']);
  return {
    stream,
    ...(Number.isSafeInteger(length) && length >= 0 ? { length } : {}),
    sha256: typeof claimed === 'string' ? fromHex(claimed) : new Uint8Array(32),
  };
}

/** Builds the API and listens; `port: 0` picks a free port (see `url`). */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const app = await buildApi(opts);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? DEFAULT_API_PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? DEFAULT_API_PORT);
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return { app, url: `http://${shownHost}:${port}`, port, close: () => app.close() };
}
