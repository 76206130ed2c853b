/**
 * Modified UTF-7 for IMAP mailbox names (RFC 3501 section 5.1.3, kept by
 * RFC 9051 section 5.1.3 for clients that do not enable UTF8=ACCEPT).
 * Printable US-ASCII (0x20-0x7E) stands for itself except "&", which is
 * written "&-"; every other character is UTF-16BE, encoded in modified
 * BASE64 (RFC 2045's alphabet with "," instead of "/", no "=" padding)
 * between "&" and "-". Decoding is strict: a name has exactly one spelling,
 * so a name that could be written two ways (an encoded printable character,
 * adjacent shifted runs, non-zero padding bits, a lone surrogate) is refused
 * rather than silently normalised.
 */

/** A string that is not valid modified UTF-7; `message` is a sentence for the client. */
export class ModifiedUtf7Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModifiedUtf7Error';
  }
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const VALUE_OF = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE_OF[ALPHABET.charCodeAt(i)] = i;

const AMP = 0x26;

function isPrintableAscii(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

/** Encodes a Unicode mailbox name (a JS string, any code points) to modified UTF-7. */
export function encodeModifiedUtf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const code = name.charCodeAt(i);
    if (isPrintableAscii(code)) {
      out += code === AMP ? '&-' : name[i];
      i++;
      continue;
    }
    // Collect the run of characters that need shifting, as UTF-16 code units.
    const units: number[] = [];
    while (i < name.length && !isPrintableAscii(name.charCodeAt(i))) {
      units.push(name.charCodeAt(i));
      i++;
    }
    out += '&' + base64Units(units) + '-';
  }
  return out;
}

function base64Units(units: number[]): string {
  let out = '';
  let bits = 0;
  let bitCount = 0;
  for (const unit of units) {
    bits = (bits << 16) | unit;
    bitCount += 16;
    while (bitCount >= 6) {
      bitCount -= 6;
      out += ALPHABET[(bits >> bitCount) & 0x3f];
    }
    bits &= (1 << bitCount) - 1;
  }
  if (bitCount > 0) out += ALPHABET[(bits << (6 - bitCount)) & 0x3f];
  return out;
}

/**
 * Decodes a modified UTF-7 mailbox name to a Unicode string.
 * @throws ModifiedUtf7Error for anything RFC 3501 section 5.1.3 does not allow:
 *   8-bit or control characters, a shift without its closing "-", characters
 *   outside the modified BASE64 alphabet, non-zero or too many padding bits,
 *   an odd number of bytes, unpaired surrogates, printable US-ASCII written
 *   in BASE64, and adjacent shifted runs ("-&" inside a name is a null shift).
 */
export function decodeModifiedUtf7(encoded: string): string {
  let out = '';
  let i = 0;
  let previousWasShift = false;
  while (i < encoded.length) {
    const code = encoded.charCodeAt(i);
    if (!isPrintableAscii(code)) throw new ModifiedUtf7Error('a mailbox name in modified UTF-7 contains a character outside printable US-ASCII');
    if (code !== AMP) {
      out += encoded[i];
      i++;
      previousWasShift = false;
      continue;
    }
    const close = encoded.indexOf('-', i + 1);
    if (close === -1) throw new ModifiedUtf7Error('a mailbox name has "&" without the closing "-"');
    if (close === i + 1) {
      out += '&';
      i += 2;
      previousWasShift = false;
      continue;
    }
    if (previousWasShift) throw new ModifiedUtf7Error('a mailbox name has two adjacent shifted sequences ("-&"), which modified UTF-7 forbids');
    out += decodeShifted(encoded, i + 1, close);
    i = close + 1;
    previousWasShift = true;
  }
  return out;
}

function decodeShifted(encoded: string, start: number, end: number): string {
  const units: number[] = [];
  let bits = 0;
  let bitCount = 0;
  for (let j = start; j < end; j++) {
    const c = encoded.charCodeAt(j);
    const value = c < 128 ? VALUE_OF[c]! : -1;
    if (value < 0) throw new ModifiedUtf7Error(`a mailbox name has "${encoded[j]}" inside a modified BASE64 run`);
    bits = ((bits << 6) | value) & 0xffffff;
    bitCount += 6;
    if (bitCount >= 16) {
      bitCount -= 16;
      units.push((bits >> bitCount) & 0xffff);
    }
  }
  // Whatever is left must be padding: fewer than 6 bits, all zero.
  if (bitCount >= 6 || (bits & ((1 << bitCount) - 1)) !== 0) {
    throw new ModifiedUtf7Error('a mailbox name has a modified BASE64 run that does not end on a whole UTF-16 character');
  }
  let out = '';
  for (let k = 0; k < units.length; k++) {
    const unit = units[k]!;
    if (isPrintableAscii(unit)) throw new ModifiedUtf7Error('a mailbox name encodes a printable US-ASCII character in BASE64; it must be written as itself');
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = units[k + 1];
      if (low === undefined || low < 0xdc00 || low > 0xdfff) throw new ModifiedUtf7Error('a mailbox name has an unpaired UTF-16 surrogate');
      out += String.fromCharCode(unit, low);
      k++;
      continue;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) throw new ModifiedUtf7Error('a mailbox name has an unpaired UTF-16 surrogate');
    out += String.fromCharCode(unit);
  }
  return out;
}

/** True when `encoded` decodes without error (a convenience for validators). */
export function isValidModifiedUtf7(encoded: string): boolean {
  try {
    decodeModifiedUtf7(encoded);
    return true;
  } catch (e) {
    if (e instanceof ModifiedUtf7Error) return false;
    throw e;
  }
}
