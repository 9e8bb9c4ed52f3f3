/**
 * A read-only Notary v1 client: verifies a whole trust collection (root chain, timestamp,
 * snapshot, targets and every delegation) and reports what it signs. Separate from the TUF 1.0
 * path, which stays strict: nothing here is reachable from `Updater` or `TrustedMetadataSet`.
 *
 * Always checked in full: signatures and thresholds (distinct keys, DESIGN rule 5), root
 * versions along the chain, lengths and hashes (timestamp → snapshot → targets and
 * delegations, and snapshot → root). Judged at `asOf` (the current time, or a time the user
 * chooses for data whose service is gone): expiry of every role, and the validity period of
 * the root certificates, whose CN must be the GUN (as Notary's trust pinning requires).
 *
 * No clock, no file system, no network of its own: bytes come from a `NotarySource`.
 */
import { X509Certificate } from 'node:crypto';
import { hexDigest, isSupportedHashAlgorithm } from '../crypto/hash.js';
import { Key } from '../crypto/key.js';
import {
  ExpiredError,
  FormatError,
  LengthOrHashError,
  NotFoundError,
  RollbackError,
  ThresholdError,
  TufError,
  UsageError,
  VersionMismatchError,
} from '../errors.js';
import type { NotaryKey } from './keys.js';
import { tufaSignatureHex } from './keys.js';
import {
  type NotaryDelegation,
  type NotaryEnvelope,
  type NotaryFileMeta,
  type NotaryRoleKeys,
  type NotaryRoleType,
  type NotaryRoot,
  type NotarySigned,
  type NotaryTargets,
  parseNotaryMetadata,
} from './metadata.js';
import { checkNotaryGun, checkNotaryRoleName, type NotarySource } from './source.js';
import {
  checkNotaryRecord,
  forgetRotatedRecords,
  type NotaryRecords,
  type NotaryRoleRecord,
  notaryRecord,
} from './state.js';

/** How the first root is trusted. Exactly one is needed (or `unsafeTrustOnFirstUse`). */
export interface NotaryTrustOptions {
  /** A root.json trusted already (e.g. from a client cache or an earlier export). */
  trustedRoot?: Uint8Array;
  /** Root key ids to pin (Notary `trust_pinning.certs`): the chain starts at the first root listing one. */
  rootKeyIds?: readonly string[];
  /** Root certificates (PEM) to pin by public key: the chain starts at the first root listing one. */
  rootCertificates?: readonly string[];
  /** Trust the oldest root the source has (what Notary does by default). Named unsafe on purpose. */
  unsafeTrustOnFirstUse?: boolean;
}

export interface NotaryReadOptions extends NotaryTrustOptions {
  gun: string;
  /** The reference time for expiry and certificate validity. */
  asOf: Date;
  /** Upper bounds for files whose length no signed metadata gives. */
  maxRootLength?: number;
  maxTimestampLength?: number;
  /** Delegated roles to visit at most. Default 1000. */
  maxRoles?: number;
  /**
   * What was verified from this same source before (`records` of an earlier collection): no
   * role may go back from it (see state.ts). Without it, nothing is compared.
   */
  recorded?: NotaryRecords;
}

/** The X.509 certificate of a Notary key, summarised for a person checking it out of band. */
export interface NotaryCertificateInfo {
  keyid: string;
  subject: string;
  commonName: string | undefined;
  notBefore: Date;
  notAfter: Date;
  /** Why this root certificate does not count at `asOf`, or `undefined` when it does. */
  problem: string | undefined;
}

/** One verified Notary role: version, expiry and keys, for a report. */
export interface NotaryRoleInfo {
  role: string;
  version: number;
  expires: Date;
  keyids: string[];
  threshold: number;
}

/** One verified target: a tag (or file name) as one role signs it. */
export interface NotaryTarget {
  name: string;
  /** `targets`, or the delegation that signed it, e.g. `targets/releases`. */
  role: string;
  length: number;
  /** Algorithm → hex digest. */
  hashes: ReadonlyMap<string, string>;
  /** `sha256:HEX` when a sha256 is given. */
  digest: string | undefined;
  custom: unknown;
}

/**
 * A delegated Notary role that could not be verified, and why; its targets are left out of the
 * collection.
 */
export interface NotaryRoleFailure {
  role: string;
  /** Why it was refused. */
  error: TufError;
}

/**
 * A Notary v1 collection (one GUN) read and verified: its roles, its signed targets, what anchored
 * trust in it, and the roles that failed.
 */
export interface NotaryCollection {
  gun: string;
  source: string;
  asOf: Date;
  /**
   * What the root was trusted by: a root given, a pinned key or certificate, or trust on first use.
   */
  trustAnchor: 'trusted-root' | 'pinned-key' | 'pinned-certificate' | 'unsafe-tofu';
  /** The root versions verified, oldest first (the last is the current root). */
  rootVersions: number[];
  root: NotaryRoleInfo & { certificates: NotaryCertificateInfo[] };
  /** timestamp, snapshot, targets and every delegation that verified. */
  roles: NotaryRoleInfo[];
  /** Every (target, role) pair that verified, in walk order (targets first, then delegations). */
  targets: NotaryTarget[];
  /** Delegations that did not verify: their targets (and their children's) are left out. */
  failedRoles: NotaryRoleFailure[];
  /** Delegations the metadata names that the snapshot does not list (never published). */
  unpublishedRoles: string[];
  /**
   * What to record for the next read from this source (`NotaryReadOptions.recorded`): every role
   * verified now; for a role that did not verify, what was recorded before (never lowered);
   * removed delegations forgotten.
   */
  records: Map<string, NotaryRoleRecord>;
}

const DEFAULT_MAX_ROOT = 1 << 20;
const DEFAULT_MAX_TIMESTAMP = 1 << 16;
const MAX_ROOT_VERSIONS = 10_000;
const MAX_DELEGATION_DEPTH = 32;

type Keys = ReadonlyMap<string, NotaryKey>;

/** Expired means `asOf >= expires` (DESIGN rule 3). */
function checkExpiry(role: string, s: NotarySigned, asOf: Date): void {
  if (asOf.getTime() >= s.expires.getTime()) {
    throw new ExpiredError(
      `${role} expired at ${s.expires.toISOString()} (as of ${asOf.toISOString()})`,
      role,
    );
  }
}

function commonName(subject: string): string | undefined {
  for (const line of subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

/** Why a root certificate does not count at `asOf`, or undefined. */
function certificateProblem(k: NotaryKey, gun: string, asOf: Date): string | undefined {
  const c = k.certificate;
  if (c === undefined) return `key ${k.keyid} is a ${k.keytype} key, not a certificate`;
  const cn = commonName(c.subject);
  if (cn !== gun)
    return `certificate ${k.keyid} is for ${JSON.stringify(cn ?? '')}, not ${JSON.stringify(gun)}`;
  const from = new Date(c.validFrom);
  const to = new Date(c.validTo);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()))
    return `certificate ${k.keyid} has an unreadable validity period`;
  if (asOf < from) return `certificate ${k.keyid} is not valid before ${from.toISOString()}`;
  if (asOf > to) return `certificate ${k.keyid} expired at ${to.toISOString()}`;
  return undefined;
}

/**
 * Counts distinct public keys among `role.keyids` whose signature over the canonical `signed`
 * verifies; throws ThresholdError below the threshold. `usable` may exclude keys (root
 * certificates that are not valid at `asOf`). Keys whose listed keyid is not the one Notary
 * computes for them never count.
 */
async function checkThreshold(
  what: string,
  env: NotaryEnvelope<NotarySigned>,
  keys: Keys,
  role: NotaryRoleKeys,
  usable: (k: NotaryKey) => string | undefined = () => undefined,
): Promise<string[]> {
  const authorised = new Set(role.keyids);
  const counted = new Set<string>();
  const signers: string[] = [];
  const reasons: string[] = [];
  for (const s of env.signatures) {
    if (!authorised.has(s.keyid)) continue;
    const k = keys.get(s.keyid);
    if (k === undefined) continue;
    if (k.key === undefined) {
      reasons.push(`key ${s.keyid}: ${k.problem ?? 'unusable'}`);
      continue;
    }
    if (k.computedKeyid !== k.keyid) {
      reasons.push(`key listed as ${k.keyid} has keyid ${k.computedKeyid}`);
      continue;
    }
    const why = usable(k);
    if (why !== undefined) {
      reasons.push(why);
      continue;
    }
    const material = k.key.materialId();
    if (material === undefined || counted.has(material)) continue;
    const hex = tufaSignatureHex(k.keytype, s.method, s.sig);
    if (hex === undefined) continue;
    if (await k.key.verify(env.signedBytes, hex)) {
      counted.add(material);
      signers.push(s.keyid);
    }
  }
  if (counted.size < role.threshold) {
    throw new ThresholdError(
      `${what}: ${counted.size} valid signature(s) from authorised keys, expected at least ${role.threshold}${reasons.length ? ` (${reasons.join('; ')})` : ''}`,
    );
  }
  return signers;
}

/** Length and every known hash of `bytes` against what the parent role says. */
function checkFileMeta(what: string, bytes: Uint8Array, meta: NotaryFileMeta): void {
  if (bytes.length !== meta.length) {
    throw new LengthOrHashError(`${what}: expected ${meta.length} bytes, got ${bytes.length}`);
  }
  let known = 0;
  for (const [alg, hex] of meta.hashes) {
    if (!isSupportedHashAlgorithm(alg)) continue;
    known++;
    const got = hexDigest(alg, bytes);
    if (got !== hex) throw new LengthOrHashError(`${what}: ${alg} expected ${hex}, got ${got}`);
  }
  if (known === 0) {
    throw new LengthOrHashError(
      `${what}: no sha256 or sha512 hash to check (${[...meta.hashes.keys()].join(', ')})`,
    );
  }
}

function parseAs<T extends NotaryRoleType>(what: string, bytes: Uint8Array, type: T) {
  try {
    return parseNotaryMetadata(bytes, type);
  } catch (e) {
    if (e instanceof TufError) {
      throw new FormatError(`${what}: ${e.message}`, undefined, { cause: e });
    }
    throw e;
  }
}

function roleKeys(root: NotaryRoot, name: string): NotaryRoleKeys {
  const r = root.roles.get(name);
  if (r === undefined) throw new FormatError(`root has no ${name} role`);
  return r;
}

/** The root keyids of `root` that a pin names (by keyid or by the pinned certificate's key). */
function pinnedKeyIds(root: NotaryRoot, opts: NotaryTrustOptions, pinMaterials: Set<string>): string[] {
  return roleKeys(root, 'root').keyids.filter((id) => {
    if (opts.rootKeyIds?.includes(id)) return true;
    const m = root.keys.get(id)?.key?.materialId();
    return m !== undefined && pinMaterials.has(m);
  });
}

/** A delegated role may sign only names its delegation (and every one above it) allows. */
function allowedBy(d: NotaryDelegation, name: string): boolean {
  if (d.paths?.some((p) => name.startsWith(p))) return true;
  if (d.pathHashPrefixes !== undefined) {
    const h = hexDigest('sha256', new TextEncoder().encode(name));
    if (d.pathHashPrefixes.some((p) => h.startsWith(p))) return true;
  }
  return false;
}

function targetsOf(role: string, t: NotaryTargets, chain: readonly NotaryDelegation[]): NotaryTarget[] {
  const out: NotaryTarget[] = [];
  for (const [name, e] of t.targets) {
    if (!chain.every((d) => allowedBy(d, name))) continue;
    const sha = e.hashes.get('sha256');
    out.push({
      name,
      role,
      length: e.length,
      hashes: e.hashes,
      digest: sha === undefined ? undefined : `sha256:${sha}`,
      custom: e.custom,
    });
  }
  return out;
}

function info(role: string, s: NotarySigned, keys: NotaryRoleKeys): NotaryRoleInfo {
  return {
    role,
    version: s.version,
    expires: s.expires,
    keyids: [...keys.keyids],
    threshold: keys.threshold,
  };
}

/** Loads and verifies the root chain; returns the current root and how it was anchored. */
async function loadRoot(
  source: NotarySource,
  opts: NotaryReadOptions,
): Promise<{
  root: NotaryEnvelope<NotaryRoot>;
  versions: number[];
  anchor: NotaryCollection['trustAnchor'];
}> {
  const maxRoot = opts.maxRootLength ?? DEFAULT_MAX_ROOT;
  const given = [
    opts.trustedRoot !== undefined,
    (opts.rootKeyIds?.length ?? 0) > 0 || (opts.rootCertificates?.length ?? 0) > 0,
    opts.unsafeTrustOnFirstUse === true,
  ].filter(Boolean).length;
  if (given !== 1) {
    throw new UsageError(
      'give exactly one way to trust the first root: a trusted root.json, pinned root key ids or certificates, or unsafe trust on first use',
    );
  }
  const latestBytes = await source.read('root.json', maxRoot);
  if (latestBytes === undefined) throw new NotFoundError(`${source.description}: no root.json`);
  const latest = parseAs('root.json', latestBytes, 'Root');

  const fetchVersion = async (v: number) => {
    if (!source.versionedRoots) return undefined;
    const b = await source.read(`${v}.root.json`, maxRoot);
    if (b === undefined) return undefined;
    const env = parseAs(`${v}.root.json`, b, 'Root');
    if (env.signed.version !== v) {
      throw new VersionMismatchError(`${v}.root.json holds root version ${env.signed.version}`);
    }
    return env;
  };

  let anchor: NotaryEnvelope<NotaryRoot> | undefined;
  let kind: NotaryCollection['trustAnchor'];
  if (opts.trustedRoot !== undefined) {
    anchor = parseAs('the trusted root', opts.trustedRoot, 'Root');
    kind = 'trusted-root';
  } else {
    // The oldest roots first: the versioned files when the source keeps them, else root.json.
    const pinMaterials = new Set<string>();
    for (const pem of opts.rootCertificates ?? []) {
      let m: string | undefined;
      try {
        m = Key.fromPublicKeyObject(new X509Certificate(pem).publicKey).materialId();
      } catch (e) {
        throw new UsageError(
          `a pinned root certificate cannot be used (${e instanceof Error ? e.message : e})`,
        );
      }
      if (m !== undefined) pinMaterials.add(m);
    }
    const pinned = (r: NotaryRoot) =>
      opts.unsafeTrustOnFirstUse === true || pinnedKeyIds(r, opts, pinMaterials).length > 0;
    // The version in root.json is unsigned until verified: search a bounded window, and stop at
    // the first version the source does not have.
    const last = Math.min(latest.signed.version, MAX_ROOT_VERSIONS);
    for (let v = 1; v <= last && source.versionedRoots; v++) {
      const env = v === latest.signed.version ? latest : await fetchVersion(v);
      if (env === undefined) break;
      if (pinned(env.signed)) {
        anchor = env;
        break;
      }
    }
    if (anchor === undefined && pinned(latest.signed)) anchor = latest;
    if (anchor === undefined) {
      throw new ThresholdError(
        `no root of ${opts.gun} at ${source.description} lists a pinned root key (root keys now: ${roleKeys(latest.signed, 'root').keyids.join(', ')})`,
      );
    }
    kind = opts.unsafeTrustOnFirstUse
      ? 'unsafe-tofu'
      : (opts.rootKeyIds?.length ?? 0) > 0
        ? 'pinned-key'
        : 'pinned-certificate';
  }
  // A pin anchors trust only through signatures by the pinned keys themselves: a root that
  // merely lists a pinned key beside keys of its own choosing proves nothing.
  if (kind === 'pinned-key' || kind === 'pinned-certificate') {
    const pinMaterials = new Set<string>();
    for (const pem of opts.rootCertificates ?? []) {
      const m = Key.fromPublicKeyObject(new X509Certificate(pem).publicKey).materialId();
      if (m !== undefined) pinMaterials.add(m);
    }
    const ids = pinnedKeyIds(anchor.signed, opts, pinMaterials);
    await checkThreshold(
      `root version ${anchor.signed.version} (by its pinned keys)`,
      anchor,
      anchor.signed.keys,
      {
        keyids: ids,
        threshold: roleKeys(anchor.signed, 'root').threshold,
      },
    );
  }
  // The anchor must at least be a valid self-signed root.
  await checkThreshold(
    `root version ${anchor.signed.version}`,
    anchor,
    anchor.signed.keys,
    roleKeys(anchor.signed, 'root'),
  );
  const versions = [anchor.signed.version];
  let current = anchor;
  // Walk the versioned roots: each signed by the previous root's root keys and by its own.
  for (let v = current.signed.version + 1; v <= current.signed.version + MAX_ROOT_VERSIONS; v++) {
    const next = v === latest.signed.version ? latest : await fetchVersion(v);
    if (next === undefined) break;
    await checkThreshold(
      `root version ${v} (signed by root version ${current.signed.version})`,
      next,
      current.signed.keys,
      roleKeys(current.signed, 'root'),
    );
    await checkThreshold(`root version ${v}`, next, next.signed.keys, roleKeys(next.signed, 'root'));
    versions.push(v);
    current = next;
  }
  if (latest.signed.version < current.signed.version) {
    throw new RollbackError(
      `${source.description} serves root version ${latest.signed.version}, older than the trusted version ${current.signed.version}`,
    );
  }
  if (latest.signed.version > current.signed.version) {
    // No intermediate versions (a client cache keeps only the newest root): the newest root
    // must be signed by the trusted root's root keys directly, and by its own.
    await checkThreshold(
      `root version ${latest.signed.version} (signed by root version ${current.signed.version})`,
      latest,
      current.signed.keys,
      roleKeys(current.signed, 'root'),
    );
    await checkThreshold(
      `root version ${latest.signed.version}`,
      latest,
      latest.signed.keys,
      roleKeys(latest.signed, 'root'),
    );
    versions.push(latest.signed.version);
    current = latest;
  } else if (Buffer.compare(Buffer.from(latest.signedBytes), Buffer.from(current.signedBytes)) !== 0) {
    throw new VersionMismatchError(
      `${source.description}: root.json and the verified root version ${current.signed.version} differ`,
    );
  }
  return { root: current, versions, anchor: kind };
}

/** Reads the file for `role` named in `meta`, by content hash when the source supports it. */
async function readByMeta(source: NotarySource, role: string, meta: NotaryFileMeta): Promise<Uint8Array> {
  const sha = meta.hashes.get('sha256');
  let bytes: Uint8Array | undefined;
  if (source.hashedNames && sha !== undefined && /^[0-9a-f]{64}$/.test(sha)) {
    bytes = await source.read(`${role}.${sha}.json`, meta.length);
  }
  bytes ??= await source.read(`${role}.json`, meta.length);
  if (bytes === undefined) throw new NotFoundError(`${source.description}: no ${role}.json`);
  checkFileMeta(`${role}.json`, bytes, meta);
  return bytes;
}

/**
 * Verifies the Notary trust collection `opts.gun` from `source`. Throws a TufError when the
 * root, timestamp, snapshot or targets role does not verify; a delegation that does not verify
 * is reported in `failedRoles` and its targets are left out.
 * @throws {@link errors!UsageError | UsageError} `opts.asOf` is not a valid date, or there are more
 *   delegated roles than allowed.
 * @throws {@link errors!UnsafeNameError | UnsafeNameError} `opts.gun` is not a plain repository
 *   name.
 * @throws {@link errors!NotFoundError | NotFoundError} the source has no `timestamp.json` (or
 *   another top-level file).
 * @throws {@link errors!FormatError | FormatError} a file is not valid Notary metadata.
 * @throws {@link errors!ThresholdError | ThresholdError} a top-level role is not signed by a
 *   threshold of its keys.
 * @throws {@link errors!ExpiredError | ExpiredError} a top-level role expired at `opts.asOf`.
 * @throws {@link errors!VersionMismatchError | VersionMismatchError} a root file holds another
 *   version than its name says.
 * @throws {@link errors!LengthOrHashError | LengthOrHashError} a file does not match what its
 *   parent lists.
 * @throws {@link errors!FetchError | FetchError} the source could not be read.
 */
export async function readNotaryCollection(
  source: NotarySource,
  opts: NotaryReadOptions,
): Promise<NotaryCollection> {
  const gun = checkNotaryGun(opts.gun);
  const asOf = opts.asOf;
  if (!(asOf instanceof Date) || Number.isNaN(asOf.getTime()))
    throw new UsageError('asOf must be a valid Date');
  const { root: rootEnv, versions, anchor } = await loadRoot(source, opts);
  const root = rootEnv.signed;
  // 5.3.11: a rotated timestamp or snapshot key starts both afresh (the fast-forward recovery).
  const recorded = forgetRotatedRecords(opts.recorded ?? new Map(), (r) => roleKeys(root, r));
  const records = new Map<string, NotaryRoleRecord>();
  /** Compares a verified role with what was recorded, and records it (see state.ts). */
  const record = (role: string, env: NotaryEnvelope<NotarySigned>, keys: NotaryRoleKeys) => {
    const now = notaryRecord(role, env.signed.version, hexDigest('sha256', env.signedBytes), keys);
    checkNotaryRecord(recorded.get(role), now, source.description);
    records.set(role, now);
  };
  record('root', rootEnv, roleKeys(root, 'root'));

  // The current root: certificates (CN = GUN, valid at asOf) and threshold with those only.
  const rootRole = roleKeys(root, 'root');
  const certificates: NotaryCertificateInfo[] = [];
  for (const id of rootRole.keyids) {
    const k = root.keys.get(id);
    if (k?.certificate === undefined) continue;
    certificates.push({
      keyid: id,
      subject: k.certificate.subject,
      commonName: commonName(k.certificate.subject),
      notBefore: new Date(k.certificate.validFrom),
      notAfter: new Date(k.certificate.validTo),
      problem: certificateProblem(k, gun, asOf),
    });
  }
  await checkThreshold(
    `root version ${root.version} at ${asOf.toISOString()}`,
    rootEnv,
    root.keys,
    rootRole,
    (k) => certificateProblem(k, gun, asOf),
  );
  checkExpiry('root', root, asOf);

  // Timestamp → snapshot.
  const tsBytes = await source.read('timestamp.json', opts.maxTimestampLength ?? DEFAULT_MAX_TIMESTAMP);
  if (tsBytes === undefined) throw new NotFoundError(`${source.description}: no timestamp.json`);
  const ts = parseAs('timestamp.json', tsBytes, 'Timestamp');
  await checkThreshold('timestamp', ts, root.keys, roleKeys(root, 'timestamp'));
  record('timestamp', ts, roleKeys(root, 'timestamp'));
  checkExpiry('timestamp', ts.signed, asOf);
  const snapMeta = ts.signed.meta.get('snapshot');
  if (snapMeta === undefined) throw new FormatError('timestamp.json does not name snapshot');

  const snapBytes = await readByMeta(source, 'snapshot', snapMeta);
  const snap = parseAs('snapshot.json', snapBytes, 'Snapshot');
  await checkThreshold('snapshot', snap, root.keys, roleKeys(root, 'snapshot'));
  record('snapshot', snap, roleKeys(root, 'snapshot'));
  checkExpiry('snapshot', snap.signed, asOf);
  const rootMeta = snap.signed.meta.get('root');
  if (rootMeta !== undefined) checkFileMeta('root.json (as the snapshot names it)', rootEnv.raw, rootMeta);

  const targetsMeta = snap.signed.meta.get('targets');
  if (targetsMeta === undefined) throw new FormatError('snapshot.json does not name targets');
  const targetsEnv = parseAs('targets.json', await readByMeta(source, 'targets', targetsMeta), 'Targets');
  await checkThreshold('targets', targetsEnv, root.keys, roleKeys(root, 'targets'));
  record('targets', targetsEnv, roleKeys(root, 'targets'));
  checkExpiry('targets', targetsEnv.signed, asOf);

  const roles: NotaryRoleInfo[] = [
    info('timestamp', ts.signed, roleKeys(root, 'timestamp')),
    info('snapshot', snap.signed, roleKeys(root, 'snapshot')),
    info('targets', targetsEnv.signed, roleKeys(root, 'targets')),
  ];
  const targets: NotaryTarget[] = targetsOf('targets', targetsEnv.signed, []);
  const failedRoles: NotaryRoleFailure[] = [];
  const unpublishedRoles: string[] = [];
  const seen = new Set<string>(['targets']);
  const maxRoles = opts.maxRoles ?? 1000;
  /** Delegations listed by each role that verified: tells a removed delegation from a failed one. */
  const delegatedBy = new Map<string, Set<string>>();

  // Pre-order walk of the delegations, as Notary's client walks them.
  const walk = async (
    parent: string,
    t: NotaryTargets,
    chain: readonly NotaryDelegation[],
  ): Promise<void> => {
    delegatedBy.set(parent, new Set(t.delegations.map((d) => d.name)));
    if (chain.length >= MAX_DELEGATION_DEPTH) return;
    for (const d of t.delegations) {
      if (seen.has(d.name)) continue;
      seen.add(d.name);
      try {
        checkNotaryRoleName(d.name);
        if (!d.name.startsWith(`${parent}/`) || d.name.slice(parent.length + 1).includes('/')) {
          throw new FormatError(`${parent} may delegate only to its direct children, not to ${d.name}`);
        }
        if (seen.size > maxRoles) throw new UsageError(`more than ${maxRoles} delegated roles`);
        const meta = snap.signed.meta.get(d.name);
        if (meta === undefined) {
          const before = recorded.get(d.name);
          if (before !== undefined) {
            // Still delegated, once published, now hidden (spec 5.5.5; see state.ts).
            throw new RollbackError(
              `${d.name} (version ${before.version} verified from ${source.description} before) is still delegated by ${parent} but no longer listed in snapshot version ${snap.signed.version}`,
            );
          }
          unpublishedRoles.push(d.name);
          continue;
        }
        const env = parseAs(`${d.name}.json`, await readByMeta(source, d.name, meta), 'Targets');
        await checkThreshold(d.name, env, t.delegationKeys, d);
        record(d.name, env, d);
        checkExpiry(d.name, env.signed, asOf);
        roles.push(info(d.name, env.signed, d));
        const sub = [...chain, d];
        targets.push(...targetsOf(d.name, env.signed, sub));
        await walk(d.name, env.signed, sub);
      } catch (e) {
        // Transport failures, and credentials withheld from a token realm, are not the role's fault.
        if (!(e instanceof TufError) || ['FETCH', 'TIMEOUT', 'CREDENTIALS_REFUSED'].includes(e.code)) throw e;
        failedRoles.push({ role: d.name, error: e });
      }
    }
  };
  await walk('targets', targetsEnv.signed, []);

  // Roles recorded before that did not verify now keep their record (never lowered), unless
  // their delegator verified now and no longer lists them (removed), or was itself forgotten.
  const earlier = [...recorded.values()].sort((a, b) => a.role.split('/').length - b.role.split('/').length);
  for (const r of earlier) {
    if (records.has(r.role) || !r.role.startsWith('targets/')) continue;
    const parent = r.role.slice(0, r.role.lastIndexOf('/'));
    const listed = delegatedBy.get(parent);
    const removed = listed !== undefined ? !listed.has(r.role) : !records.has(parent);
    if (!removed) records.set(r.role, r);
  }

  return {
    gun,
    source: source.description,
    asOf,
    trustAnchor: anchor,
    rootVersions: versions,
    root: { ...info('root', root, rootRole), certificates },
    roles,
    targets,
    failedRoles,
    unpublishedRoles,
    records,
  };
}
