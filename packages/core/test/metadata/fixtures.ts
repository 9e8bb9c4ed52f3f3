/**
 * Shared builders for the metadata tests: plain JSON documents for each role, signed over
 * `canonicalBytes` with fixed Ed25519 keys (as the repository simulator does), so tests can
 * serve documents the model would refuse to build.
 */
import { createHash } from 'node:crypto';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { TufError, type TufErrorCode } from '../../src/errors.js';
import { canonicalBytes } from '../../src/json/canonical.js';
import { fixedSigner } from '../helpers/keys.js';

export type Json = Record<string, unknown>;
export type PathStep = string | number;

export const EXPIRES = '2030-01-01T00:00:00Z';
export const SPEC = '1.0.31';

const enc = new TextEncoder();
const dec = new TextDecoder();

export const utf8 = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);
export const sha256Hex = (b: Uint8Array | string): string =>
  createHash('sha256')
    .update(typeof b === 'string' ? enc.encode(b) : b)
    .digest('hex');
export const sha512Hex = (b: Uint8Array | string): string =>
  createHash('sha512')
    .update(typeof b === 'string' ? enc.encode(b) : b)
    .digest('hex');

/** Fixed signers, created once (key n has seed n). */
const signerCache = new Map<number, PrivateKeySigner>();
export function signer(n: number): PrivateKeySigner {
  let s = signerCache.get(n);
  if (!s) {
    s = fixedSigner(n);
    signerCache.set(n, s);
  }
  return s;
}

/** A JSON deep copy that keeps own `__proto__` keys as ordinary keys. */
export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** An object with exactly these own keys (works for `__proto__`). */
export function obj(entries: readonly (readonly [string, unknown])[]): Json {
  const o: Json = {};
  for (const [k, v] of entries)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

export const DELETE: unique symbol = Symbol('delete');

/** Sets (or with DELETE removes) the value at `path` inside `root`, creating nothing. */
export function setAt(root: unknown, path: readonly PathStep[], value: unknown): void {
  let cur: unknown = root;
  for (const step of path.slice(0, -1)) {
    cur = (cur as Record<string | number, unknown>)[step];
    if (typeof cur !== 'object' || cur === null) throw new Error(`test bug: no object at ${String(step)}`);
  }
  const last = path[path.length - 1] as PathStep;
  const target = cur as Record<string | number, unknown>;
  if (value === DELETE) {
    if (Array.isArray(target) && typeof last === 'number') target.splice(last, 1);
    else delete target[last];
  } else if (Array.isArray(target)) {
    target[last as number] = value;
  } else {
    Object.defineProperty(target, last, { value, enumerable: true, writable: true, configurable: true });
  }
}

export function getAt(root: unknown, path: readonly PathStep[]): unknown {
  let cur: unknown = root;
  for (const step of path) cur = (cur as Record<string | number, unknown>)[step];
  return cur;
}

export const H1 = sha256Hex('one');
export const H2 = sha256Hex('two');

export function rootSigned(
  keyOf: {
    root: PrivateKeySigner[];
    timestamp: PrivateKeySigner[];
    snapshot: PrivateKeySigner[];
    targets: PrivateKeySigner[];
  } = {
    root: [signer(1)],
    timestamp: [signer(2)],
    snapshot: [signer(3)],
    targets: [signer(4)],
  },
): Json {
  const keys: Json = {};
  const roles: Json = {};
  for (const [role, ss] of Object.entries(keyOf)) {
    for (const s of ss) keys[s.keyid] = s.key.toJSON();
    roles[role] = { keyids: ss.map((s) => s.keyid), threshold: 1 };
  }
  return {
    _type: 'root',
    spec_version: SPEC,
    version: 1,
    expires: EXPIRES,
    consistent_snapshot: true,
    keys,
    roles,
  };
}

export function timestampSigned(): Json {
  return {
    _type: 'timestamp',
    spec_version: SPEC,
    version: 3,
    expires: EXPIRES,
    meta: { 'snapshot.json': { version: 2, length: 515, hashes: { sha256: H1 } } },
  };
}

export function snapshotSigned(): Json {
  return {
    _type: 'snapshot',
    spec_version: SPEC,
    version: 2,
    expires: EXPIRES,
    meta: {
      'targets.json': { version: 1, length: 1024, hashes: { sha256: H1, sha512: sha512Hex('one') } },
      'role-a.json': { version: 4 },
    },
  };
}

export function targetsSigned(delegateKey: PrivateKeySigner = signer(5)): Json {
  return {
    _type: 'targets',
    spec_version: SPEC,
    version: 1,
    expires: EXPIRES,
    targets: {
      'a.txt': { length: 3, hashes: { sha256: H1 } },
      'dir/b.bin': { length: 0, hashes: { sha256: H2, sha512: sha512Hex('two') }, custom: { k: 'v' } },
    },
    delegations: {
      keys: { [delegateKey.keyid]: delegateKey.key.toJSON() },
      roles: [
        {
          name: 'role-a',
          keyids: [delegateKey.keyid],
          threshold: 1,
          terminating: false,
          paths: ['a/*', 'b/*.tgz'],
        },
        {
          name: 'role-b',
          keyids: [delegateKey.keyid],
          threshold: 1,
          terminating: true,
          path_hash_prefixes: ['ab', '0'],
        },
      ],
    },
  };
}

export function succinctTargetsSigned(bitLength = 5, prefix = 'bin'): Json {
  const k = signer(6);
  return {
    _type: 'targets',
    spec_version: SPEC,
    version: 1,
    expires: EXPIRES,
    targets: {},
    delegations: {
      keys: { [k.keyid]: k.key.toJSON() },
      succinct_roles: { keyids: [k.keyid], threshold: 1, bit_length: bitLength, name_prefix: prefix },
    },
  };
}

export const SIGNED_BUILDERS = {
  root: rootSigned,
  timestamp: timestampSigned,
  snapshot: snapshotSigned,
  targets: targetsSigned,
} as const;

/** `{signatures, signed}` with a signature by each signer over the canonical bytes of `signed`. */
export async function signDoc(
  signed: unknown,
  signers: readonly PrivateKeySigner[],
  keyids?: readonly string[],
): Promise<Json> {
  const data = canonicalBytes(signed);
  const signatures: Json[] = [];
  for (const [i, s] of signers.entries()) {
    const sig = (await s.sign(data)).toJSON();
    const keyid = keyids?.[i];
    if (keyid !== undefined) sig['keyid'] = keyid;
    signatures.push(sig);
  }
  return { signatures, signed };
}

/** File bytes as repositories serve them (indented JSON). */
export function bytesOf(doc: unknown, indent: number | undefined = 1): Uint8Array {
  return utf8(JSON.stringify(doc, null, indent));
}

/** Runs `f` and returns what it threw (failing if it did not throw). */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an exception, none was thrown');
}

export async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, the promise resolved');
}

export function asTufError(e: unknown, code: TufErrorCode): TufError {
  if (!(e instanceof TufError)) throw new Error(`expected a TufError, got ${String(e)}`, { cause: e });
  if (e.code !== code) throw new Error(`expected code ${code}, got ${e.code}: ${e.message}`, { cause: e });
  return e;
}
