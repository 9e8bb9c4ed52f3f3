/**
 * How the metadata models keep their own copies of what they are given (ADR 0012): a model is
 * immutable, so a caller that keeps the Map, list or object it passed in must not be able to
 * change the model through it. What a model already owns is immutable by the same rule, so
 * another model built from it (a new version of a role, say) shares it instead of copying.
 */
import { cloneJson, setOwn } from '../crypto/json-value.js';
import type { JsonObject } from './fields.js';

/** Maps and field objects that belong to a model (or to the parser's lazy targets map). */
const owned = new WeakSet<object>();

const NO_FIELDS: Readonly<JsonObject> = Object.freeze(Object.create(null));

/** Registers a collection that is immutable by construction (the parser's `TargetsMap`). */
export function markOwned<T extends object>(value: T): T {
  owned.add(value);
  return value;
}

/** A model's own copy of a map: the same map when a model already owns it. */
export function ownMap<K, V>(map: ReadonlyMap<K, V>): ReadonlyMap<K, V> {
  return owned.has(map) ? map : markOwned(new Map(map));
}

/** A model's own copy of a list, frozen; a frozen list is shared (its items are immutable models or strings). */
export function ownList<T>(list: readonly T[]): readonly T[] {
  return Object.isFrozen(list) ? list : Object.freeze([...list]);
}

/**
 * A model's own copy of its unrecognized fields: deep, frozen and made of JSON values only (a
 * FormatError naming `path()` otherwise).
 */
export function ownFields(
  fields: Readonly<JsonObject> | undefined,
  path: () => string,
): Readonly<JsonObject> {
  if (fields === undefined) return NO_FIELDS;
  const keys = Object.keys(fields);
  if (keys.length === 0) return NO_FIELDS;
  if (owned.has(fields)) return fields;
  const out: JsonObject = Object.create(null);
  const at = path();
  for (const k of keys) setOwn(out, k, cloneJson(fields[k], `${at}.${k}`, true));
  return markOwned(Object.freeze(out));
}
