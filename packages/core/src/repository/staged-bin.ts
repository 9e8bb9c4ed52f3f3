/**
 * Targets staged into one hash bin, kept compact until the bin is merged (read, or signed by
 * `publish`): ADR 0031.
 *
 * The common entry — one sha256 of 64 lower-case hex digits and nothing else, as `tufa sign
 * --bulk` gives — is kept as its path, its length and the digest's 32 bytes in one packed array
 * per bin. At a million tags a `TargetFile` each (with its `hashes` map) did not fit beside the
 * rest, and even one object and one 64-character string per tag were ~150 MB of a bulk's live
 * heap. Anything else (custom, other hashes, a digest of another shape, a length of -0) is kept
 * as the `TargetFile` given, so what is signed never depends on which form an entry took.
 */
import { TargetFile } from '../metadata/files.js';

const DIGEST = 32;
const HEX = '0123456789abcdef';
/** Hex digit → value for the lower-case digits only; -1 for anything else. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) NIBBLE[HEX.charCodeAt(i)] = i;
/** A byte → its two lower-case hex digits, as character codes (`hi << 8 | lo`). */
const HEX_PAIR = new Uint16Array(256);
for (let b = 0; b < 256; b++) HEX_PAIR[b] = (HEX.charCodeAt(b >> 4) << 8) | HEX.charCodeAt(b & 15);

/**
 * Append-only: an entry once staged never changes, so a reader that took `size` earlier (a bin's
 * merged targets being signed) keeps seeing exactly the entries below it.
 */
export class StagedBin {
  /** Every staged path, in the order staged (a path staged twice is listed twice: the later wins). */
  readonly paths: string[] = [];
  private readonly lengths: number[] = [];
  /** The sha256 of entry `i` at `i * 32` (unused for entries in `full`). */
  private digests = new Uint8Array(DIGEST * 16);
  /** The entries that are not compact, by index. */
  private full: Map<number, TargetFile> | undefined;

  /** Entries staged (repetitions of a path included). */
  get size(): number {
    return this.paths.length;
  }

  /** Stages `t`: compact when it has only a lower-case hex sha256, else as it is. */
  push(t: TargetFile): void {
    const i = this.paths.length;
    this.reserve(i + 1);
    const hex = t.hashes.size === 1 ? t.hashes.get('sha256') : undefined;
    const compact =
      hex !== undefined && !Object.is(t.length, -0) && !hasFields(t.unrecognized) && this.putHex(i, hex);
    this.paths.push(t.path);
    this.lengths.push(t.length);
    if (compact) return;
    this.full ??= new Map();
    this.full.set(i, t);
  }

  /** Stages every entry of `other` after these. */
  append(other: StagedBin): void {
    const base = this.paths.length;
    this.reserve(base + other.size);
    this.digests.set(other.digests.subarray(0, other.size * DIGEST), base * DIGEST);
    for (let i = 0; i < other.size; i++) {
      this.paths.push(other.paths[i] as string);
      this.lengths.push(other.lengths[i] as number);
    }
    if (other.full) {
      this.full ??= new Map();
      for (const [i, t] of other.full) this.full.set(base + i, t);
    }
  }

  /** Entry `i` when it is not compact; undefined when it is. */
  fullTarget(i: number): TargetFile | undefined {
    return this.full?.get(i);
  }

  /** The length of compact entry `i`. */
  length(i: number): number {
    return this.lengths[i] as number;
  }

  /** Writes the 64 lower-case hex digits of compact entry `i`'s sha256 into `out` at `at`. */
  writeHex(i: number, out: Uint8Array, at: number): void {
    const d = this.digests;
    for (let k = 0, o = i * DIGEST; k < DIGEST; k++) {
      const pair = HEX_PAIR[d[o + k] as number] as number;
      out[at++] = pair >> 8;
      out[at++] = pair & 0xff;
    }
  }

  /** Entry `i` as a TargetFile (built for a compact entry). */
  target(i: number): TargetFile {
    const full = this.full?.get(i);
    if (full) return full;
    const hex = new Uint8Array(DIGEST * 2);
    this.writeHex(i, hex, 0);
    return new TargetFile(
      this.paths[i] as string,
      this.lengths[i] as number,
      new Map([['sha256', String.fromCharCode(...hex)]]),
    );
  }

  /** Every entry as a TargetFile, in the order staged. */
  *targets(): Generator<TargetFile> {
    for (let i = 0; i < this.paths.length; i++) yield this.target(i);
  }

  private reserve(n: number): void {
    if (n * DIGEST <= this.digests.length) return;
    const bigger = new Uint8Array(Math.max(this.digests.length * 2, n * DIGEST));
    bigger.set(this.digests);
    this.digests = bigger;
  }

  /** Decodes `hex` into slot `i`; false when it is not 64 lower-case hex digits. */
  private putHex(i: number, hex: string): boolean {
    if (hex.length !== DIGEST * 2) return false;
    const d = this.digests;
    for (let k = 0, o = i * DIGEST; k < DIGEST; k++) {
      const hi = NIBBLE[hex.charCodeAt(2 * k)] ?? -1;
      const lo = NIBBLE[hex.charCodeAt(2 * k + 1)] ?? -1;
      if (hi < 0 || lo < 0) return false;
      d[o + k] = (hi << 4) | lo;
    }
    return true;
  }
}

function hasFields(o: object): boolean {
  for (const _ in o) return true;
  return false;
}
