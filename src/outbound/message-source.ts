/**
 * A queued message's bytes as the worker needs them: its header section
 * (for the Received count of the loop guard and the DSN's copy of the
 * header) and the stream to send, without the Return-Path field, which
 * only the final delivery adds (RFC 5321 4.4).
 */
import { PassThrough, type Readable } from 'node:stream';
import type { BlobId, Blobs } from '../store/types.js';

/** The header is read this far at most; a longer one is cut (and counted from what was read). */
const maxHeaderBytes = 256 * 1024;

export interface MessageHead {
  /** The header section including its blank line, or the first maxHeaderBytes. */
  header: Buffer;
  /** Received fields in the header. */
  receivedCount: number;
}

async function readRange(blobs: Blobs, id: BlobId, start: number, end: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of blobs.createReadStream(id, { start, end })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Where the header ends: the index just past the blank line, or -1. */
function headerEnd(buf: Buffer): number {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4;
  if (lf >= 0) return lf + 2;
  return -1;
}

export async function readMessageHead(blobs: Blobs, id: BlobId, size: number): Promise<MessageHead> {
  const buf = await readRange(blobs, id, 0, Math.min(size, maxHeaderBytes));
  const end = headerEnd(buf);
  const header = end >= 0 ? buf.subarray(0, end) : buf;
  const receivedCount = (header.toString('latin1').match(/(^|\n)Received[ \t]*:/gi) ?? []).length;
  return { header, receivedCount };
}

/** The header with any Return-Path field (and its folded lines) removed. */
export function withoutReturnPath(header: Buffer): Buffer {
  const text = header.toString('latin1');
  const out = text.replace(/(^|\n)Return-Path[ \t]*:[^\n]*\n([ \t][^\n]*\n)*/gi, '$1');
  return out.length === text.length ? header : Buffer.from(out, 'latin1');
}

/** The message to send: the edited header, then the rest of the blob, streamed. */
export function outgoingMessage(blobs: Blobs, id: BlobId, size: number, head: MessageHead): Readable {
  const out = new PassThrough();
  out.write(withoutReturnPath(head.header));
  if (head.header.length >= size) {
    out.end();
    return out;
  }
  const rest = blobs.createReadStream(id, { start: head.header.length, end: size });
  rest.on('error', (err) => out.destroy(err));
  rest.pipe(out);
  return out;
}
