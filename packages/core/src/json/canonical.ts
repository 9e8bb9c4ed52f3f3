/**
 * TUF canonical JSON from values (what we sign): the OLPC form securesystemslib and go-tuf use.
 * Keys sorted by Unicode code point, no white space, only `"` and `\` escaped, raw UTF-8,
 * integers only. See docs/adr/0002-canonical-json.md for why this is not RFC 8785.
 */
import { FormatError } from '../errors.js';

const encoder = new TextEncoder();

/** Compares strings by Unicode code point (JavaScript's `<` compares UTF-16 code units). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Code-unit and code-point order disagree only between a surrogate and U+E000–U+FFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Canonical JSON written into one growing buffer. Exported (within core, not re-exported by the
 * package) for encoders that write part of a document from something other than JSON values:
 * a hash bin's targets straight from compact staged entries (repository/bin-encoding.ts).
 */
export class CanonicalWriter {
  buf: Uint8Array = new Uint8Array(4096);
  len = 0;

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  ascii(s: string): void {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }

  string(s: string, path: string): void {
    // Worst case three UTF-8 bytes per UTF-16 unit, plus escapes and quotes.
    this.ensure(s.length * 3 + 2);
    this.buf[this.len++] = 0x22;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdfff) {
        const lo = s.charCodeAt(i + 1);
        if (c > 0xdbff || !(lo >= 0xdc00 && lo <= 0xdfff)) {
          throw new FormatError('lone surrogate in string', path);
        }
        i++;
      }
    }
    if (/["\\]/.test(s)) s = s.replace(/["\\]/g, '\\$&');
    this.ensure(s.length * 3 + 1);
    const { written } = encoder.encodeInto(s, this.buf.subarray(this.len));
    this.len += written;
    this.buf[this.len++] = 0x22;
  }

  /**
   * Any JSON value, canonical; `path` names it in errors, `depth` is how deep in the document
   * it is (the nesting limit counts from the document's top).
   */
  value(v: unknown, path: string, depth = 0): void {
    write(this, v, path, depth);
  }

  /** The bytes written so far (a copy). */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function write(w: CanonicalWriter, v: unknown, path: string, depth: number): void {
  if (depth > 64) throw new FormatError('nesting too deep', path);
  if (v === null) {
    w.ascii('null');
    return;
  }
  switch (typeof v) {
    case 'string':
      w.string(v, path);
      return;
    case 'boolean':
      w.ascii(v ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isSafeInteger(v) || Object.is(v, -0)) {
        throw new FormatError(`expected an integer within ±(2^53 − 1), found ${String(v)}`, path);
      }
      w.ascii(String(v));
      return;
    case 'object': {
      if (Array.isArray(v)) {
        w.byte(0x5b);
        for (let i = 0; i < v.length; i++) {
          if (i > 0) w.byte(0x2c);
          write(w, v[i], `${path}[${i}]`, depth + 1);
        }
        w.byte(0x5d);
        return;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new FormatError('only plain objects can be canonicalized', path);
      }
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj);
      keys.sort(compareCodePoints);
      w.byte(0x7b);
      let first = true;
      for (const k of keys) {
        const item = obj[k];
        if (item === undefined) continue;
        if (!first) w.byte(0x2c);
        first = false;
        w.string(k, path);
        w.byte(0x3a);
        write(w, item, `${path}.${k}`, depth + 1);
      }
      w.byte(0x7d);
      return;
    }
    default:
      throw new FormatError(`cannot canonicalize a ${typeof v}`, path);
  }
}

/** The canonical bytes of a JSON value. Properties whose value is `undefined` are left out. */
export function canonicalBytes(value: unknown): Uint8Array {
  const w = new CanonicalWriter();
  write(w, value, '$', 0);
  return w.bytes();
}

/** The canonical form as a string (for tests and display; sign the bytes). */
export function canonicalString(value: unknown): string {
  return new TextDecoder().decode(canonicalBytes(value));
}
