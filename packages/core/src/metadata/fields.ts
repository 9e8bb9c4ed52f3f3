/**
 * Field readers for the parse boundary: each takes an untrusted value and a field path and
 * returns a typed value or throws a FormatError naming the path, what was expected and what
 * was found. Objects built here have a null prototype, so `__proto__` is an ordinary key.
 */
import { FormatError } from '../errors.js';

export type JsonObject = Record<string, unknown>;

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  return `a ${typeof v}`;
}

export function readObject(v: unknown, path: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new FormatError(`expected an object, found ${describe(v)}`, path);
  }
  return v as JsonObject;
}

export function readField(o: JsonObject, key: string, path: string): unknown {
  if (!Object.hasOwn(o, key)) throw new FormatError('required field is missing', `${path}.${key}`);
  return o[key];
}

export function readString(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new FormatError(`expected a string, found ${describe(v)}`, path);
  return v;
}

export function readInteger(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new FormatError(`expected an integer, found ${describe(v)}`, path);
  }
  if (v < min) throw new FormatError(`expected an integer >= ${min}, found ${v}`, path);
  return v;
}

export function readBoolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new FormatError(`expected true or false, found ${describe(v)}`, path);
  return v;
}

export function readArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new FormatError(`expected an array, found ${describe(v)}`, path);
  return v;
}

export function readStringArray(v: unknown, path: string): string[] {
  const a = readArray(v, path);
  for (let i = 0; i < a.length; i++) readString(a[i], `${path}[${i}]`);
  return a as string[];
}

const HEX = /^[0-9a-f]+$/;

/** A non-empty map of hash algorithm to lower-case hex digest. */
export function readHashes(v: unknown, path: string): Map<string, string> {
  const o = readObject(v, path);
  const m = new Map<string, string>();
  for (const alg of Object.keys(o)) {
    const d = readString(o[alg], `${path}.${alg}`);
    if (!HEX.test(d))
      throw new FormatError(`expected a lower-case hex digest, found ${describe(d)}`, `${path}.${alg}`);
    m.set(alg, d);
  }
  if (m.size === 0) throw new FormatError('expected at least one hash', path);
  return m;
}

/** The fields of `o` not in `known`, preserved so they are re-emitted (and stay signed). */
export function unrecognized(o: JsonObject, known: readonly string[]): JsonObject {
  const rest: JsonObject = Object.create(null);
  for (const k of Object.keys(o)) if (!known.includes(k)) rest[k] = o[k];
  return rest;
}

/** A null-prototype object with `fields` (undefined values left out) followed by `extra`. */
export function jsonObject(fields: JsonObject, extra?: Readonly<JsonObject>): JsonObject {
  const out: JsonObject = Object.create(null);
  for (const k of Object.keys(fields)) if (fields[k] !== undefined) out[k] = fields[k];
  if (extra) for (const k of Object.keys(extra)) out[k] = extra[k];
  return out;
}

export function mapToObject<V>(m: ReadonlyMap<string, V>, f: (v: V) => unknown): JsonObject {
  const out: JsonObject = Object.create(null);
  for (const [k, v] of m) out[k] = f(v);
  return out;
}
