/**
 * Test helper: signs small Notary v1 collections to order (versions, delegations, which keys),
 * in the format notary 0.7 writes, so that rollback and resolution rules can be tested as
 * tables. The root is signed with the attacker certificate of test-vectors/notary/attacker
 * (CN = the test GUN, valid 2026-11-22 to 2036-11-19); every other role with an ed25519 key
 * derived from its name. TEST ONLY.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalBytes } from '../../src/json/canonical.js';
import { notaryKeyId } from '../../src/notary/index.js';
import { MemorySource } from './helpers.js';

export const BUILT_GUN = 'example.com/notary/app';
/** Inside the root certificate's validity. */
export const BUILT_AS_OF = new Date('2030-01-01T00:00:00Z');
const EXPIRES = '2099-01-01T00:00:00Z';
const attacker = new URL('../../../../test-vectors/notary/attacker/', import.meta.url);

interface NotaryTestKey {
  keyid: string;
  keytype: string;
  public: string;
  sign(bytes: Uint8Array): { method: string; sig: string };
}

const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An ed25519 key derived from `name` (fixed: the same name gives the same key). */
export function edKey(name: string): NotaryTestKey {
  const seed = createHash('sha256').update(`notary test key ${name}`).digest();
  const priv = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(12).toString('base64');
  return {
    keyid: notaryKeyId('ed25519', pub),
    keytype: 'ed25519',
    public: pub,
    sign: (bytes) => ({ method: 'eddsa', sig: sign(null, bytes, priv).toString('base64') }),
  };
}

function rootKey(): NotaryTestKey {
  const priv: KeyObject = createPrivateKey(readFileSync(new URL('evil.key', attacker)));
  const pub = readFileSync(new URL('evil.crt', attacker)).toString('base64');
  return {
    keyid: notaryKeyId('ecdsa-x509', pub),
    keytype: 'ecdsa-x509',
    public: pub,
    sign: (bytes) => ({
      method: 'ecdsa',
      sig: sign('sha256', bytes, { key: priv, dsaEncoding: 'ieee-p1363' }).toString('base64'),
    }),
  };
}

export interface DelegationSpec {
  name: string;
  /** Key name (default: the role name). */
  key?: string;
  /** Path prefixes (default `[""]`: every name). */
  paths?: string[];
}

export interface RoleSpec {
  version?: number;
  /** Tag → content (its sha256 and length are signed). */
  targets?: Record<string, string>;
  delegations?: DelegationSpec[];
  /** Signed with this key instead of the one its delegator lists. */
  signWith?: string;
  /** An extra signed field: other content under the same version. */
  note?: string;
}

export interface CollectionSpec {
  rootVersion?: number;
  timestamp?: { version?: number; key?: string; note?: string };
  snapshot?: { version?: number; key?: string; omit?: string[] };
  /** `targets` and every delegation. */
  roles: Record<string, RoleSpec>;
}

/** Signed files by content: the same document is the same bytes (ECDSA signatures are random). */
const signedOnce = new Map<string, Uint8Array>();

function envelope(signed: object, keys: NotaryTestKey[]): Uint8Array {
  const bytes = canonicalBytes(signed);
  const id = `${keys.map((k) => k.keyid).join(',')} ${Buffer.from(bytes).toString('hex')}`;
  const known = signedOnce.get(id);
  if (known) return known;
  const signatures = keys.map((k) => ({ keyid: k.keyid, ...k.sign(bytes) }));
  const file = new Uint8Array(Buffer.from(JSON.stringify({ signed, signatures })));
  signedOnce.set(id, file);
  return file;
}

function fileMeta(b: Uint8Array) {
  return { length: b.length, hashes: { sha256: createHash('sha256').update(b).digest('base64') } };
}

function keyObject(k: NotaryTestKey) {
  return { keytype: k.keytype, keyval: { private: null, public: k.public } };
}

/** The files a notary-server would serve for `spec` (`N.root.json` for every root version). */
export function buildCollection(spec: CollectionSpec): MemorySource {
  const root = rootKey();
  const keyOf = (name: string) => edKey(name);
  const tsKey = keyOf(spec.timestamp?.key ?? 'timestamp');
  const snapKey = keyOf(spec.snapshot?.key ?? 'snapshot');
  const targetsKey = keyOf('targets');
  const files = new Map<string, Uint8Array>();
  const rootVersion = spec.rootVersion ?? 1;
  let rootBytes: Uint8Array = new Uint8Array();
  for (let v = 1; v <= rootVersion; v++) {
    const role = (k: NotaryTestKey) => ({ keyids: [k.keyid], threshold: 1 });
    rootBytes = envelope(
      {
        _type: 'Root',
        version: v,
        expires: EXPIRES,
        consistent_snapshot: false,
        keys: Object.fromEntries([root, tsKey, snapKey, targetsKey].map((k) => [k.keyid, keyObject(k)])),
        roles: {
          root: role(root),
          targets: role(targetsKey),
          snapshot: role(snapKey),
          timestamp: role(tsKey),
        },
      },
      [root],
    );
    files.set(`${v}.root.json`, rootBytes);
  }
  files.set('root.json', rootBytes);

  // Which key signs each targets role: its delegator names it.
  const keyFor = new Map<string, NotaryTestKey>([['targets', targetsKey]]);
  for (const r of Object.values(spec.roles)) {
    for (const d of r.delegations ?? []) keyFor.set(d.name, keyOf(d.key ?? d.name));
  }
  const meta: Record<string, unknown> = { root: fileMeta(rootBytes) };
  for (const [name, r] of Object.entries(spec.roles)) {
    const delegationKeys = (r.delegations ?? []).map((d) => keyOf(d.key ?? d.name));
    const bytes = envelope(
      {
        _type: 'Targets',
        version: r.version ?? 1,
        expires: EXPIRES,
        targets: Object.fromEntries(
          Object.entries(r.targets ?? {}).map(([tag, content]) => [tag, fileMeta(Buffer.from(content))]),
        ),
        delegations: {
          keys: Object.fromEntries(delegationKeys.map((k) => [k.keyid, keyObject(k)])),
          roles: (r.delegations ?? []).map((d) => ({
            name: d.name,
            keyids: [keyOf(d.key ?? d.name).keyid],
            threshold: 1,
            paths: d.paths ?? [''],
          })),
        },
        ...(r.note !== undefined ? { note: r.note } : {}),
      },
      [r.signWith !== undefined ? keyOf(r.signWith) : (keyFor.get(name) ?? keyOf(name))],
    );
    files.set(`${name}.json`, bytes);
    if (!spec.snapshot?.omit?.includes(name)) meta[name] = fileMeta(bytes);
  }
  const snapshot = envelope(
    { _type: 'Snapshot', version: spec.snapshot?.version ?? 1, expires: EXPIRES, meta },
    [snapKey],
  );
  files.set('snapshot.json', snapshot);
  const timestamp = envelope(
    {
      _type: 'Timestamp',
      version: spec.timestamp?.version ?? 1,
      expires: EXPIRES,
      meta: { snapshot: fileMeta(snapshot) },
      ...(spec.timestamp?.note !== undefined ? { note: spec.timestamp.note } : {}),
    },
    [tsKey],
  );
  files.set('timestamp.json', timestamp);
  return new MemorySource(files);
}

/** The first root of a built collection: the trust anchor for reading it. */
export function builtRoot(source: MemorySource): Uint8Array {
  return source.files.get('1.root.json') as Uint8Array;
}
