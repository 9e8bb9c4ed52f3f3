/**
 * A hash bin's new `targets` (its published entries with the staged ones merged in) and the
 * canonical bytes of its `signed`, written straight from the compact staged entries.
 *
 * Why: at a million tags, building a `TargetFile` and a JSON object per tag only to encode them
 * (`Targets.toJSON` then `canonicalBytes`) was about a quarter of a bulk's CPU time, and made
 * hash bins cost more than one flat `targets.json` (docs/performance.md, ADR 0031). The bytes are
 * exactly those `canonicalBytes(signed.toJSON())` gives (tested both ways): every field but
 * `targets` goes through the same encoder, entries that are not compact too, and the entries are
 * written in the same code-point order.
 */
import { CanonicalWriter, canonicalBytes, compareCodePoints } from '../json/canonical.js';
import type { TargetFile } from '../metadata/files.js';
import { markOwned } from '../metadata/own.js';
import { Targets } from '../metadata/signed.js';
import type { StagedBin } from './staged-bin.js';

const ENTRY_HEAD = '{"hashes":{"sha256":"';
const ENTRY_MID = '"},"length":';

/**
 * A bin's targets for publishing, read-only: `published` with every entry of `staged` below
 * its size at construction (a staged path replaces the published entry, and of one path staged
 * twice the later wins, as `Map.set` in staging order would). Each TargetFile is built only when
 * read; iteration is in code-point order of the paths (the canonical order).
 */
export class MergedBinTargets implements ReadonlyMap<string, TargetFile> {
  /** Every path, in code-point order. */
  private readonly sorted: string[];
  /** The index in `staged` of each staged path (the last time it was staged). */
  private readonly stagedAt = new Map<string, number>();

  constructor(
    private readonly published: ReadonlyMap<string, TargetFile>,
    private readonly staged: StagedBin,
  ) {
    const n = staged.size;
    for (let i = 0; i < n; i++) this.stagedAt.set(staged.paths[i] as string, i);
    const sorted = [...this.stagedAt.keys()];
    for (const p of published.keys()) if (!this.stagedAt.has(p)) sorted.push(p);
    this.sorted = sorted.sort(compareCodePoints);
    markOwned(this); // immutable by construction: a Targets model shares it (ADR 0012)
  }

  get size(): number {
    return this.sorted.length;
  }

  has(path: string): boolean {
    return this.stagedAt.has(path) || this.published.has(path);
  }

  get(path: string): TargetFile | undefined {
    const i = this.stagedAt.get(path);
    return i === undefined ? this.published.get(path) : this.staged.target(i);
  }

  *keys(): MapIterator<string> {
    yield* this.sorted;
  }

  *values(): MapIterator<TargetFile> {
    for (const p of this.sorted) yield this.get(p) as TargetFile;
  }

  *entries(): MapIterator<[string, TargetFile]> {
    for (const p of this.sorted) yield [p, this.get(p) as TargetFile];
  }

  [Symbol.iterator](): MapIterator<[string, TargetFile]> {
    return this.entries();
  }

  forEach(
    fn: (value: TargetFile, key: string, map: ReadonlyMap<string, TargetFile>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  /** Writes the `targets` object, canonical, at depth 1 of the `signed` document. */
  writeCanonical(w: CanonicalWriter): void {
    w.byte(0x7b);
    let first = true;
    for (const path of this.sorted) {
      if (!first) w.byte(0x2c);
      first = false;
      w.string(path, '$.targets');
      w.byte(0x3a);
      const i = this.stagedAt.get(path);
      const full = i === undefined ? this.published.get(path) : this.staged.fullTarget(i);
      if (full !== undefined || i === undefined) {
        w.value((full as TargetFile).toJSON(), `$.targets.${path}`, 2);
        continue;
      }
      w.ascii(ENTRY_HEAD);
      w.ensure(64);
      this.staged.writeHex(i, w.buf, w.len);
      w.len += 64;
      w.ascii(ENTRY_MID);
      w.ascii(String(this.staged.length(i)));
      w.byte(0x7d);
    }
    w.byte(0x7d);
  }
}

/**
 * The canonical bytes of `signed`, as `canonicalBytes(signed.toJSON())` gives them: written
 * from the compact entries when its targets are a `MergedBinTargets`, else by that call.
 */
export function targetsSignedBytes(signed: Targets): Uint8Array {
  const targets = signed.targets;
  if (!(targets instanceof MergedBinTargets)) return canonicalBytes(signed.toJSON());
  // Every other field as the model writes it (common fields, delegations, unknown fields),
  // from a copy without targets; `targets` from the merged entries.
  const top = new Targets({
    version: signed.version,
    specVersion: signed.specVersion,
    expires: signed.expires,
    unrecognized: signed.unrecognized,
    targets: new Map(),
    delegations: signed.delegations,
  }).toJSON();
  const w = new CanonicalWriter();
  w.byte(0x7b);
  let first = true;
  for (const k of Object.keys(top).sort(compareCodePoints)) {
    const item = top[k];
    if (item === undefined) continue;
    if (!first) w.byte(0x2c);
    first = false;
    w.string(k, '$');
    w.byte(0x3a);
    if (k === 'targets') targets.writeCanonical(w);
    else w.value(item, `$.${k}`, 1);
  }
  w.byte(0x7d);
  return w.bytes();
}
