/**
 * The lean floor's canonical encoder: TUF (OLPC) canonical JSON of a `JSON.parse` value,
 * written into one growable byte buffer. Keys sorted by `Array.prototype.sort` (UTF-16 order;
 * it differs from code-point order only between astral characters and U+E000–U+FFFF, which
 * the fixtures do not contain), no white space, only `"` and `\` escaped, raw UTF-8.
 *
 * No validation beyond what encoding needs: this is the floor to compare against, not a
 * reader of untrusted data (duplicates, fractions, lone surrogates pass through unchecked).
 */
const encoder = new TextEncoder();

/** Own keys in sort order; files written with sorted keys (the usual case) skip the sort. */
function sortedKeys(o) {
  const keys = Object.keys(o);
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] > keys[i]) return keys.sort();
  return keys;
}

export class CanonicalWriter {
  /** @param {number} sizeHint initial capacity, e.g. the input's byte length */
  constructor(sizeHint = 4096) {
    this.buf = new Uint8Array(Math.max(64, sizeHint));
    this.len = 0;
  }

  grow(n) {
    if (this.len + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }

  ascii(s) {
    this.grow(s.length);
    const b = this.buf;
    let n = this.len;
    for (let i = 0; i < s.length; i++) b[n++] = s.charCodeAt(i);
    this.len = n;
  }

  string(s) {
    // Worst case: every unit escaped (2 bytes) or 3 UTF-8 bytes, plus quotes.
    this.grow(s.length * 3 + 2);
    const b = this.buf;
    let n = this.len;
    b[n++] = 0x22;
    let i = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      if (c === 0x22 || c === 0x5c) b[n++] = 0x5c;
      b[n++] = c;
    }
    if (i < s.length) {
      // Non-ASCII tail: escape, then let the engine's UTF-8 encoder write it.
      const rest = s.slice(i).replace(/["\\]/g, '\\$&');
      this.len = n;
      this.grow(rest.length * 3 + 1);
      n += encoder.encodeInto(rest, this.buf.subarray(n)).written;
    }
    this.buf[n++] = 0x22;
    this.len = n;
  }

  value(v) {
    switch (typeof v) {
      case 'string':
        this.string(v);
        return;
      case 'number':
        if (!Number.isSafeInteger(v)) throw new TypeError(`not a canonical integer: ${v}`);
        this.ascii(String(v));
        return;
      case 'boolean':
        this.ascii(v ? 'true' : 'false');
        return;
      case 'object':
        if (v === null) {
          this.ascii('null');
        } else if (Array.isArray(v)) {
          this.grow(1);
          this.buf[this.len++] = 0x5b;
          for (let i = 0; i < v.length; i++) {
            if (i > 0) {
              this.grow(1);
              this.buf[this.len++] = 0x2c;
            }
            this.value(v[i]);
          }
          this.grow(1);
          this.buf[this.len++] = 0x5d;
        } else {
          const keys = sortedKeys(v);
          this.grow(1);
          this.buf[this.len++] = 0x7b;
          for (let i = 0; i < keys.length; i++) {
            const k = keys[i];
            if (i > 0) {
              this.grow(1);
              this.buf[this.len++] = 0x2c;
            }
            this.string(k);
            this.grow(1);
            this.buf[this.len++] = 0x3a;
            this.value(v[k]);
          }
          this.grow(1);
          this.buf[this.len++] = 0x7d;
        }
        return;
      default:
        throw new TypeError(`cannot encode a ${typeof v}`);
    }
  }

  bytes() {
    return this.buf.subarray(0, this.len);
  }
}

/** Canonical bytes of a JSON value (a view into the writer's buffer; no final copy). */
export function canonicalEncode(value, sizeHint) {
  const w = new CanonicalWriter(sizeHint);
  w.value(value);
  return w.bytes();
}
