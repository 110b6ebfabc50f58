// A typed fetch client built from the route declarations the server registers, so the two
// cannot drift: each route becomes a method taking its params/query/body and returning its
// parsed response, or throwing ApiError with the server's code and message.
import { ApiError, type ErrorBody, type RouteDef, type RouteInput, type RouteOutput } from './route.ts';
import { type RouteName, type Routes, routes } from './routes.ts';

export type * from './route.ts';
export type * from './routes.ts';
export { ApiError };

export interface ClientOptions {
  /** e.g. http://127.0.0.1:16127 */
  baseUrl: string;
  fetch?: typeof fetch;
  /** Per-request timeout; default 15 s. */
  timeoutMs?: number;
}

type Args<R extends RouteDef> =
  object extends RouteInput<R> ? [input?: RouteInput<R>] : [input: RouteInput<R>];

export type FluxClient = {
  [K in RouteName]: (...args: Args<Routes[K]>) => Promise<RouteOutput<Routes[K]>>;
} & { readonly baseUrl: string };

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

export function createClient(opts: ClientOptions): FluxClient {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const client: Record<string, unknown> = { baseUrl: opts.baseUrl };
  for (const [name, def] of Object.entries(routes) as Array<[RouteName, RouteDef]>) {
    client[name] = async (input: RouteInput<RouteDef> = {}) => {
      const url = routeUrl(opts.baseUrl, def, input);
      let res: Response;
      try {
        res = await doFetch(url, {
          method: def.method,
          headers: input.body === undefined ? {} : { 'content-type': 'application/json' },
          body: input.body === undefined ? undefined : JSON.stringify(input.body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
        throw new ApiError(
          0,
          'UNREACHABLE',
          `cannot reach the node API at ${opts.baseUrl} (${cause}); is fluxd running? (set --api URL or FLUX_API)`,
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
        throw new ApiError(
          res.status,
          err?.code ?? `HTTP_${res.status}`,
          err?.message ?? `HTTP ${res.status}`,
        );
      }
      const parsed = def.response.safeParse(json);
      if (!parsed.success) {
        throw new ApiError(
          res.status,
          'BAD_RESPONSE',
          `${def.method} ${url}: unexpected response (${parsed.error.message})`,
        );
      }
      return parsed.data;
    };
  }
  return client as FluxClient;
}
