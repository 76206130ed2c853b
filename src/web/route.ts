/**
 * The shape of one API route. Routes are data: the dispatcher
 * (src/web/api-handler.ts) runs them, the OpenAPI document
 * (src/web/openapi.ts) is built from the same objects, so what is
 * documented is what is served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Store, UserRole } from '../store/types.js';
import type { Principal } from './auth.js';
import type { ErrorCode } from './errors.js';
import type { EventHub } from './events.js';
import type { Schema } from './schema.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What the routes need from the node. */
export interface WebContext {
  store: Store;
  /** This node's name in the cluster. */
  nodeName: string;
  /** The name it gives itself (greetings, certificates). */
  hostname: string;
  logger: Logger;
  events: EventHub;
}

export interface ApiRequest<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Null only on public routes. */
  principal: Principal;
  /** The entity tags of If-Match (see etag.ts); null when absent. */
  ifMatch: string[] | null;
  ctx: WebContext;
  /** The real client address (from PROXY when through a traffic manager). */
  clientAddress: string;
  raw: IncomingMessage;
  res: ServerResponse;
}

/** A handler's answer; `streamed` when it wrote the response itself (the event stream). */
export type ApiResult =
  | { status: number; body?: unknown; etag?: string; headers?: Record<string, string> }
  | { streamed: true };

export interface SuccessSpec {
  status: 200 | 201 | 202 | 204;
  description: string;
  schema?: Schema<unknown>;
  /** When not JSON (the event stream). */
  contentType?: string;
}

export interface Route<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** OpenAPI path template, e.g. "/api/v1/users/{address}". */
  path: string;
  /** operationId in the document, e.g. "createUser". */
  operationId: string;
  summary: string;
  /** The document's grouping (Users, Domains, ...). */
  tag: string;
  /**
   * Who may call it at all: 'public' (no credentials), or the roles; finer
   * checks (which domain, which user) are the handler's.
   */
  access: 'public' | readonly UserRole[];
  params?: Schema<P>;
  query?: Schema<Q>;
  body?: Schema<B>;
  success: SuccessSpec;
  /** Whether the resource has an ETag (GET answers it; PUT/PATCH/DELETE honour If-Match). */
  etag?: boolean;
  /** Errors this route answers besides those every route of its kind can (see openapi.ts). */
  errors: readonly ErrorCode[];
  handler(req: ApiRequest<P, Q, B>): Promise<ApiResult>;
}

/** Declares a route with its types inferred from its schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(r: Route<P, Q, B>): Route<P, Q, B> {
  return r;
}

/** A route of any types, as the table holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = Route<any, any, any>;

/** Roles for routes only an admin may call. */
export const adminOnly: readonly UserRole[] = ['admin'];
/** Roles for routes of the directory that domain admins share (their handlers check the domain). */
export const admins: readonly UserRole[] = ['admin', 'domain-admin'];
/** Every role (handlers check what a 'user' may see). */
export const everyone: readonly UserRole[] = ['admin', 'domain-admin', 'user'];

/** 200 with a JSON body and, when given, its ETag. */
export function ok(body: unknown, etag?: string): ApiResult {
  return { status: 200, body, ...(etag ? { etag } : {}) };
}

export function created(body: unknown, location: string, etag?: string): ApiResult {
  return { status: 201, body, headers: { Location: location }, ...(etag ? { etag } : {}) };
}

export function noContent(): ApiResult {
  return { status: 204 };
}
