/** The web layer of a node: the HTTP service (see server.ts). */
export { createHttpService, type HttpServiceOptions } from './server.js';
