/**
 * What SEARCH knows about one message while it is being evaluated: the
 * record at once, the MIME index and the bytes once loaded (load() is
 * called by the evaluator with the level it needs), and the folded texts
 * string keys compare against, each computed at most once per message.
 *
 * Text is bounded: the header section is read up to `maxTextBytes`, the
 * body text comes from searchableText() with the same cap, and the headers
 * of attached messages (message/rfc822 parts) share one more such budget.
 */
import {
  decodeCharset,
  decodeWords,
  headerFieldValues,
  searchableText,
  sectionRange,
  type DecodedAddress,
  type MimeIndex,
  type MimePart,
} from '../../../mail/mime/index.js';
import type { MessageContent, SessionMessage } from '../message-content.js';
import { foldText } from './fold.js';
import { dayNumber, LEVEL_HEADER, LEVEL_INDEX, type AddressField, type Level, type PlanNode } from './plan.js';

/** "YYYY-MM-DD", as the index stores the calendar day of the Date field. */
const SENT_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Folded texts in two forms: with encoded words decoded and as written (equal for most fields). */
interface FoldedPair {
  readonly decoded: string;
  readonly raw: string;
}

/** One message under evaluation; created per message and dropped after it, so nothing outlives it. */
export class MessageFacts {
  private mimeIndex: MimeIndex | null = null;
  private data: Buffer | null = null;
  private subject: string | null | undefined;
  private readonly addresses = new Map<AddressField, string | null>();
  private readonly headerValues = new Map<string, FoldedPair[]>();
  private headerText: FoldedPair | null = null;
  private bodyText: string | null = null;
  /** Results of string keys already decided for this message, so a later level does not search again. */
  readonly decided = new Map<PlanNode, boolean>();

  constructor(
    /** The message. */
    readonly message: SessionMessage,
    private readonly content: MessageContent,
    private readonly maxTextBytes: number,
  ) {}

  /**
   * Whether the message carries a flag; flags compare case-insensitively.
   * @param spelling the flag as written (the store keeps system flags in this spelling)
   * @param lowerFlag the same, lower case
   */
  hasFlag(spelling: string, lowerFlag: string): boolean {
    // A message has a handful of flags: a scan beats building a set per message.
    for (const f of this.message.record.flags) {
      if (f === spelling || (f.length === lowerFlag.length && f.toLowerCase() === lowerFlag)) return true;
    }
    return false;
  }

  /** Loads what `level` needs: the index from INDEX up, the bytes from HEADER up. */
  async load(level: Level): Promise<void> {
    if (level >= LEVEL_INDEX && this.mimeIndex === null) this.mimeIndex = await this.content.index(this.message.record);
    if (level >= LEVEL_HEADER && this.data === null) this.data = await this.content.bytes(this.message.record);
  }

  /** Whether anything beyond the record was loaded for this message. */
  get loaded(): boolean {
    return this.mimeIndex !== null;
  }

  private get index(): MimeIndex {
    if (this.mimeIndex === null) throw new Error('SEARCH evaluated an index key before loading the index');
    return this.mimeIndex;
  }

  private get bytes(): Buffer {
    if (this.data === null) throw new Error('SEARCH evaluated a content key before loading the message');
    return this.data;
  }

  /** The calendar day of the Date field (days since the epoch), or null when it is missing or unreadable. */
  sentDay(): number | null {
    const m = SENT_DATE.exec(this.index.headers.sentDate ?? '');
    return m ? dayNumber(Number(m[1]), Number(m[2]), Number(m[3])) : null;
  }

  /** The decoded Subject, folded; null when the message has no Subject field. */
  foldedSubject(): string | null {
    if (this.subject === undefined) {
      const subject = this.index.headers.subject;
      this.subject = subject === null ? null : foldText(subject);
    }
    return this.subject;
  }

  /**
   * An address field as text, folded: each address as `name <local@domain>`
   * (the display name decoded, the address as written), or only the address
   * when there is no name, joined by ", ". Null when the field holds none.
   */
  foldedAddresses(field: AddressField): string | null {
    let text = this.addresses.get(field);
    if (text === undefined) {
      const list: DecodedAddress[] = this.index.headers[field];
      text = list.length === 0 ? null : foldText(list.map((a) => (a.name ? `${a.name} <${a.address}>` : a.address)).join(', '));
      this.addresses.set(field, text);
    }
    return text;
  }

  /** The top-level header section, at most `maxTextBytes` of it. */
  private headerSection(): Buffer {
    const range = sectionRange(this.index, [], 'HEADER');
    if (range === null) return Buffer.alloc(0);
    return this.bytes.subarray(range.start, Math.min(range.end, range.start + this.maxTextBytes));
  }

  /** Every value of a header field (name lower case) of the message, unfolded, folded; empty when absent. */
  foldedHeaderValues(field: string): readonly FoldedPair[] {
    let values = this.headerValues.get(field);
    if (values === undefined) {
      values = headerFieldValues(this.headerSection(), field).map((raw) => pair(raw));
      this.headerValues.set(field, values);
    }
    return values;
  }

  /** The whole top-level header section, unfolded, folded. */
  foldedHeaderText(): FoldedPair {
    if (this.headerText === null) this.headerText = pair(unfold(decodeCharset(this.headerSection(), null)));
    return this.headerText;
  }

  /**
   * The body as text, folded: the decoded text parts (transfer encoding and
   * charset undone, HTML reduced to text) and the decoded headers of
   * attached messages, which are part of the body (RFC 3501 6.4.4 BODY).
   */
  foldedBodyText(): string {
    if (this.bodyText === null) {
      const text = searchableText(this.bytes, this.index, this.maxTextBytes);
      const attached = attachedHeaders(this.bytes, this.index.root, this.maxTextBytes);
      this.bodyText = foldText(attached.length === 0 ? text : `${text}\n${attached}`);
    }
    return this.bodyText;
  }
}

function pair(raw: string): FoldedPair {
  const decoded = decodeWords(raw);
  const foldedRaw = foldText(raw);
  return { decoded: decoded === raw ? foldedRaw : foldText(decoded), raw: foldedRaw };
}

/** Removes the line breaks that fold header fields (RFC 5322 2.2.3). */
function unfold(text: string): string {
  return text.replace(/\r?\n(?=[ \t])/g, '');
}

/** The header sections of the messages attached below `part`, decoded, at most `maxBytes` of them in all. */
function attachedHeaders(bytes: Buffer, root: MimePart, maxBytes: number): string {
  const pieces: string[] = [];
  let budget = maxBytes;
  const stack: MimePart[] = [root];
  while (stack.length > 0 && budget > 0) {
    const part = stack.pop()!;
    if (part.kind === 'multipart') {
      for (let i = part.parts!.length - 1; i >= 0; i--) stack.push(part.parts![i]!);
    } else if (part.kind === 'message') {
      const inner = part.message!;
      const end = Math.min(inner.headerEnd, inner.headerStart + budget);
      budget -= end - inner.headerStart;
      pieces.push(decodeWords(unfold(decodeCharset(bytes.subarray(inner.headerStart, end), null))));
      stack.push(inner);
    }
  }
  return pieces.join('\n');
}
