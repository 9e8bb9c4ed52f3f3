/**
 * The `targets` of a parsed targets role: every entry is validated when the role is parsed,
 * but its `TargetFile` object is only built when it is first read. A 100k-target role is
 * verified and queried without building 100k objects (and their hash maps) nobody asks for.
 */
import { FormatError } from '../errors.js';
import { describe, type JsonObject } from './fields.js';
import { TargetFile } from './files.js';
import { markOwned } from './own.js';

const HEX = /^[0-9a-f]+$/;

/** Checks one parsed entry exactly as `TargetFile.fromJSON` would, without building it. */
function validateEntry(v: unknown, path: string): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new FormatError(`expected an object, found ${describe(v)}`, path);
  }
  const o = v as JsonObject;
  if (!Object.hasOwn(o, 'length')) throw new FormatError('required field is missing', `${path}.length`);
  const length = o['length'];
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
    throw new FormatError(`expected an integer >= 0, found ${describe(length)}`, `${path}.length`);
  }
  if (!Object.hasOwn(o, 'hashes')) throw new FormatError('required field is missing', `${path}.hashes`);
  const hashes = o['hashes'];
  if (typeof hashes !== 'object' || hashes === null || Array.isArray(hashes)) {
    throw new FormatError(`expected an object, found ${describe(hashes)}`, `${path}.hashes`);
  }
  let n = 0;
  for (const alg in hashes) {
    if (!Object.hasOwn(hashes, alg)) continue;
    n++;
    const d = (hashes as JsonObject)[alg];
    if (typeof d !== 'string' || !HEX.test(d)) {
      throw new FormatError(
        `expected a lower-case hex digest, found ${describe(d)}`,
        `${path}.hashes.${alg}`,
      );
    }
  }
  if (n === 0) throw new FormatError('expected at least one hash', `${path}.hashes`);
}

export class TargetsMap implements ReadonlyMap<string, TargetFile> {
  private readonly raw: JsonObject;
  private readonly paths: string[];
  private readonly path: string;
  private readonly built = new Map<string, TargetFile>();

  /** `raw` is the parsed `targets` object (own properties only are read; `__proto__` is a path like any other). */
  constructor(raw: JsonObject, fieldPath: string) {
    this.raw = raw;
    this.path = fieldPath;
    this.paths = Object.keys(raw);
    for (const p of this.paths) validateEntry(raw[p], `${fieldPath}.${p}`);
    markOwned(this); // immutable: models share it rather than copy it (ADR 0012)
  }

  get size(): number {
    return this.paths.length;
  }

  has(path: string): boolean {
    return Object.hasOwn(this.raw, path);
  }

  get(path: string): TargetFile | undefined {
    if (!Object.hasOwn(this.raw, path)) return undefined;
    let t = this.built.get(path);
    if (!t) {
      t = TargetFile.fromJSON(path, this.raw[path], `${this.path}.${path}`);
      this.built.set(path, t);
    }
    return t;
  }

  *keys(): MapIterator<string> {
    yield* this.paths;
  }

  *values(): MapIterator<TargetFile> {
    for (const p of this.paths) yield this.get(p) as TargetFile;
  }

  *entries(): MapIterator<[string, TargetFile]> {
    for (const p of this.paths) yield [p, this.get(p) as TargetFile];
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
}
