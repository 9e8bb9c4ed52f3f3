/**
 * The `tufa sign --bulk` input: lines "TAG sha256:HEX SIZE" or a JSON array of
 * `{tag, digest, size, custom?}`. Parsing only — every tag still goes through the same entry
 * policy as a single `tufa sign`. A bad entry is named by `file:line` (or `file[index]`), so a
 * release engineer can find it in a file of thousands.
 */
import { createReadStream } from 'node:fs';
import { usage } from './cli-error.js';
import { asFileProblem } from './files.js';
import { checkDigest } from './names.js';

const DIGEST = 32;

/**
 * The tags of a bulk input, column by column: each tag's name, its sha256 as 32 bytes in one
 * packed buffer, its size and the line (or array index) it came from. A million tags were a
 * third of a bulk's live heap as objects with a 64-character hex string each, beside the whole
 * text of the file that those strings were slices of (ADR 0031). Repetitions of a tag are
 * folded as they are read (see `add`).
 */
export class BulkEntries {
  /** The tag of each entry. */
  readonly tags: string[] = [];
  private digests = Buffer.alloc(DIGEST * 1024);
  private readonly sizes: number[] = [];
  /** The line number (1-based), or the array index when `json`. */
  private readonly at: number[] = [];
  /** Each entry's custom (a JSON array's items have their own); else `custom` for all. */
  private readonly customs: unknown[] | undefined;
  /** The first entry of each tag, while reading. */
  private first: Map<string, number> | undefined = new Map();
  /** Identical repetitions folded into one entry, for a warning. */
  readonly folded: string[] = [];

  constructor(
    private readonly file: string,
    private readonly json: boolean,
    private readonly custom: unknown,
  ) {
    this.customs = json ? [] : undefined;
  }

  get length(): number {
    return this.tags.length;
  }

  /** Lowercase hex of entry `i`'s SHA-256. */
  hex(i: number): string {
    return this.digests.toString('hex', i * DIGEST, (i + 1) * DIGEST);
  }

  size(i: number): number {
    return this.sizes[i] as number;
  }

  customOf(i: number): unknown {
    return this.customs ? this.customs[i] : this.custom;
  }

  /** `file:line` or `file[index]`, made only for an error or a warning. */
  source(i: number): string {
    return this.where(this.at[i] as number);
  }

  private where(at: number): string {
    return this.json ? `${this.file}[${at}]` : `${this.file}:${at}`;
  }

  /**
   * Adds a tag whose digest is in `digest` at `offset` (32 bytes). The same tag with the same
   * digest, size and custom is folded (a list concatenated from two CI jobs, say); the same tag
   * meaning two different things is refused with both places — keeping either silently would
   * sign something nobody chose.
   */
  add(tag: string, digest: Buffer, offset: number, size: number, at: number, custom?: unknown): void {
    const first = this.first as Map<string, number>;
    const seen = first.get(tag);
    if (seen !== undefined) {
      const sameDigest =
        Buffer.compare(
          this.digests.subarray(seen * DIGEST, (seen + 1) * DIGEST),
          digest.subarray(offset, offset + DIGEST),
        ) === 0;
      const sameSize = this.sizes[seen] === size;
      if (
        sameDigest &&
        sameSize &&
        JSON.stringify(this.customOf(seen)) === JSON.stringify(custom ?? this.custom)
      ) {
        this.folded.push(
          `${this.where(at)} repeats tag ${JSON.stringify(tag)} of ${this.source(seen)}; signed once`,
        );
        return;
      }
      const hex = digest.toString('hex', offset, offset + DIGEST);
      throw usage(
        `${this.source(seen)} and ${this.where(at)} give tag ${JSON.stringify(tag)} different contents (sha256:${this.hex(seen)} ${this.sizes[seen]} bytes, sha256:${hex} ${size} bytes${sameDigest && sameSize ? ', different custom' : ''})`,
        'keep one line per tag: the one you mean to sign',
      );
    }
    const i = this.tags.length;
    first.set(tag, i);
    if ((i + 1) * DIGEST > this.digests.length) {
      const bigger = Buffer.alloc(this.digests.length * 2);
      this.digests.copy(bigger);
      this.digests = bigger;
    }
    digest.copy(this.digests, i * DIGEST, offset, offset + DIGEST);
    this.tags.push(tag);
    this.sizes.push(size);
    this.at.push(at);
    this.customs?.push(custom ?? this.custom);
  }

  /** Reading is over: the index of tags read so far is let go (a million entries). */
  done(): this {
    this.first = undefined;
    return this;
  }
}

/** A size as the bulk input must give it: a whole number of bytes that a target length can be. */
function checkSize(size: unknown, where: string): number {
  const n = typeof size === 'string' && /^\d+$/.test(size) ? Number(size) : size;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw usage(
      `${where}: the size must be a whole number of bytes up to ${Number.MAX_SAFE_INTEGER} (found ${JSON.stringify(size)})`,
    );
  }
  return n;
}

function parseJsonArray(text: string, source: string, custom: unknown): BulkEntries {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    throw usage(`${source}: not a JSON array`);
  }
  if (!Array.isArray(items)) throw usage(`${source}: not a JSON array`);
  const out = new BulkEntries(source, true, custom);
  items.forEach((it, i) => {
    const where = `${source}[${i}]`;
    const item: Record<string, unknown> =
      typeof it === 'object' && it !== null && !Array.isArray(it) ? it : Object.create(null);
    const own = (k: string) => (Object.hasOwn(item, k) ? item[k] : undefined);
    const tag = own('tag');
    const digest = own('digest');
    if (typeof tag !== 'string' || typeof digest !== 'string' || typeof own('size') !== 'number') {
      throw usage(`${where}: expected {"tag", "digest": "sha256:…", "size"}`);
    }
    const bytes = Buffer.from(checkDigest(digest), 'hex');
    out.add(tag, bytes, 0, checkSize(own('size'), where), i, own('custom') ?? custom);
  });
  return out.done();
}

/** ASCII white space as JavaScript's `trim` and `\s` see it (tab, line feed, VT, FF, CR, space). */
const isSpace = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);
/** Hex digit → value, lower-case digits only; -1 for anything else. */
const NIBBLE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) NIBBLE['0123456789abcdef'.charCodeAt(i)] = i;
const SHA256_PREFIX = Buffer.from('sha256:');

/**
 * The lines of a bulk file, parsed as they stream by: "TAG sha256:HEX SIZE", blank lines and
 * `#` comments skipped. Only what is kept is copied out of the file's bytes (each tag as a string
 * of its own, the digest as 32 bytes), so the text of the file is never held whole.
 */
class LineReader {
  private line = 0;
  private readonly digest = Buffer.alloc(DIGEST);
  private readonly fields = new Int32Array(8);

  constructor(
    private readonly out: BulkEntries,
    private readonly source: string,
  ) {}

  /** Parses every complete line of `buf` and returns where the last, incomplete one starts. */
  push(buf: Buffer): number {
    let start = 0;
    for (;;) {
      const end = buf.indexOf(0x0a, start);
      if (end < 0) return start;
      this.parse(buf, start, end);
      start = end + 1;
    }
  }

  /** The last line, without a line feed after it. */
  end(buf: Buffer): void {
    if (buf.length > 0) this.parse(buf, 0, buf.length);
  }

  private parse(buf: Buffer, start: number, end: number): void {
    const n = ++this.line;
    // Split into fields at ASCII white space; any other byte than ASCII: the string way, which
    // knows every white space JavaScript does (a tag holding U+00A0 splits there, as it did).
    const f = this.fields;
    let count = 0;
    for (let i = start; i < end; ) {
      while (i < end && isSpace(buf[i] as number)) i++;
      if (i === end) break;
      const from = i;
      while (i < end && !isSpace(buf[i] as number)) {
        if ((buf[i] as number) >= 0x80) {
          this.parseString(buf.toString('utf8', start, end), n);
          return;
        }
        i++;
      }
      if (count < 4) {
        f[2 * count] = from;
        f[2 * count + 1] = i;
      }
      count++;
    }
    if (count === 0 || buf[f[0] as number] === 0x23) return; // blank, or a # comment
    const where = () => `${this.source}:${n}`;
    if (count !== 3) throw usage(`${where()}: expected "TAG sha256:HEX SIZE"`);
    const [t0, t1, d0, d1, s0, s1] = f.subarray(0, 6) as unknown as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    // The same checks, in the same order, as the string way below.
    let size = 0;
    for (let i = s0; i < s1; i++) {
      const d = (buf[i] as number) - 0x30;
      if (d < 0 || d > 9) throw usage(`${where()}: expected "TAG sha256:HEX SIZE"`);
      size = size * 10 + d; // exact up to 2^53; past it, never safe again
    }
    if (!this.readDigest(buf, d0, d1)) checkDigest(buf.toString('latin1', d0, d1)); // throws
    if (!Number.isSafeInteger(size)) size = checkSize(buf.toString('latin1', s0, s1), where());
    // `latin1` of ASCII bytes: a string of its own, not a slice of a larger one.
    this.out.add(buf.toString('latin1', t0, t1), this.digest, 0, size, n);
  }

  /** `sha256:` and 64 lower-case hex digits into `this.digest`; false for anything else. */
  private readDigest(buf: Buffer, from: number, to: number): boolean {
    if (to - from !== SHA256_PREFIX.length + 2 * DIGEST) return false;
    if (buf.compare(SHA256_PREFIX, 0, SHA256_PREFIX.length, from, from + SHA256_PREFIX.length) !== 0)
      return false;
    for (let k = 0, i = from + SHA256_PREFIX.length; k < DIGEST; k++, i += 2) {
      const hi = NIBBLE[buf[i] as number] as number;
      const lo = NIBBLE[buf[i + 1] as number] as number;
      if (hi < 0 || lo < 0) return false;
      this.digest[k] = (hi << 4) | lo;
    }
    return true;
  }

  /** A line that is not all ASCII, read as text exactly as before. */
  private parseString(text: string, n: number): void {
    const line = text.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = () => `${this.source}:${n}`;
    const [tag, digest, size, extra] = line.split(/\s+/);
    if (!tag || !digest || !size || extra !== undefined || !/^\d+$/.test(size)) {
      throw usage(`${where()}: expected "TAG sha256:HEX SIZE"`);
    }
    const bytes = Number(size);
    const hex = Buffer.from(checkDigest(digest), 'hex');
    this.out.add(tag, hex, 0, Number.isSafeInteger(bytes) ? bytes : checkSize(size, where()), n);
  }
}

/** The bytes of a bulk input as they are read: a file, or `-` for stdin. */
async function* chunksOf(source: string): AsyncGenerator<Buffer> {
  if (source === '-') {
    for await (const c of process.stdin) yield c as Buffer;
    return;
  }
  const stream = createReadStream(source, { highWaterMark: 1 << 20 });
  try {
    for await (const c of stream) yield c as Buffer;
  } catch (e) {
    asFileProblem(e, source, 'read');
  }
}

/**
 * Reads and checks a bulk input: a file, or `-` for stdin. A JSON array (the first character
 * that is not white space is `[`) is read whole; lines are parsed as they stream by.
 */
export async function readBulk(source: string, custom: unknown): Promise<BulkEntries> {
  const it = chunksOf(source);
  const chunks = { [Symbol.asyncIterator]: () => it }; // `break` in one loop must not close it
  const head: Buffer[] = [];
  let json: boolean | undefined;
  for (let r = await it.next(); !r.done; r = await it.next()) {
    head.push(r.value);
    const text = Buffer.concat(head).toString('utf8').trimStart();
    if (text !== '') {
      json = text.startsWith('[');
      break;
    }
  }
  if (json) {
    for await (const c of chunks) head.push(c);
    return parseJsonArray(Buffer.concat(head).toString('utf8'), source, custom);
  }
  const out = new BulkEntries(source, false, custom);
  const lines = new LineReader(out, source);
  let rest = Buffer.alloc(0);
  const take = (c: Buffer) => {
    const buf = rest.length > 0 ? Buffer.concat([rest, c]) : c;
    // The incomplete last line is copied: a slice would keep the whole chunk alive.
    rest = Buffer.from(buf.subarray(lines.push(buf)));
  };
  for (const c of head) take(c);
  if (json === false) for await (const c of chunks) take(c);
  lines.end(rest);
  return out.done();
}
