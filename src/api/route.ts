// What a REST route is: its declaration (method, path, schemas), the shapes a caller passes and a
// handler receives, and the error every route answers with. routes.ts, app-routes.ts and
// job-routes.ts declare the routes themselves with route().
import type { Readable } from 'node:stream';
import { z } from 'zod';

/** One route: the only place its method, path and schemas are written down. */
export interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  summary: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Status of a successful response. */
  status: 200 | 201;
  response: z.ZodType;
  /**
   * 'owner': only the app's owner may call it; the request carries a signature by the owner's key
   * (owner-auth.ts) over its method, path, query and body, refused with 401 or 403 otherwise.
   * 'node': the request is signed the same way by the operator key of the FluxNode its `for`
   * query names (a node asking another node).
   */
  auth?: 'owner' | 'node';
  /** Largest request body in bytes, when larger than the server's default. */
  bodyLimit?: number;
  /**
   * Bytes of these media types, streamed, instead of JSON: `request` (the handler gets a
   * StreamedBody; an owner route's signature covers its sha256, sent ahead of it) and `response`
   * (the handler answers a StreamedAnswer; `response` describes nothing then). The typed client
   * leaves such a route out: callRawRoute (call.ts) calls it.
   */
  raw?: { request?: string; response?: string };
}

/** A streamed request body as a raw route's handler gets it. */
export interface StreamedBody {
  stream: AsyncIterable<Uint8Array>;
  /** Content-Length, when the client sent one. */
  length?: number;
  /** The sha256 the owner signed (owner-auth.ts); the handler checks the bytes against it before using them. */
  sha256: Uint8Array;
}

/** A raw route's answer: a stream of `contentType`, with extra headers. */
export interface StreamedAnswer {
  contentType: string;
  headers?: Record<string, string>;
  stream: Readable;
}

/** Declares a route, keeping its literal type (the client and the handlers are typed from it). */
export function route<const R extends RouteDef>(r: R): R {
  return r;
}

type Field<R, K extends string> = R extends { [P in K]: infer S extends z.ZodType } ? S : undefined;

/** What a caller passes for a route: path params, query and body as JSON-able input. */
export type RouteInput<R extends RouteDef> = (Field<R, 'params'> extends z.ZodType
  ? { params: z.input<Field<R, 'params'>> }
  : { params?: undefined }) &
  (Field<R, 'query'> extends z.ZodType
    ? { query?: { [K in keyof z.input<Field<R, 'query'>>]?: string | number } }
    : { query?: undefined }) &
  (Field<R, 'body'> extends z.ZodType ? { body: z.input<Field<R, 'body'>> } : { body?: undefined });

/** What a handler receives after validation (transforms applied). */
export interface RouteRequest<R extends RouteDef> {
  params: Field<R, 'params'> extends z.ZodType ? z.output<Field<R, 'params'>> : undefined;
  query: Field<R, 'query'> extends z.ZodType ? z.output<Field<R, 'query'>> : undefined;
  body: R extends { raw: { request: string } }
    ? StreamedBody
    : Field<R, 'body'> extends z.ZodType
      ? z.output<Field<R, 'body'>>
      : undefined;
}

export type RouteOutput<R extends RouteDef> = R extends { raw: { response: string } }
  ? StreamedAnswer
  : z.output<R['response']>;

export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** An error the API returns as `{error: {code, message}}` with this HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}
