/**
 * The trust pins of a client cache, `$TUFA_HOME/trust/SERVER/GUN/chain.json`: every root
 * version this machine accepted for that server and GUN, version → sha256 of the root file.
 * Parsed strictly when read: the versions become the keys of a `Map` (never properties of a
 * plain object, DESIGN rule 4), and a file that is not as tufa writes it is a CorruptStateError
 * naming the file and the entry, never a half-read chain of trust.
 */
import { CorruptStateError, parseJson, showTagName } from '@tufa/core';

/** Root version → lower-case hex sha256 of the root file as received. */
export type TrustChain = Map<number, string>;

const VERSION = /^[1-9][0-9]{0,15}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export function parseTrustChain(bytes: Uint8Array, file: string): TrustChain {
  let doc: unknown;
  try {
    doc = parseJson(bytes);
  } catch (e) {
    throw new CorruptStateError(file, '', `not valid JSON (${e instanceof Error ? e.message : String(e)})`, {
      cause: e,
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new CorruptStateError(
      file,
      '',
      `expected a JSON object of root version → sha256, found ${Array.isArray(doc) ? 'an array' : doc === null ? 'null' : typeof doc}`,
    );
  }
  const chain: TrustChain = new Map();
  for (const key of Object.keys(doc)) {
    const version = Number(key);
    if (!VERSION.test(key) || !Number.isSafeInteger(version)) {
      throw new CorruptStateError(file, showTagName(key), 'expected a root version (a whole number from 1)');
    }
    const value = (doc as Record<string, unknown>)[key];
    if (typeof value !== 'string' || !SHA256.test(value)) {
      throw new CorruptStateError(
        file,
        key,
        `expected the sha256 of a root file (64 lower-case hex digits), found ${typeof value === 'string' ? `the string ${showTagName(value.slice(0, 80))}` : value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
      );
    }
    chain.set(version, value);
  }
  return chain;
}

/** The file form: versions in ascending order. */
export function trustChainToBytes(chain: TrustChain): Uint8Array {
  const doc = Object.fromEntries([...chain].sort(([a], [b]) => a - b).map(([v, h]) => [String(v), h]));
  return new TextEncoder().encode(`${JSON.stringify(doc, null, 1)}\n`);
}
