/**
 * Reading the form posts of the server-rendered pages (webmail, self-care,
 * the console): application/x-www-form-urlencoded for
 * the small forms, multipart/form-data for compose (attachments).
 *
 * Multipart is parsed by the platform (Node's fetch Response.formData(),
 * undici's parser): no dependency, and the body is read here first with a
 * byte cap, so nothing larger than the cap is ever buffered. Streaming
 * (busboy) would buy nothing: the message is built in memory anyway.
 */
import type { IncomingMessage } from 'node:http';

/** An HTTP answer other than success, with a sentence for the person. */
export class HttpFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** One uploaded file. */
export interface UploadedFile {
  fileName: string;
  mediaType: string;
  data: Buffer;
}

/** A posted form: its text fields and, for multipart, its files. */
export interface PostedForm {
  fields: URLSearchParams;
  files: UploadedFile[];
}

/** Small forms (everything but compose). */
export const maxFormBytes = 1024 * 1024;
/** Files in one compose post. */
export const maxUploadFiles = 20;

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw new HttpFailure(413, `The form is too large (at most ${maxBytes} bytes).`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpFailure(413, `The form is too large (at most ${maxBytes} bytes).`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads a posted form. `multipartMaxBytes` null means only urlencoded
 * forms are accepted here; otherwise multipart/form-data up to that many
 * bytes is too.
 */
export async function readForm(req: IncomingMessage, multipartMaxBytes: number | null = null): Promise<PostedForm> {
  const contentType = req.headers['content-type'] ?? '';
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    return { fields: new URLSearchParams((await readBody(req, maxFormBytes)).toString('utf8')), files: [] };
  }
  if (type !== 'multipart/form-data' || multipartMaxBytes === null) {
    throw new HttpFailure(415, multipartMaxBytes === null
      ? 'Forms are sent as application/x-www-form-urlencoded.'
      : 'Forms are sent as application/x-www-form-urlencoded or multipart/form-data.');
  }
  const body = await readBody(req, multipartMaxBytes);
  let data: FormData;
  try {
    data = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw new HttpFailure(400, 'The form could not be read (malformed multipart/form-data).');
  }
  const fields = new URLSearchParams();
  const files: UploadedFile[] = [];
  for (const [name, value] of data) {
    if (typeof value === 'string') {
      fields.append(name, value);
      continue;
    }
    // A file input left empty still sends a part with no name and no bytes.
    if (value.size === 0 && !value.name) continue;
    if (files.length >= maxUploadFiles) throw new HttpFailure(413, `At most ${maxUploadFiles} attachments at once.`);
    files.push({ fileName: value.name || 'attachment', mediaType: value.type || 'application/octet-stream', data: Buffer.from(await value.arrayBuffer()) });
  }
  return { fields, files };
}
