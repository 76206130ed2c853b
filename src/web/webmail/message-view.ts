/**
 * What the reading pane shows of a message: its decoded headers, the body
 * parts to display (text as text, HTML sanitised; of a
 * multipart/alternative the richest one we can show), and the attachments.
 * Built from the stored MIME index: only the displayed parts' bytes are
 * decoded.
 */
import { decodeCharset, decodeTransferEncoding, textParts, type MimeIndex, type MimePart } from '../../mail/mime/index.js';
import { escapeHtml } from './html.js';
import { sanitizeMailHtml } from './sanitize.js';

export interface Attachment {
  section: string;
  fileName: string;
  mediaType: string;
  size: number;
}

/** The bytes of a part's body, transfer encoding undone. */
export function partBytes(message: Buffer, part: MimePart): Buffer {
  return decodeTransferEncoding(message.subarray(part.bodyStart, part.bodyEnd), part.encoding);
}

/** The leaf part with the given section number. */
export function partBySection(root: MimePart, section: string): MimePart | null {
  if (root.kind !== 'multipart' && (root.section || '1') === section) return root;
  if (root.kind === 'leaf') return null;
  for (const child of root.parts ?? (root.message ? [root.message] : [])) {
    const found = partBySection(child, section);
    if (found) return found;
  }
  return null;
}

function isAttachment(part: MimePart): boolean {
  if (part.disposition === 'attachment') return true;
  if (part.mediaType === 'text/plain' || part.mediaType === 'text/html') return false;
  return true;
}

const displayLimitBytes = 2 * 1024 * 1024;

export interface RenderedBody {
  /** The displayed parts as safe HTML. */
  html: string;
  attachments: Attachment[];
  /** Sections of the parts displayed (what a reply quotes). */
  shownSections: string[];
  /** Whether a displayed HTML part has remote images (blocked unless asked). */
  remoteImages: boolean;
}

/** Renders the body of a message as safe HTML and lists its attachments; remote images load only with `images`. */
export function renderBody(message: Buffer, index: MimeIndex, opts: { images?: boolean } = {}): RenderedBody {
  const attachments: Attachment[] = [];
  const shown: string[] = [];
  const shownSections: string[] = [];
  let remoteImages = false;
  const show = (part: MimePart): void => {
    const raw = partBytes(message, part).subarray(0, displayLimitBytes);
    const text = decodeCharset(raw, part.charset);
    shownSections.push(part.section || '1');
    if (part.mediaType === 'text/html') {
      const safe = sanitizeMailHtml(text, { images: opts.images === true });
      remoteImages ||= safe.remoteImages;
      shown.push(`<div class="html">${safe.html}</div>`);
    } else shown.push(`<pre>${escapeHtml(text)}</pre>`);
  };
  const walk = (part: MimePart): void => {
    if (part.kind === 'message' && part.message) {
      if (part.disposition === 'attachment') attachments.push({ section: part.section, fileName: part.fileName ?? 'message.eml', mediaType: part.mediaType, size: part.bodyEnd - part.bodyStart });
      else walk(part.message);
      return;
    }
    if (part.kind === 'multipart') {
      const children = part.parts ?? [];
      if (part.mediaType === 'multipart/alternative') {
        const pick = [...children].reverse().find((c) => c.kind === 'leaf' && (c.mediaType === 'text/html' || c.mediaType === 'text/plain') && c.disposition !== 'attachment')
          ?? children.find((c) => c.kind !== 'leaf');
        if (pick) walk(pick);
        for (const c of children) if (c !== pick && c.kind === 'leaf' && isAttachment(c) && c.fileName) walk(c);
        return;
      }
      for (const c of children) walk(c);
      return;
    }
    if (isAttachment(part)) {
      attachments.push({ section: part.section || '1', fileName: part.fileName ?? `part-${part.section || '1'}`, mediaType: part.mediaType, size: part.bodyEnd - part.bodyStart });
      return;
    }
    show(part);
  };
  walk(index.root);
  return { html: shown.join('\n'), attachments, shownSections, remoteImages };
}

const quoteLimitBytes = 256 * 1024;

/** The displayed text of a message as plain text (HTML reduced to its text), for quoting in a reply or forward. */
export function displayedText(message: Buffer, index: MimeIndex, shownSections: readonly string[]): string {
  const wanted = new Set(shownSections);
  const pieces: string[] = [];
  for (const p of textParts(message, index, quoteLimitBytes)) if (wanted.has(p.section || '1')) pieces.push(p.text.replace(/\r\n?/g, '\n').trimEnd());
  return pieces.join('\n\n');
}
