/**
 * A strict JSON reader for signed data that, in the same pass, writes the TUF canonical form
 * (OLPC canonical JSON, as securesystemslib and go-tuf sign) of what it reads.
 *
 * Why one pass: signatures are checked over the canonical bytes of the *received* `signed`
 * value. Re-encoding a 13 MB targets file from parsed values costs more than parsing it; here
 * the canonical bytes come out of the validation scan, and members only move when an object's
 * keys were not already in code-point order.
 *
 * Hostile input must not make this cost more than linear (an unsigned 5 MB targets file once
 * took 10 s here): an object's keys are ordered with an LCP merge sort (a shared key prefix is
 * never read twice, escaped keys are unescaped once per object), and objects out of order are
 * only recorded during the scan; the canonical bytes are then assembled in one pass, so a
 * member nested in 60 unsorted objects still moves once. `scanCost` counts the operations.
 *
 * Rejected (DESIGN.md, rule 2): duplicate keys, a byte order mark, invalid UTF-8, lone
 * surrogates, fractions, exponents, `-0`, integers beyond ±(2^53 − 1), control characters in
 * strings, trailing data, and nesting deeper than `MAX_DEPTH`.
 *
 * The canonical form: object keys sorted by Unicode code point (equal to UTF-8 byte order),
 * no insignificant white space, strings as raw UTF-8 with only `"` and `\` escaped.
 */
import { FormatError } from '../errors.js';

export const MAX_DEPTH = 64;

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `\/ \b \f \n \r \t`: the byte each stands for (written raw in the canonical form). */
const SIMPLE_ESCAPES: Record<number, number> = {
  47: 0x2f,
  98: 0x08,
  102: 0x0c,
  110: 0x0a,
  114: 0x0d,
  116: 0x09,
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export interface StrictParseResult {
  /** The parsed value (plain objects, arrays, strings, safe integers, booleans, null). */
  value: unknown;
  /** The canonical bytes of the whole document. */
  canonical: Uint8Array;
  /** The canonical bytes of the top-level `signed` member, when the document is an object that has one. */
  signedCanonical: Uint8Array | undefined;
}

/** Parse bytes strictly; the value and the canonical bytes of the document (and of `signed`). */
export function parseStrict(bytes: Uint8Array): StrictParseResult {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new FormatError('a byte order mark is not allowed in JSON metadata');
  }
  let text: string | undefined;
  try {
    text = fatalDecoder.decode(bytes);
  } catch (e) {
    throw new FormatError('not valid UTF-8', undefined, { cause: e });
  }
  // The engine's fast parser first, then the strict scan, and the value is returned only if the
  // scan accepts the bytes: the scan rejects everything JSON.parse accepts leniently
  // (duplicates, big or fractional numbers, lone surrogates), so a value that gets out is exact.
  // This order is for memory: the decoded text is garbage once parsed, before the scan
  // allocates its output, so the two are never alive at once (at 1M targets each is ~180 MB).
  // JSON.parse defines "__proto__" as an own data property, never as the prototype.
  // Hostile input now reaches JSON.parse before the scan refuses it. Its cost stays what valid
  // input of the same size already costs: V8's JSON.parse is iterative (no stack overflow at any
  // depth) and linear; 5 MB nested 2.5M deep grows the heap by ~160 MB, and 5 MB of `[[],[],…]`,
  // which the scan accepts, by ~130 MB (measured, Node 20).
  let value: unknown;
  let lenient: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    lenient = e; // the scan below says what is wrong, with its byte offset
  }
  text = undefined;
  // A plain Uint8Array view: subarray() of a Node Buffer allocates a Buffer each time.
  const plain =
    Object.getPrototypeOf(bytes) === Uint8Array.prototype
      ? bytes
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const scanner = new CanonicalScanner(plain);
  scanner.run();
  if (lenient !== undefined) {
    // Unreachable while the scan is stricter than JSON.parse; fail closed if it ever is not.
    throw new FormatError('invalid JSON', undefined, { cause: lenient });
  }
  const signedCanonical = scanner.signedCanonical();
  let canonical: Uint8Array | undefined;
  return {
    value,
    // Metadata needs only `signed`: the whole document is assembled when asked for.
    get canonical() {
      canonical ??= scanner.canonical();
      return canonical;
    },
    signedCanonical,
  };
}

/**
 * What the scan of `bytes` costs beyond reading them once, in operations rather than time (for
 * tests; internal): key comparisons, key bytes read by comparisons and by unescaping keys for
 * sorting, bytes copied to assemble the canonical `signed` value and document when members were
 * out of order, and buffers allocated. Throws like `parseStrict`.
 */
export interface ScanCost {
  comparisons: number;
  keyBytesRead: number;
  movedBytes: number;
  /** Buffers the scan allocated as it grew: a few, never one per object. */
  buffersAllocated: number;
}

export function scanCost(bytes: Uint8Array): ScanCost {
  const scanner = new CanonicalScanner(bytes);
  scanner.run();
  scanner.signedCanonical();
  scanner.canonical();
  return {
    comparisons: scanner.comparisons,
    keyBytesRead: scanner.keyBytesRead,
    movedBytes: scanner.movedBytes,
    buffersAllocated: scanner.buffersAllocated,
  };
}

/** Parse strictly and return only the value. */
export function parseJson(bytes: Uint8Array | string): unknown {
  const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  return parseStrict(b).value;
}

class CanonicalScanner {
  private readonly src: Uint8Array;
  private pos = 0;
  private out: Uint8Array;
  private len = 0;
  /**
   * Per-member records of the objects being read, MEMBER ints each: keyStart and keyEnd (the
   * key's canonical content in `out`), memberEnd, and the number of unsorted objects recorded
   * before the member and after it (those in between lie inside it).
   */
  private members: Int32Array = new Int32Array(MEMBER * 256);
  private msp = 0;
  /**
   * The objects whose keys were out of order, in the order they closed (inner before outer),
   * RECORD ints each: start and end of the members in `out`, the index of the first record
   * inside it, and where its members start in `sorted`, in key order.
   */
  private records: Int32Array = new Int32Array(RECORD * 16);
  private recordCount = 0;
  /** Members of recorded objects in key order: memberStart, memberEnd, first and end record inside. */
  private sorted: Int32Array = new Int32Array(SORTED * 64);
  private sortedCount = 0;
  /** Where the top-level `signed` value is: start, end, first and end record inside. */
  private signedAt: [number, number, number, number] | undefined;
  /** Top-most records of the ranges being assembled (a stack shared by the recursion). */
  private stack: Int32Array = new Int32Array(0);
  /** Unescaped keys of the object being sorted, when one of its keys has an escape. */
  private keyBytes = new Uint8Array(256);
  private sortScratch: Scratch = {
    keyStart: new Int32Array(0),
    keyEnd: new Int32Array(0),
    order: new Int32Array(0),
    lcp: new Int32Array(0),
    order2: new Int32Array(0),
    lcp2: new Int32Array(0),
  };
  /** Cost counters (see `ScanCost`). */
  comparisons = 0;
  keyBytesRead = 0;
  movedBytes = 0;
  buffersAllocated = 0;

  constructor(src: Uint8Array) {
    this.src = src;
    this.out = new Uint8Array(src.length + 64);
  }

  run(): void {
    this.skipWs();
    this.value(0, true);
    this.skipWs();
    if (this.pos !== this.src.length) this.fail('unexpected data after the JSON value');
  }

  /** The canonical bytes of the whole document. */
  canonical(): Uint8Array {
    if (this.recordCount === 0) return this.out.subarray(0, this.len);
    return this.assemble(0, this.len, 0, this.recordCount);
  }

  /** The canonical bytes of the top-level `signed` value, if there is one. */
  signedCanonical(): Uint8Array | undefined {
    const at = this.signedAt;
    return at === undefined ? undefined : this.assemble(...at);
  }

  /**
   * The canonical form of `out[from, to)`, inside which lie records first..end-1. With none, the
   * scanned bytes are already canonical: a view of them, not a copy (a copy of `signed` would be
   * alive beside `out`, ~150 MB more at the peak at 1M targets). The scanner is never written
   * again after `run`, so the view stays as it is.
   */
  private assemble(from: number, to: number, first: number, end: number): Uint8Array {
    if (first === end) return this.out.subarray(from, to);
    const dst = new Uint8Array(to - from);
    if (this.stack.length < this.recordCount) this.stack = new Int32Array(this.recordCount);
    const w = this.emitRange(dst, 0, from, to, first, end, 0);
    this.movedBytes += w;
    return dst;
  }

  /**
   * Writes the canonical form of `out[from, to)` to `dst` at `w`: the bytes as scanned, except
   * that each top-most recorded object inside (records first..end-1) has its members written
   * in key order. Returns the new write position. `sp` is the free part of the shared stack.
   */
  private emitRange(
    dst: Uint8Array,
    w: number,
    from: number,
    to: number,
    first: number,
    end: number,
    sp: number,
  ): number {
    const r = this.records;
    const stack = this.stack;
    // Records closed in post-order: the last one is top-most; the one before a record's first
    // inner record is its previous top-most sibling.
    let top = sp;
    for (let c = end - 1; c >= first; c = (r[c * RECORD + 2] as number) - 1) stack[top++] = c;
    let pos = from;
    for (let k = top - 1; k >= sp; k--) {
      const c = (stack[k] as number) * RECORD;
      const start = r[c] as number;
      w = this.copyOut(dst, w, pos, start);
      const sorted = this.sorted;
      const s0 = r[c + 3] as number;
      const s1 = r[c + 4] as number;
      for (let i = s0; i < s1; i += SORTED) {
        if (i > s0) dst[w++] = 0x2c;
        // A member with no record inside is copied as it is.
        if (sorted[i + 2] === sorted[i + 3]) {
          w = this.copyOut(dst, w, sorted[i] as number, sorted[i + 1] as number);
          continue;
        }
        w = this.emitRange(
          dst,
          w,
          sorted[i] as number,
          sorted[i + 1] as number,
          sorted[i + 2] as number,
          sorted[i + 3] as number,
          top,
        );
      }
      pos = r[c + 1] as number;
    }
    return this.copyOut(dst, w, pos, to);
  }

  /** Copies `out[from, to)` to `dst` at `w`: a loop for short runs, one native copy for long ones. */
  private copyOut(dst: Uint8Array, w: number, from: number, to: number): number {
    const o = this.out;
    const n = to - from;
    if (n < 64) for (let i = 0; i < n; i++) dst[w + i] = o[from + i] as number;
    else dst.set(o.subarray(from, to), w);
    return w + n;
  }

  private fail(what: string): never {
    throw new FormatError(`invalid JSON at byte ${this.pos}: ${what}`);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.out.length) return;
    const bigger = new Uint8Array(Math.max(this.out.length * 2, this.len + n + 64));
    this.buffersAllocated++;
    bigger.set(this.out.subarray(0, this.len));
    this.out = bigger;
  }

  /** Appends `src[from, to)`: a loop for short runs (a subarray view costs more), one copy for long ones. */
  private append(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.ensure(n);
    const o = this.out;
    const at = this.len;
    if (n < 32) for (let i = 0; i < n; i++) o[at + i] = src[from + i] as number;
    else o.set(src.subarray(from, to), at);
    this.len = at + n;
  }

  private emit(b: number): void {
    if (this.len === this.out.length) this.ensure(1);
    this.out[this.len++] = b;
  }

  private skipWs(): void {
    const s = this.src;
    let p = this.pos;
    while (p < s.length) {
      const c = s[p];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  private value(depth: number, top: boolean): void {
    const c = this.src[this.pos];
    switch (c) {
      case 0x7b: // {
        this.object(depth + 1, top);
        return;
      case 0x5b: // [
        this.array(depth + 1);
        return;
      case QUOTE:
        this.string();
        return;
      case 0x74: // t
        this.literal('true');
        return;
      case 0x66: // f
        this.literal('false');
        return;
      case 0x6e: // n
        this.literal('null');
        return;
      default:
        if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) {
          this.number();
          return;
        }
        this.fail(c === undefined ? 'unexpected end of input' : 'expected a JSON value');
    }
  }

  private literal(word: string): void {
    const s = this.src;
    for (let i = 0; i < word.length; i++) {
      if (s[this.pos + i] !== word.charCodeAt(i)) this.fail(`expected "${word}"`);
    }
    this.ensure(word.length);
    for (let i = 0; i < word.length; i++) this.out[this.len++] = word.charCodeAt(i);
    this.pos += word.length;
  }

  private number(): void {
    const s = this.src;
    const start = this.pos;
    let p = start;
    if (s[p] === 0x2d) p++;
    const firstDigit = p;
    const d0 = s[p];
    if (d0 === undefined || d0 < 0x30 || d0 > 0x39) this.fail('expected a digit');
    if (d0 === 0x30) {
      p++;
    } else {
      while (p < s.length && (s[p] as number) >= 0x30 && (s[p] as number) <= 0x39) p++;
    }
    const next = s[p];
    if (next === 0x2e || next === 0x65 || next === 0x45) {
      this.pos = p;
      this.fail('only integers are allowed in TUF metadata');
    }
    if (next !== undefined && next >= 0x30 && next <= 0x39) {
      this.pos = p;
      this.fail('leading zeros are not allowed');
    }
    const digits = p - firstDigit;
    if (digits > 16) {
      this.pos = start;
      this.fail('integer outside ±(2^53 − 1)');
    }
    let v = 0;
    for (let i = firstDigit; i < p; i++) v = v * 10 + ((s[i] as number) - 0x30);
    if (v > Number.MAX_SAFE_INTEGER) {
      this.pos = start;
      this.fail('integer outside ±(2^53 − 1)');
    }
    if (v === 0 && firstDigit !== start) {
      this.pos = start;
      this.fail('-0 is not a canonical integer');
    }
    this.ensure(p - start);
    for (let i = start; i < p; i++) this.out[this.len++] = s[i] as number;
    this.pos = p;
  }

  /** Reads a string at `pos` (which is `"`) and writes its canonical form; returns whether the canonical form contains an escape. */
  private string(): boolean {
    const s = this.src;
    let p = this.pos + 1;
    this.ensure(2);
    this.out[this.len++] = QUOTE;
    let escaped = false;
    for (;;) {
      // Copy the run of plain bytes in one go.
      const runStart = p;
      let c = s[p];
      while (c !== undefined && c !== QUOTE && c !== BACKSLASH && c >= 0x20) c = s[++p];
      if (p > runStart) this.append(s, runStart, p);
      if (c === QUOTE) {
        p++;
        break;
      }
      if (c === undefined) {
        this.pos = p;
        this.fail('unterminated string');
      }
      if (c !== BACKSLASH) {
        this.pos = p;
        this.fail('control characters must be escaped in JSON strings');
      }
      const e = s[p + 1];
      p += 2;
      switch (e) {
        case QUOTE:
        case BACKSLASH:
          this.emit(BACKSLASH);
          this.emit(e);
          escaped = true;
          break;
        case 0x75: {
          // \uXXXX
          let cp = this.hex4(p);
          p += 4;
          if (cp >= 0xdc00 && cp <= 0xdfff) {
            this.pos = p - 6;
            this.fail('lone low surrogate in string');
          }
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (s[p] !== BACKSLASH || s[p + 1] !== 0x75) {
              this.pos = p - 6;
              this.fail('lone high surrogate in string');
            }
            const lo = this.hex4(p + 2);
            if (lo < 0xdc00 || lo > 0xdfff) {
              this.pos = p - 6;
              this.fail('lone high surrogate in string');
            }
            p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          if (cp === QUOTE || cp === BACKSLASH) {
            this.emit(BACKSLASH);
            escaped = true;
          }
          this.utf8(cp);
          break;
        }
        default: {
          const raw = e === undefined ? undefined : SIMPLE_ESCAPES[e];
          if (raw === undefined) {
            this.pos = p - 2;
            this.fail('invalid escape in string');
          }
          this.emit(raw);
        }
      }
    }
    this.emit(QUOTE);
    this.pos = p;
    return escaped;
  }

  private hex4(p: number): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.src[p + i];
      let d: number;
      if (c === undefined) d = -1;
      else if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else d = -1;
      if (d < 0) {
        this.pos = p;
        this.fail('invalid \\u escape');
      }
      v = (v << 4) | d;
    }
    return v;
  }

  private utf8(cp: number): void {
    this.ensure(4);
    const o = this.out;
    if (cp < 0x80) {
      o[this.len++] = cp;
    } else if (cp < 0x800) {
      o[this.len++] = 0xc0 | (cp >> 6);
      o[this.len++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      o[this.len++] = 0xe0 | (cp >> 12);
      o[this.len++] = 0x80 | ((cp >> 6) & 0x3f);
      o[this.len++] = 0x80 | (cp & 0x3f);
    } else {
      o[this.len++] = 0xf0 | (cp >> 18);
      o[this.len++] = 0x80 | ((cp >> 12) & 0x3f);
      o[this.len++] = 0x80 | ((cp >> 6) & 0x3f);
      o[this.len++] = 0x80 | (cp & 0x3f);
    }
  }

  private array(depth: number): void {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    this.pos++;
    this.emit(0x5b);
    this.skipWs();
    if (this.src[this.pos] === 0x5d) {
      this.pos++;
      this.emit(0x5d);
      return;
    }
    for (;;) {
      this.skipWs();
      this.value(depth, false);
      this.skipWs();
      const c = this.src[this.pos];
      if (c === 0x2c) {
        this.pos++;
        this.emit(0x2c);
      } else if (c === 0x5d) {
        this.pos++;
        this.emit(0x5d);
        return;
      } else {
        this.fail('expected "," or "]"');
      }
    }
  }

  private object(depth: number, top: boolean): void {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    this.pos++;
    this.emit(0x7b);
    const objStart = this.len; // first byte after "{"
    const base = this.msp;
    const firstRecord = this.recordCount;
    let sorted = true;
    let descending = true;
    let escapedKeys = false;
    this.skipWs();
    if (this.src[this.pos] === 0x7d) {
      this.pos++;
      this.emit(0x7d);
      return;
    }
    for (;;) {
      this.skipWs();
      if (this.src[this.pos] !== QUOTE) this.fail('expected a string key');
      const recordsBefore = this.recordCount;
      const keyStart = this.len + 1;
      if (this.string()) escapedKeys = true;
      const keyEnd = this.len - 1;
      if (this.msp > base) {
        const m = this.members;
        const cmp = this.compareCanonicalKeys(
          m[this.msp - MEMBER] as number,
          m[this.msp - MEMBER + 1] as number,
          keyStart,
          keyEnd,
        );
        if (cmp === 0) this.failDuplicate(keyStart, keyEnd);
        if (cmp > 0) sorted = false;
        else descending = false;
      }
      this.skipWs();
      if (this.src[this.pos] !== 0x3a) this.fail('expected ":"');
      this.pos++;
      this.emit(0x3a);
      this.skipWs();
      const valueStart = this.len;
      this.value(depth, false);
      if (top && this.isKey(keyStart, keyEnd, 'signed')) {
        this.signedAt = [valueStart, this.len, recordsBefore, this.recordCount];
      }
      this.pushMember(keyStart, keyEnd, this.len, recordsBefore, this.recordCount);
      this.skipWs();
      const c = this.src[this.pos];
      if (c === 0x2c) {
        this.pos++;
        this.emit(0x2c);
      } else if (c === 0x7d) {
        this.pos++;
        break;
      } else {
        this.fail('expected "," or "}"');
      }
    }
    if (!sorted) this.recordUnsorted(base, objStart, firstRecord, escapedKeys, descending);
    this.msp = base;
    this.emit(0x7d);
  }

  private pushMember(keyStart: number, keyEnd: number, memberEnd: number, first: number, end: number): void {
    if (this.msp + MEMBER > this.members.length) {
      this.members = grow(this.members, this.msp + MEMBER);
      this.buffersAllocated++;
    }
    const m = this.members;
    m[this.msp++] = keyStart;
    m[this.msp++] = keyEnd;
    m[this.msp++] = memberEnd;
    m[this.msp++] = first;
    m[this.msp++] = end;
  }

  private isKey(start: number, end: number, word: string): boolean {
    if (end - start !== word.length) return false;
    for (let i = 0; i < word.length; i++) if (this.out[start + i] !== word.charCodeAt(i)) return false;
    return true;
  }

  private failDuplicate(start: number, end: number): never {
    const key = new TextDecoder().decode(this.out.subarray(start, end));
    throw new FormatError(`invalid JSON: duplicate object key ${JSON.stringify(key)}`);
  }

  /**
   * Compares two keys, given as canonical content ranges in `out`, by code point. The only
   * escapes there are `\"` and `\\`, which sort as the character they stand for: both keys are
   * read in step, without copying, and the comparison stops at the first difference.
   */
  private compareCanonicalKeys(aStart: number, aEnd: number, bStart: number, bEnd: number): number {
    const o = this.out;
    let i = aStart;
    let j = bStart;
    let d = 0;
    while (i < aEnd && j < bEnd) {
      let x = o[i++] as number;
      if (x === BACKSLASH) x = o[i++] as number;
      let y = o[j++] as number;
      if (y === BACKSLASH) y = o[j++] as number;
      if (x !== y) {
        d = x - y;
        break;
      }
    }
    this.comparisons++;
    this.keyBytesRead += i - aStart;
    if (d !== 0) return d;
    return (i < aEnd ? 1 : 0) - (j < bEnd ? 1 : 0);
  }

  /**
   * Records an object whose keys were out of order: its members, in key order, are written
   * when the canonical bytes are assembled. Sorting rejects duplicate keys. The cost stays
   * linear in the object's bytes whatever the key order, escapes or shared prefixes (see
   * `lcpMergeSort`), and nothing is allocated per object once the buffers have grown.
   */
  private recordUnsorted(
    base: number,
    objStart: number,
    firstRecord: number,
    escapedKeys: boolean,
    descending: boolean,
  ): void {
    const m = this.members;
    const count = (this.msp - base) / MEMBER;
    // Keys in strictly decreasing order (the scan compared each with the one before) need no
    // sort; nor do two keys out of order.
    const order = descending
      ? this.reversed(count)
      : count <= SMALL_OBJECT
        ? this.insertionSort(base, count)
        : this.sortKeys(base, count, escapedKeys);
    if (this.sortedCount + count * SORTED > this.sorted.length) {
      // The first time, room for one member per 64 input bytes: fewer doublings of a big array.
      this.sorted = grow(
        this.sorted,
        Math.max(this.sortedCount + count * SORTED, (this.src.length >> 6) * SORTED),
      );
      this.buffersAllocated++;
    }
    const sorted = this.sorted;
    const s0 = this.sortedCount;
    let w = s0;
    for (let i = 0; i < count; i++) {
      const q = base + (order[i] as number) * MEMBER;
      sorted[w++] = (m[q] as number) - 1; // the opening quote of the key
      sorted[w++] = m[q + 2] as number;
      sorted[w++] = m[q + 3] as number;
      sorted[w++] = m[q + 4] as number;
    }
    this.sortedCount = w;
    if ((this.recordCount + 1) * RECORD > this.records.length) {
      this.records = grow(
        this.records,
        Math.max((this.recordCount + 1) * RECORD, (this.src.length >> 8) * RECORD),
      );
      this.buffersAllocated++;
    }
    const r = this.records;
    const at = this.recordCount * RECORD;
    r[at] = objStart;
    r[at + 1] = this.len;
    r[at + 2] = firstRecord;
    r[at + 3] = s0;
    r[at + 4] = w;
    this.recordCount++;
  }

  /** count − 1, …, 1, 0. */
  private reversed(count: number): Int32Array {
    const order = this.scratch(count).order;
    for (let i = 0; i < count; i++) order[i] = count - 1 - i;
    return order;
  }

  /**
   * The order of a small object's keys, by insertion: at most count − 1 comparisons per key, so
   * with SMALL_OBJECT = 4 each key is read at most three times, and there is no set-up to pay.
   */
  private insertionSort(base: number, count: number): Int32Array {
    const m = this.members;
    const order = this.scratch(count).order;
    for (let i = 0; i < count; i++) {
      const r = base + i * MEMBER;
      const ks = m[r] as number;
      const ke = m[r + 1] as number;
      let j = i;
      while (j > 0) {
        const q = base + (order[j - 1] as number) * MEMBER;
        const cmp = this.compareCanonicalKeys(m[q] as number, m[q + 1] as number, ks, ke);
        if (cmp === 0) this.failDuplicate(ks, ke);
        if (cmp < 0) break;
        order[j] = order[j - 1] as number;
        j--;
      }
      order[j] = i;
    }
    return order;
  }

  /** The code-point order of the keys of the `count` members recorded from `base`. */
  private sortKeys(base: number, count: number, escapedKeys: boolean): Int32Array {
    const m = this.members;
    const s = this.scratch(count);
    // The sort compares raw key bytes: the canonical keys themselves when none has an escape,
    // else an unescaped copy of every key (UTF-8 byte order is code-point order).
    let keys: Uint8Array = this.out;
    if (!escapedKeys) {
      for (let i = 0; i < count; i++) {
        s.keyStart[i] = m[base + i * MEMBER] as number;
        s.keyEnd[i] = m[base + i * MEMBER + 1] as number;
      }
    } else {
      let size = 0;
      for (let i = 0; i < count; i++) {
        size += (m[base + i * MEMBER + 1] as number) - (m[base + i * MEMBER] as number);
      }
      if (this.keyBytes.length < size)
        this.keyBytes = new Uint8Array(Math.max(size, this.keyBytes.length * 2));
      this.buffersAllocated++;
      keys = this.keyBytes;
      const o = this.out;
      let w = 0;
      for (let i = 0; i < count; i++) {
        s.keyStart[i] = w;
        const end = m[base + i * MEMBER + 1] as number;
        for (let p = m[base + i * MEMBER] as number; p < end; p++) {
          let c = o[p] as number;
          if (c === BACKSLASH) c = o[++p] as number;
          keys[w++] = c;
        }
        s.keyEnd[i] = w;
      }
      this.keyBytesRead += size;
    }
    return this.lcpMergeSort(keys, count, s, base);
  }

  /** Scratch arrays for sorting `count` keys, grown when needed and reused for every object. */
  private scratch(count: number): Scratch {
    let s = this.sortScratch;
    if (s.order.length < count) {
      const n = Math.max(count, s.order.length * 2);
      s = {
        keyStart: new Int32Array(n),
        keyEnd: new Int32Array(n),
        order: new Int32Array(n),
        lcp: new Int32Array(n),
        order2: new Int32Array(n),
        lcp2: new Int32Array(n),
      };
      this.sortScratch = s;
      this.buffersAllocated++;
    }
    return s;
  }

  /**
   * Sorts keys 0..count-1 (byte ranges of `keys`; member records from `base`) and returns their
   * order; throws for two equal keys. A bottom-up merge sort that carries, for every key of a
   * sorted run, the length of its longest common prefix with the key before it (LCP merge sort,
   * Ng and Kakehi 2008): when merging, the key sharing more with the last key written is the
   * smaller one, and bytes are compared only from the common prefix both are known to share.
   * Bytes found equal stay below twice the key bytes (each comparison then reads one byte
   * more); comparisons are at most count × log2(count). Long shared prefixes, which make a plain comparison sort read
   * count × log2(count) × prefix bytes, cost nothing extra.
   */
  private lcpMergeSort(keys: Uint8Array, count: number, s: Scratch, base: number): Int32Array {
    const { keyStart, keyEnd } = s;
    let src = s.order;
    let srcLcp = s.lcp;
    let dst = s.order2;
    let dstLcp = s.lcp2;
    for (let i = 0; i < count; i++) {
      src[i] = i;
      srcLcp[i] = 0;
    }
    for (let width = 1; width < count; width *= 2) {
      for (let lo = 0; lo < count; lo += 2 * width) {
        const mid = Math.min(lo + width, count);
        const hi = Math.min(lo + 2 * width, count);
        let i = lo;
        let j = mid;
        let o = lo;
        // LCPs of the heads of both runs with the last key written (none yet: 0).
        let ha = 0;
        let hb = 0;
        while (i < mid && j < hi) {
          const a = src[i] as number;
          const b = src[j] as number;
          let takeA: boolean;
          if (ha !== hb) {
            takeA = ha > hb;
          } else {
            const as = keyStart[a] as number;
            const bs = keyStart[b] as number;
            const la = (keyEnd[a] as number) - as;
            const lb = (keyEnd[b] as number) - bs;
            const n = la < lb ? la : lb;
            let p = ha;
            while (p < n && keys[as + p] === keys[bs + p]) p++;
            this.comparisons++;
            this.keyBytesRead += p - ha;
            if (p === n) {
              if (la === lb) {
                const m = this.members;
                this.failDuplicate(m[base + a * MEMBER] as number, m[base + a * MEMBER + 1] as number);
              }
              takeA = la < lb;
            } else {
              takeA = (keys[as + p] as number) < (keys[bs + p] as number);
            }
            // The loser shares exactly p bytes with the winner, the next last key written.
            if (takeA) hb = p;
            else ha = p;
          }
          if (takeA) {
            dst[o] = a;
            dstLcp[o++] = ha;
            i++;
            ha = i < mid ? (srcLcp[i] as number) : 0;
          } else {
            dst[o] = b;
            dstLcp[o++] = hb;
            j++;
            hb = j < hi ? (srcLcp[j] as number) : 0;
          }
        }
        for (let first = true; i < mid; i++, first = false) {
          dst[o] = src[i] as number;
          dstLcp[o++] = first ? ha : (srcLcp[i] as number);
        }
        for (let first = true; j < hi; j++, first = false) {
          dst[o] = src[j] as number;
          dstLcp[o++] = first ? hb : (srcLcp[j] as number);
        }
      }
      const order = src;
      src = dst;
      dst = order;
      const lcp = srcLcp;
      srcLcp = dstLcp;
      dstLcp = lcp;
    }
    return src;
  }
}

/** Ints per record in `members`, `records` and `sorted` (see there). */
const MEMBER = 5;
const RECORD = 5;
const SORTED = 4;
/** Objects with at most this many members are sorted by insertion (see `insertionSort`). */
const SMALL_OBJECT = 4;

interface Scratch {
  keyStart: Int32Array;
  keyEnd: Int32Array;
  order: Int32Array;
  lcp: Int32Array;
  order2: Int32Array;
  lcp2: Int32Array;
}

function grow(a: Int32Array, need: number): Int32Array {
  const bigger = new Int32Array(Math.max(need, a.length * 2));
  bigger.set(a);
  return bigger;
}
