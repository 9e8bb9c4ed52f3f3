/**
 * Notary v1 metadata (pre-1.0 TUF), parsed once at the boundary into typed, read-only objects.
 *
 * Differences from TUF 1.0 that this parser accepts, and nothing more: capitalised `_type`, no
 * `spec_version`, Go dates with nanoseconds and offsets, base64 hashes (kept here as hex),
 * snapshot/timestamp `meta` without `version`, delegations named `targets/NAME` with `paths`
 * prefixes. Everything keyed by name is a `Map` (DESIGN rule 4). Unknown fields are ignored:
 * they are covered by the signature over the canonical bytes of the received `signed`.
 */
import { isRecord, own } from '../crypto/json-value.js';
import { FormatError, ValueError } from '../errors.js';
import { parseStrict } from '../json/strict.js';
import { decodeBase64, type NotaryKey, notaryKey } from './keys.js';
import { parseNotaryTime } from './time.js';

/** The `_type` of a Notary v1 metadata file (capitalised, unlike TUF 1.0). */
export type NotaryRoleType = 'Root' | 'Targets' | 'Snapshot' | 'Timestamp';

/** One signature of a Notary file: keyid, signing method and the signature (base64). */
export interface NotarySignature {
  readonly keyid: string;
  readonly method: string;
  readonly sig: string;
}

/** A parsed file: the typed `signed`, the canonical bytes its signatures cover, and the raw bytes. */
export interface NotaryEnvelope<T> {
  readonly signed: T;
  /** Canonical JSON of the received `signed` (Go's `\u003c` escapes decoded): what was signed. */
  readonly signedBytes: Uint8Array;
  readonly signatures: readonly NotarySignature[];
  /** The bytes as received (what hashes and lengths in snapshot/timestamp cover). */
  readonly raw: Uint8Array;
}

/** The keyids and threshold of a Notary role. */
export interface NotaryRoleKeys {
  readonly keyids: readonly string[];
  readonly threshold: number;
}

interface Common {
  readonly type: NotaryRoleType;
  readonly version: number;
  readonly expires: Date;
  /** `expires` as written. */
  readonly expiresText: string;
}

/** A Notary root's `signed` part: keys (certificates) and the top-level roles. */
export interface NotaryRoot extends Common {
  readonly type: 'Root';
  readonly consistentSnapshot: boolean;
  readonly keys: ReadonlyMap<string, NotaryKey>;
  /** `root`, `targets`, `snapshot`, `timestamp`. */
  readonly roles: ReadonlyMap<string, NotaryRoleKeys>;
}

/** A length and hashes (hex), as snapshot and timestamp name files and targets name images. */
export interface NotaryFileMeta {
  readonly length: number;
  /** Algorithm → lower-case hex (decoded from Notary's base64). */
  readonly hashes: ReadonlyMap<string, string>;
}

export interface NotaryTargetEntry extends NotaryFileMeta {
  readonly custom: unknown;
}

/**
 * A Notary delegation: a role under `targets/` with its keys and the name prefixes it is trusted
 * for.
 */
export interface NotaryDelegation extends NotaryRoleKeys {
  readonly name: string;
  /** Path prefixes (`""` matches every name); `undefined` when none are given. */
  readonly paths: readonly string[] | undefined;
  /** Hex prefixes of sha256(name); `undefined` when none are given. */
  readonly pathHashPrefixes: readonly string[] | undefined;
}

/**
 * A Notary targets (or delegated `targets/…`) `signed` part: the images it signs and its
 * delegations.
 */
export interface NotaryTargets extends Common {
  readonly type: 'Targets';
  readonly targets: ReadonlyMap<string, NotaryTargetEntry>;
  readonly delegationKeys: ReadonlyMap<string, NotaryKey>;
  readonly delegations: readonly NotaryDelegation[];
}

/** A Notary snapshot's `signed` part: the length and hashes of each role's file. */
export interface NotarySnapshot extends Common {
  readonly type: 'Snapshot';
  readonly meta: ReadonlyMap<string, NotaryFileMeta>;
}

/** A Notary timestamp's `signed` part: the length and hashes of the snapshot. */
export interface NotaryTimestamp extends Common {
  readonly type: 'Timestamp';
  readonly meta: ReadonlyMap<string, NotaryFileMeta>;
}

/** The `signed` part of any Notary role. */
export type NotarySigned = NotaryRoot | NotaryTargets | NotarySnapshot | NotaryTimestamp;

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string): Obj {
  if (!isRecord(v)) throw new FormatError('expected an object', path);
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new FormatError('expected a string', path);
  return v;
}

function int(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new FormatError('expected an integer', path);
  if (v < min) throw new ValueError(`${path}: must be >= ${min}, found ${v}`);
  return v;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new FormatError('expected an array', path);
  return v;
}

function strings(v: unknown, path: string): string[] {
  return arr(v, path).map((s, i) => str(s, `${path}[${i}]`));
}

function entries(o: Obj): [string, unknown][] {
  return Object.keys(o).map((k) => [k, o[k]]);
}

function fileMeta(v: unknown, path: string): NotaryFileMeta & { custom: unknown } {
  const o = obj(v, path);
  const length = int(own(o, 'length'), `${path}.length`, 0);
  const h = obj(own(o, 'hashes'), `${path}.hashes`);
  const hashes = new Map<string, string>();
  for (const [alg, b64] of entries(h)) {
    const bytes = decodeBase64(str(b64, `${path}.hashes.${alg}`));
    if (bytes === undefined) throw new FormatError('expected base64', `${path}.hashes.${alg}`);
    hashes.set(alg, Buffer.from(bytes).toString('hex'));
  }
  if (hashes.size === 0) throw new FormatError('no hashes', `${path}.hashes`);
  return { length, hashes, custom: own(o, 'custom') };
}

function keysMap(v: unknown, path: string): Map<string, NotaryKey> {
  const out = new Map<string, NotaryKey>();
  for (const [keyid, k] of entries(obj(v, path))) {
    const ko = obj(k, `${path}.${keyid}`);
    const keytype = str(own(ko, 'keytype'), `${path}.${keyid}.keytype`);
    const kv = obj(own(ko, 'keyval'), `${path}.${keyid}.keyval`);
    const pub = str(own(kv, 'public'), `${path}.${keyid}.keyval.public`);
    out.set(keyid, notaryKey(keyid, keytype, pub));
  }
  return out;
}

function roleKeys(v: unknown, path: string): NotaryRoleKeys {
  const o = obj(v, path);
  return {
    keyids: strings(own(o, 'keyids'), `${path}.keyids`),
    threshold: int(own(o, 'threshold'), `${path}.threshold`, 1),
  };
}

function common(o: Obj, type: NotaryRoleType): Common {
  const t = str(own(o, '_type'), 'signed._type');
  if (t !== type) throw new FormatError(`expected _type ${type}, found ${JSON.stringify(t)}`, 'signed._type');
  const expiresText = str(own(o, 'expires'), 'signed.expires');
  return {
    type,
    version: int(own(o, 'version'), 'signed.version', 1),
    expires: parseNotaryTime(expiresText, 'signed.expires'),
    expiresText,
  };
}

function parseRoot(o: Obj): NotaryRoot {
  const roles = new Map<string, NotaryRoleKeys>();
  const ro = obj(own(o, 'roles'), 'signed.roles');
  for (const name of ['root', 'targets', 'snapshot', 'timestamp']) {
    roles.set(name, roleKeys(own(ro, name), `signed.roles.${name}`));
  }
  const cs = own(o, 'consistent_snapshot');
  if (cs !== undefined && typeof cs !== 'boolean')
    throw new FormatError('expected a boolean', 'signed.consistent_snapshot');
  return {
    ...common(o, 'Root'),
    type: 'Root',
    consistentSnapshot: cs === true,
    keys: keysMap(own(o, 'keys'), 'signed.keys'),
    roles,
  };
}

function parseTargets(o: Obj): NotaryTargets {
  const targets = new Map<string, NotaryTargetEntry>();
  const t = own(o, 'targets');
  if (t !== undefined && t !== null) {
    for (const [name, v] of entries(obj(t, 'signed.targets'))) {
      targets.set(name, fileMeta(v, `signed.targets.${JSON.stringify(name)}`));
    }
  }
  let delegationKeys = new Map<string, NotaryKey>();
  const delegations: NotaryDelegation[] = [];
  const d = own(o, 'delegations');
  if (d !== undefined && d !== null) {
    const dobj = obj(d, 'signed.delegations');
    const k = own(dobj, 'keys');
    if (k !== undefined && k !== null) delegationKeys = keysMap(k, 'signed.delegations.keys');
    const r = own(dobj, 'roles');
    for (const [i, rv] of (r === undefined || r === null
      ? []
      : arr(r, 'signed.delegations.roles')
    ).entries()) {
      const path = `signed.delegations.roles[${i}]`;
      const ro = obj(rv, path);
      const paths = own(ro, 'paths');
      const prefixes = own(ro, 'path_hash_prefixes');
      delegations.push({
        name: str(own(ro, 'name'), `${path}.name`),
        ...roleKeys(ro, path),
        paths: paths === undefined || paths === null ? undefined : strings(paths, `${path}.paths`),
        pathHashPrefixes:
          prefixes === undefined || prefixes === null
            ? undefined
            : strings(prefixes, `${path}.path_hash_prefixes`),
      });
    }
  }
  return { ...common(o, 'Targets'), type: 'Targets', targets, delegationKeys, delegations };
}

function parseMeta(o: Obj): Map<string, NotaryFileMeta> {
  const meta = new Map<string, NotaryFileMeta>();
  for (const [name, v] of entries(obj(own(o, 'meta'), 'signed.meta'))) {
    const { length, hashes } = fileMeta(v, `signed.meta.${JSON.stringify(name)}`);
    meta.set(name, { length, hashes });
  }
  return meta;
}

/**
 * Parses a Notary metadata file strictly; `type` is the `_type` it must have.
 * @throws {@link errors!FormatError | FormatError} the bytes are not strict JSON, not a Notary file
 *   of `type`, or a field is invalid.
 */
export function parseNotaryMetadata<T extends NotaryRoleType>(
  raw: Uint8Array,
  type: T,
): NotaryEnvelope<Extract<NotarySigned, { type: T }>> {
  const { value, signedCanonical } = parseStrict(raw);
  const top = obj(value, '(top level)');
  const so = obj(own(top, 'signed'), 'signed');
  if (signedCanonical === undefined) throw new FormatError('no "signed" member');
  const sigs = arr(own(top, 'signatures'), 'signatures').map((s, i): NotarySignature => {
    const p = `signatures[${i}]`;
    const o = obj(s, p);
    return {
      keyid: str(own(o, 'keyid'), `${p}.keyid`),
      method: str(own(o, 'method'), `${p}.method`),
      sig: str(own(o, 'sig'), `${p}.sig`),
    };
  });
  let signed: NotarySigned;
  switch (type) {
    case 'Root':
      signed = parseRoot(so);
      break;
    case 'Targets':
      signed = parseTargets(so);
      break;
    case 'Snapshot':
      signed = { ...common(so, 'Snapshot'), type: 'Snapshot', meta: parseMeta(so) };
      break;
    default:
      signed = { ...common(so, 'Timestamp'), type: 'Timestamp', meta: parseMeta(so) };
  }
  return {
    signed: signed as Extract<NotarySigned, { type: T }>,
    signedBytes: signedCanonical,
    signatures: sigs,
    raw,
  };
}
