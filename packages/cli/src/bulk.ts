/**
 * The `tufa sign --bulk` input: lines "TAG sha256:HEX SIZE" or a JSON array of
 * `{tag, digest, size, custom?}`. Parsing only — every tag still goes through the same entry
 * policy as a single `tufa sign`. A bad entry is named by `file:line` (or `file[index]`), so a
 * release engineer can find it in a file of thousands.
 */
import { readFile } from 'node:fs/promises';
import { usage } from './cli-error.js';
import { asFileProblem } from './files.js';
import { checkDigest } from './names.js';

/** One tag as the bulk input gives it, with where it came from. */
export interface BulkEntry {
  tag: string;
  /** Lowercase hex of the SHA-256 (checked). */
  hex: string;
  size: number;
  custom: unknown;
  /** `file:line` or `file[index]`. */
  readonly source: string;
}

/**
 * A BulkEntry whose `source` is made when read: a bulk of a million tags would otherwise hold a
 * million `file:line` strings that only an error or a warning ever shows.
 */
class Entry implements BulkEntry {
  constructor(
    readonly tag: string,
    readonly hex: string,
    readonly size: number,
    readonly custom: unknown,
    private readonly file: string,
    /** The line number (1-based), or the array index when `json`. */
    private readonly at: number,
    private readonly json: boolean,
  ) {}

  get source(): string {
    return this.json ? `${this.file}[${this.at}]` : `${this.file}:${this.at}`;
  }
}

export interface BulkInput {
  entries: BulkEntry[];
  /** Identical repetitions folded into one entry, for a warning. */
  folded: string[];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
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

function parseJsonArray(text: string, source: string, custom: unknown): BulkEntry[] {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    throw usage(`${source}: not a JSON array`);
  }
  if (!Array.isArray(items)) throw usage(`${source}: not a JSON array`);
  return items.map((it, i) => {
    const where = `${source}[${i}]`;
    const item: Record<string, unknown> =
      typeof it === 'object' && it !== null && !Array.isArray(it) ? it : Object.create(null);
    const own = (k: string) => (Object.hasOwn(item, k) ? item[k] : undefined);
    const tag = own('tag');
    const digest = own('digest');
    if (typeof tag !== 'string' || typeof digest !== 'string' || typeof own('size') !== 'number') {
      throw usage(`${where}: expected {"tag", "digest": "sha256:…", "size"}`);
    }
    return new Entry(
      tag,
      checkDigest(digest),
      checkSize(own('size'), where),
      own('custom') ?? custom,
      source,
      i,
      true,
    );
  });
}

function parseLines(text: string, source: string, custom: unknown): BulkEntry[] {
  const out: BulkEntry[] = [];
  // Line by line without splitting the whole text first: at a million lines, an array of every
  // line beside the text and the entries was the peak of a bulk's memory.
  for (let start = 0, n = 0; start < text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '' || line.startsWith('#')) continue;
    const where = () => `${source}:${n + 1}`;
    const [tag, digest, size, extra] = line.split(/\s+/);
    if (!tag || !digest || !size || extra !== undefined || !/^\d+$/.test(size)) {
      throw usage(`${where()}: expected "TAG sha256:HEX SIZE"`);
    }
    const bytes = Number(size);
    out.push(
      new Entry(
        tag,
        checkDigest(digest),
        Number.isSafeInteger(bytes) ? bytes : checkSize(size, where()),
        custom,
        source,
        n + 1,
        false,
      ),
    );
  }
  return out;
}

/**
 * Folds repetitions of one tag. The same tag with the same digest, size and custom is folded
 * (a list concatenated from two CI jobs, say); the same tag meaning two different things is
 * refused with both places — keeping either silently would sign something nobody chose.
 */
function foldDuplicates(entries: BulkEntry[]): BulkInput {
  const first = new Map<string, BulkEntry>();
  const folded: string[] = [];
  const out: BulkEntry[] = [];
  for (const e of entries) {
    const seen = first.get(e.tag);
    if (seen === undefined) {
      first.set(e.tag, e);
      out.push(e);
    } else if (
      seen.hex === e.hex &&
      seen.size === e.size &&
      JSON.stringify(seen.custom) === JSON.stringify(e.custom)
    ) {
      folded.push(`${e.source} repeats tag ${JSON.stringify(e.tag)} of ${seen.source}; signed once`);
    } else {
      throw usage(
        `${seen.source} and ${e.source} give tag ${JSON.stringify(e.tag)} different contents (sha256:${seen.hex} ${seen.size} bytes, sha256:${e.hex} ${e.size} bytes${seen.hex === e.hex && seen.size === e.size ? ', different custom' : ''})`,
        'keep one line per tag: the one you mean to sign',
      );
    }
  }
  return { entries: out, folded };
}

/** Reads and checks a bulk input: a file, or `-` for stdin. */
export async function readBulk(source: string, custom: unknown): Promise<BulkInput> {
  const text =
    source === '-'
      ? await readStdin()
      : await readFile(source, 'utf8').catch((e: unknown) => asFileProblem(e, source, 'read'));
  const entries = text.trimStart().startsWith('[')
    ? parseJsonArray(text, source, custom)
    : parseLines(text, source, custom);
  return foldDuplicates(entries);
}
