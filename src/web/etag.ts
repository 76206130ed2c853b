/**
 * ETags and If-Match (RFC 9110 8.8.3, 13.1.1): every resource's ETag is a
 * hash of its representation, so it changes exactly when what a client
 * read changes. PUT, PATCH and DELETE with an If-Match that does not name
 * the current ETag answer 412, so two admins never overwrite each other
 * silently. (The check and the write are two store calls: a change landing
 * between them is not caught. The window is one round trip to the store.)
 */
import { createHash } from 'node:crypto';
import { ApiError } from './errors.js';

/** A strong ETag of a JSON representation. */
export function etagOf(representation: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(representation)).digest('base64url').slice(0, 27)}"`;
}

/** The entity tags of an If-Match header; '*' as ['*']; null if the header is absent. */
export function parseIfMatch(header: string | undefined): string[] | null {
  if (header === undefined) return null;
  if (header.trim() === '*') return ['*'];
  return header.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

/** Throws 412 unless If-Match is absent, '*', or names the current ETag (strong comparison: a weak tag never matches). */
export function checkIfMatch(ifMatch: string[] | null, current: string): void {
  if (ifMatch === null || ifMatch.includes('*')) return;
  if (ifMatch.some((t) => !t.startsWith('W/') && t === current)) return;
  throw new ApiError('precondition-failed', 'The resource changed since you read it (its ETag is not the one in If-Match); read it again and retry.');
}
