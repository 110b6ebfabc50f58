// A typed fetch client built from the route declarations the server registers, so the two
// cannot drift: each route becomes a method taking its params/query/body and returning its
// parsed response, or throwing ApiError with the server's code and message.
import { type CallOptions, callRoute } from './call.ts';
import { ApiError, type RouteDef, type RouteInput, type RouteOutput } from './route.ts';
import { type RouteName, type Routes, routes } from './routes.ts';

export { callRawRoute, routeUrl } from './call.ts';
export type * from './route.ts';
export type * from './routes.ts';
export { ApiError };

export interface ClientOptions extends CallOptions {
  /** e.g. http://127.0.0.1:16127 */
  baseUrl: string;
}

type Args<R extends RouteDef> =
  object extends RouteInput<R> ? [input?: RouteInput<R>] : [input: RouteInput<R>];

/** Every route but the raw ones (streamed bytes: callRawRoute in call.ts calls those). */
export type FluxClient = {
  [K in RouteName as Routes[K] extends { raw: object } ? never : K]: (
    ...args: Args<Routes[K]>
  ) => Promise<RouteOutput<Routes[K]>>;
} & { readonly baseUrl: string };

export function createClient(opts: ClientOptions): FluxClient {
  const call: CallOptions = { fetch: opts.fetch, timeoutMs: opts.timeoutMs, sign: opts.sign };
  const client: Record<string, unknown> = { baseUrl: opts.baseUrl };
  for (const [name, def] of Object.entries(routes) as Array<[RouteName, RouteDef]>) {
    if (def.raw) continue;
    client[name] = (input: RouteInput<RouteDef> = {}) => callRoute(opts.baseUrl, def, input, call);
  }
  return client as FluxClient;
}
