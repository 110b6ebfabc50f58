// One request to one route over HTTP: the URL from the route's path with the caller's params and
// query, the JSON body, and the answer parsed by the route's response schema, or an ApiError with
// the server's code and message. The typed client (client.ts) is this function once per route; a
// node asking another node's API calls it directly, so the node needs no client.
import type { RequestSigner } from './owner-auth.ts';
import { ApiError, type ErrorBody, type RouteDef, type RouteInput, type RouteOutput } from './route.ts';

export interface CallOptions {
  fetch?: typeof fetch;
  /** Per-request timeout; default 15 s. */
  timeoutMs?: number;
  /** Adds headers that sign the request (an owner route: owner-auth.ts `ownerSigner`). */
  sign?: RequestSigner;
}

/** The URL of a route call: path params substituted and escaped, query appended. */
export function routeUrl(baseUrl: string, def: RouteDef, input: RouteInput<RouteDef> = {}): string {
  const params = (input.params ?? {}) as Record<string, string | number>;
  const path = def.path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${def.path}`);
    return encodeURIComponent(String(value));
  });
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries((input.query ?? {}) as Record<string, unknown>)) {
    if (v !== undefined) query.set(k, String(v));
  }
  const qs = query.toString();
  return `${baseUrl.replace(/\/+$/, '')}${path}${qs ? `?${qs}` : ''}`;
}

/** A streamed request body: its bytes (read once), their count and sha256 (which the signature covers). */
export interface RawRequestBody {
  stream: AsyncIterable<Uint8Array>;
  length: number;
  sha256: Uint8Array;
}

/**
 * Calls a raw route (route `raw`: streamed bytes in or out) and returns the node's answer with
 * its body unread, or throws ApiError with the server's code and message. Only the wait for the
 * answer's headers is bounded (`timeoutMs`, default 15 s; with a body, none): a download runs
 * as long as it takes.
 */
export async function callRawRoute<R extends RouteDef>(
  baseUrl: string,
  def: R,
  routeInput: Omit<RouteInput<R>, 'body'>,
  opts: CallOptions & { body?: RawRequestBody } = {},
): Promise<Response> {
  const url = routeUrl(baseUrl, def, routeInput as RouteInput<RouteDef>);
  const u = new URL(url);
  const { body } = opts;
  const signed =
    opts.sign?.({
      method: def.method,
      pathAndQuery: u.pathname + u.search,
      ...(body ? { bodySha256: body.sha256 } : {}),
    }) ?? {};
  const abort = new AbortController();
  const ms = opts.timeoutMs ?? (body ? undefined : 15_000);
  const timer = ms === undefined ? undefined : setTimeout(() => abort.abort(), ms);
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, {
      method: def.method,
      headers: {
        ...signed,
        ...(body
          ? {
              'content-type': def.raw?.request ?? 'application/octet-stream',
              'content-length': String(body.length),
            }
          : {}),
      },
      ...(body ? { body: body.stream as unknown as RequestInit['body'], duplex: 'half' } : {}),
      signal: abort.signal,
    } as RequestInit);
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
    throw new ApiError(0, 'UNREACHABLE', `cannot reach the node API at ${baseUrl} (${cause})`);
  } finally {
    clearTimeout(timer);
  }
  if (res.ok) return res;
  const text = await res.text().catch(() => '');
  let err: Partial<ErrorBody['error']> | undefined;
  try {
    err = (JSON.parse(text) as Partial<ErrorBody>).error;
  } catch {}
  throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? `HTTP ${res.status}`);
}

/** Calls `def` on the API at `baseUrl` (e.g. http://127.0.0.1:16127) and returns its parsed answer. */
export async function callRoute<R extends RouteDef>(
  baseUrl: string,
  def: R,
  routeInput: RouteInput<R>,
  opts: CallOptions = {},
): Promise<RouteOutput<R>> {
  const input = routeInput as RouteInput<RouteDef>;
  const url = routeUrl(baseUrl, def, input);
  const body = input.body === undefined ? undefined : JSON.stringify(input.body);
  const u = new URL(url);
  const signed =
    opts.sign?.({
      method: def.method,
      pathAndQuery: u.pathname + u.search,
      body: body === undefined ? undefined : new TextEncoder().encode(body),
    }) ?? {};
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, {
      method: def.method,
      headers: { ...signed, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
    });
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
    throw new ApiError(
      0,
      'UNREACHABLE',
      `cannot reach the node API at ${baseUrl} (${cause}); is fluxd running? (set --api URL or FLUX_API)`,
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ApiError(
      res.status,
      'BAD_RESPONSE',
      `${def.method} ${url} answered ${res.status} with non-JSON`,
    );
  }
  if (!res.ok) {
    const err = (json as Partial<ErrorBody> | undefined)?.error;
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? `HTTP ${res.status}`);
  }
  const parsed = def.response.safeParse(json);
  if (!parsed.success) {
    throw new ApiError(
      res.status,
      'BAD_RESPONSE',
      `${def.method} ${url}: unexpected response (${parsed.error.message})`,
    );
  }
  return parsed.data as RouteOutput<R>;
}
