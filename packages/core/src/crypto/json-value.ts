/**
 * Copying the unknown fields of keys and signatures (internal; not re-exported).
 *
 * TUF says unrecognised fields must be kept and re-emitted, and they are covered by signatures,
 * so they must survive byte for byte. `obj[k] = v` with k === "__proto__" would set the
 * prototype instead of a field (DESIGN rule 4), so every copy defines own properties.
 */
import { FormatError } from '../errors.js';

const MAX_DEPTH = 64;

export function isRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Define an own enumerable property, even for the name `__proto__`. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A deep copy of a JSON value made of plain objects, arrays, strings, booleans, null and safe
 * integers (what canonical JSON can encode); anything else is a FormatError naming `path`, so a
 * key that parses can always compute its keyid. With `freeze`, the copy is deeply frozen.
 */
export function cloneJson(value: unknown, path: string, freeze = false, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new FormatError('nesting too deep', path);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || Object.is(value, -0)) {
      throw new FormatError(`expected an integer within ±(2^53 − 1), found ${String(value)}`, path);
    }
    return value;
  }
  if (Array.isArray(value)) {
    const out = value.map((item, i) => cloneJson(item, `${path}[${i}]`, freeze, depth + 1));
    return freeze ? Object.freeze(out) : out;
  }
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value))
      setOwn(out, k, cloneJson(value[k], `${path}.${k}`, freeze, depth + 1));
    return freeze ? Object.freeze(out) : out;
  }
  throw new FormatError(`not a JSON value (${typeof value})`, path);
}

/** Copy the fields of `obj` not named in `known` (frozen), for a model's `unrecognized`. */
export function unknownFields(
  obj: Record<string, unknown>,
  known: readonly string[],
  path: string,
): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) setOwn(out, k, cloneJson(obj[k], `${path}.${k}`, true));
  }
  return Object.freeze(out);
}

/** `obj[key]` if it is an own property: a polluted Object.prototype must not supply fields. */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
