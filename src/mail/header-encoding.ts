/** Writing header fields of messages Rookery composes (webmail, auto-replies). */

/**
 * An unstructured header value (RFC 5322 3.2.5): line breaks folded to
 * spaces, and RFC 2047 base64 encoded words when it is not plain ASCII, one
 * word per run of whole characters, each word under 75 octets.
 */
export function encodedHeaderText(value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ').trim();
  if (/^[\x20-\x7e]*$/.test(clean)) return clean;
  const words: string[] = [];
  let chunk = '';
  for (const ch of clean) {
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}
