/**
 * Deterministic test messages for the IMAP benchmark: the same bytes go to
 * Rookery's store and to Dovecot's Maildir. Plain-text messages of a few
 * KB with realistic headers; a marker word (never produced otherwise) in
 * the body of a known share of them, so SEARCH TEXT has a known answer.
 */

/** The word SEARCH TEXT looks for; the vocabulary never produces it. */
export const marker = 'pelicanmarker';

const words = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her ' +
  'all she there would their we him been has when who will more no if out so said what up its about into than them can only ' +
  'other new some could time these two may then do first any my now such like our over man me even most made after also did ' +
  'many before must through back years where much your way well down should because each just those people how too little ' +
  'state good very make world still own see men work long get here between both life being under never day same another know ' +
  'while last might us great old year off come since against go came right used take three meeting report budget quarter ' +
  'schedule project review invoice shipment delivery customer support release version server cluster mailbox message'
).split(' ');

/** A small seeded generator (mulberry32), so every run writes the same messages. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratedMessage {
  bytes: Buffer;
  /** The body holds the marker word. */
  marked: boolean;
  /** Delivered with \Seen. */
  seen: boolean;
  internalDate: Date;
}

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

function rfc5322Date(d: Date): string {
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/**
 * Message number `i` of a set named `set` (the set name goes into the
 * Message-ID so that sets never share bytes). About `bodyBytes` of body in
 * 72-column lines; the marker is in the body when i % markEvery === 0.
 */
export function generateMessage(set: string, i: number, opts: { bodyBytes?: number; markEvery?: number } = {}): GeneratedMessage {
  const bodyBytes = opts.bodyBytes ?? 2048;
  const markEvery = opts.markEvery ?? 100;
  const r = rng(i * 7919 + set.length * 104729 + set.charCodeAt(0));
  const pick = () => words[Math.floor(r() * words.length)]!;
  const subjectWords = Array.from({ length: 3 + Math.floor(r() * 5) }, pick).join(' ');
  const date = new Date(Date.UTC(2024, 0, 1) + i * 600_000);
  const marked = i % markEvery === 0;
  const lines: string[] = [];
  let size = 0;
  let line = '';
  const markAt = marked ? Math.floor(r() * (bodyBytes / 10)) : -1;
  let count = 0;
  while (size < bodyBytes) {
    const w = count++ === markAt ? marker : pick();
    if (line.length + w.length + 1 > 72) {
      lines.push(line);
      size += line.length + 2;
      line = '';
    }
    line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  const from = `${pick()}.${pick()}@sender${i % 37}.example.org`;
  const text = [
    `Return-Path: <${from}>`,
    `From: ${pick()[0]!.toUpperCase()}${pick()} Sender <${from}>`,
    'To: U <u@example.test>',
    `Subject: ${subjectWords} #${i}`,
    `Date: ${rfc5322Date(date)}`,
    `Message-ID: <${set}.${i}@bench.example.org>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    ...lines,
    '',
  ].join('\r\n');
  return { bytes: Buffer.from(text, 'latin1'), marked, seen: i % 3 !== 0, internalDate: date };
}
