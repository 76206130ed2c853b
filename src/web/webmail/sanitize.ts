/**
 * HTML mail made safe to show inside the webmail page: an allowlist of
 * tags and attributes, everything else dropped. Scripts, styles, frames,
 * forms and the like go with their content; event handlers, style and class
 * attributes go; links keep only http, https and mailto targets and open in
 * a new tab without a referrer; images are not loaded (remote images give
 * away that, when and where a message was read) but replaced by their
 * alternative text. Tags are balanced against a stack, so mail cannot close
 * the page's own elements.
 *
 * This is the second line: the page's Content-Security-Policy allows no
 * script at all and images only from the node, so whatever got past here
 * still cannot run or call out. Written here rather than taken from a
 * package: the DOM-based sanitisers need a DOM on the server (jsdom, large),
 * and an allowlist this small is easier to review than a dependency.
 */
import { decodeHTML } from 'entities';
import { escapeHtml } from './html.js';

/** Dropped together with everything inside them. */
const dropWithContent = new Set([
  'script', 'style', 'iframe', 'object', 'embed', 'noscript', 'template', 'title', 'head', 'textarea', 'select',
  'svg', 'math', 'frameset', 'frame', 'applet', 'xml', 'noembed', 'noframes', 'plaintext', 'xmp', 'option', 'button',
]);

/** Kept (with allowed attributes); any other tag is dropped and its content kept. */
const allowedTags = new Set([
  'a', 'b', 'i', 'u', 'em', 'strong', 'p', 'br', 'div', 'span', 'ul', 'ol', 'li', 'blockquote', 'pre', 'code',
  'table', 'thead', 'tbody', 'tfoot', 'tr', 'td', 'th', 'caption', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr',
  'font', 'small', 'big', 'sub', 'sup', 's', 'strike', 'center', 'dl', 'dt', 'dd', 'tt', 'abbr', 'cite', 'q',
]);

const voidTags = new Set(['br', 'hr']);

const allowedAttributes = new Set(['title', 'alt', 'colspan', 'rowspan', 'align', 'valign', 'width', 'height', 'dir', 'lang']);

// Every alternative, once started, matches to its end or to the end of the input (a quoted value or
// a tag left open runs to the end, as in a browser), so no match fails part-way and the scan stays
// linear: with a closing quote or ">" required, "<a<a<a..." took seconds per 100 KB.
const tagPattern = /<!--[\s\S]*?(?:-->|$)|<![^>]*>?|<\?[^>]*>?|<\/?([a-zA-Z][a-zA-Z0-9-]*)((?:[^>"']|"[^"]*(?:"|$)|'[^']*(?:'|$))*)(>|$)/g;
const attrPattern = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;

/** Whether a link target is one we let through: http, https or mailto. */
function safeHref(raw: string): string | null {
  // Browsers ignore control characters and whitespace inside a scheme ("java\tscript:").
  const value = decodeHTML(raw).replace(/[\u0000-\u0020\u007f-\u009f]+/g, '');
  if (/^(https?:\/\/|mailto:)/i.test(value)) return value;
  return null;
}

function attributes(tag: string, source: string): string {
  let out = '';
  for (const m of source.matchAll(attrPattern)) {
    const name = m[1]!.toLowerCase();
    const value = m[2] ?? m[3] ?? m[4] ?? '';
    if (tag === 'a' && name === 'href') {
      const href = safeHref(value);
      if (href) out += ` href="${escapeHtml(href)}"`;
      continue;
    }
    if (!allowedAttributes.has(name)) continue;
    out += ` ${name}="${escapeHtml(decodeHTML(value))}"`;
  }
  if (tag === 'a') out += ' rel="noopener noreferrer nofollow" target="_blank"';
  return out;
}

/** What the reader allowed for this message. */
export interface SanitizeOptions {
  /** Load remote (http, https) images; otherwise each image is its alternative text. */
  images?: boolean;
}

/** An <img>: blocked (its alternative text) unless images are allowed and its source is http or https. */
function image(source: string, allowed: boolean, found: { remoteImages: boolean }): string {
  let alt = '';
  let src: string | null = null;
  let size = '';
  for (const m of source.matchAll(attrPattern)) {
    const name = m[1]!.toLowerCase();
    const value = decodeHTML(m[2] ?? m[3] ?? m[4] ?? '');
    if (name === 'alt') alt = value.trim();
    else if (name === 'src') src = value.replace(/[\u0000-\u0020\u007f-\u009f]+/g, '');
    else if ((name === 'width' || name === 'height') && /^\d{1,4}%?$/.test(value.trim())) size += ` ${name}="${value.trim()}"`;
  }
  const remote = src !== null && /^https?:\/\//i.test(src);
  found.remoteImages ||= remote;
  if (allowed && remote && src !== null) {
    return `<img src="${escapeHtml(src)}" alt="${escapeHtml(alt)}"${size} referrerpolicy="no-referrer" loading="lazy">`;
  }
  return `<span class="blocked-image">[image${alt ? `: ${escapeHtml(alt)}` : ''}]</span>`;
}

/** The safe rendition of an HTML document or fragment. */
export function sanitizeHtml(html: string, opts: SanitizeOptions = {}): string {
  return sanitizeMailHtml(html, opts).html;
}

/** The safe rendition, and whether the HTML has remote images ("Show images" would load them). */
export function sanitizeMailHtml(html: string, opts: SanitizeOptions = {}): { html: string; remoteImages: boolean } {
  const found = { remoteImages: false };
  let out = '';
  const open: string[] = [];
  let last = 0;
  let skipUntil: string | null = null;
  tagPattern.lastIndex = 0;
  for (let m = tagPattern.exec(html); m; m = tagPattern.exec(html)) {
    const text = html.slice(last, m.index);
    last = tagPattern.lastIndex;
    if (skipUntil === null && text) out += escapeHtml(decodeHTML(text));
    const name = m[1]?.toLowerCase();
    if (!name) continue; // comments, doctypes, processing instructions
    if (m[3] !== '>') break; // a tag still open at the end of the input: a browser drops it
    const closing = m[0].startsWith('</');
    if (skipUntil !== null) {
      if (closing && name === skipUntil) skipUntil = null;
      continue;
    }
    if (dropWithContent.has(name)) {
      if (!closing && !/\/\s*$/.test(m[2] ?? '')) skipUntil = name;
      continue;
    }
    if (name === 'img' && !closing) {
      out += image(m[2] ?? '', opts.images === true, found);
      continue;
    }
    if (!allowedTags.has(name)) continue;
    if (closing) {
      const at = open.lastIndexOf(name);
      if (at === -1) continue;
      while (open.length > at) out += `</${open.pop()!}>`;
      continue;
    }
    out += `<${name}${attributes(name, m[2] ?? '')}>`;
    if (!voidTags.has(name)) open.push(name);
  }
  if (skipUntil === null) out += escapeHtml(decodeHTML(html.slice(last)));
  while (open.length > 0) out += `</${open.pop()!}>`;
  return { html: out, remoteImages: found.remoteImages };
}
