/** The API's route table: every route under /api/v1, in the order the document lists them. */
import { openApiDocument } from '../openapi.js';
import { ok, route, type AnyRoute } from '../route.js';
import { configRoutes } from './config.js';
import { directoryRoutes } from './directory.js';
import { mailRoutes } from './mail.js';
import { operationRoutes } from './operations.js';
import { userRoutes } from './users.js';

const documented: AnyRoute[] = [...userRoutes, ...directoryRoutes, ...operationRoutes, ...configRoutes, ...mailRoutes];

let documentCache: Record<string, unknown> | null = null;

export const apiRoutes: AnyRoute[] = [
  route({
    method: 'GET', path: '/api/v1/openapi.json', operationId: 'openApiDocument', tag: 'Session', access: 'public',
    summary: 'This document.',
    success: { status: 200, description: 'The OpenAPI 3 document of the API.' },
    errors: [],
    async handler() {
      documentCache ??= openApiDocument(apiRoutes);
      return ok(documentCache);
    },
  }),
  ...documented,
];
