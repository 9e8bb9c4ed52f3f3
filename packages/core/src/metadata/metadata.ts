/**
 * The `Metadata` envelope: `signed` plus `signatures`, parsed strictly from bytes, verified by
 * threshold, signed with async signers, and serialised.
 */
import type { Key } from '../crypto/key.js';
import { Signature } from '../crypto/signature.js';
import type { Signer } from '../crypto/signer-type.js';
import { FormatError, ThresholdError, UsageError } from '../errors.js';
import { canonicalBytes } from '../json/canonical.js';
import { parseStrict } from '../json/strict.js';
import { type JsonObject, jsonObject, readArray, readField, readObject, unrecognized } from './fields.js';
import { ownFields } from './own.js';
import type { Role, SuccinctRoles } from './roles.js';
import { pythonJson } from './serialize.js';
import { type AnySigned, type RoleType, Root, Snapshot, Targets, Timestamp } from './signed.js';

/**
 * Maps a role type to its `signed` class, so `Metadata.fromBytes(bytes, 'root')` is typed
 * `Metadata<Root>`.
 */
export interface SignedByType {
  root: Root;
  timestamp: Timestamp;
  snapshot: Snapshot;
  targets: Targets;
}

/** Who signed a role's metadata, measured against the role's keys and threshold. */
export interface VerificationResult {
  role: string;
  threshold: number;
  /** Keyids of authorised keys whose signature verifies (one per distinct public key). */
  signed: string[];
  /** Keyids of authorised keys without a valid signature. */
  unsigned: string[];
  /** Whether `signed` reaches the threshold. */
  verified: boolean;
}

/**
 * How `Metadata.toBytes` lays out a file: python-tuf's indented form, its compact form, or TUF
 * canonical JSON.
 */
export type FileFormat = 'pretty' | 'compact' | 'canonical';

const ENVELOPE_FIELDS = ['signed', 'signatures'] as const;

/**
 * A metadata file: the `signed` role content and its `signatures` (spec 4.2). Parsed strictly from
 * bytes, it keeps the canonical form of the `signed` received, so signatures are checked over
 * exactly what was signed.
 */
export class Metadata<T extends AnySigned = AnySigned> {
  /** The role content: a `Root`, `Timestamp`, `Snapshot` or `Targets`. */
  readonly signed: T;
  /** By keyid, in the order received or added; a keyid appears at most once. */
  readonly signatures: Map<string, Signature>;
  readonly unrecognized: Readonly<JsonObject>;
  private signedBytesCache: Uint8Array | undefined;

  /** @throws {@link errors!FormatError | FormatError} two signatures share a keyid. */
  constructor(
    signed: T,
    signatures?: Iterable<Signature>,
    unrecognizedFields?: JsonObject,
    signedBytes?: Uint8Array,
  ) {
    this.signed = signed;
    this.signatures = new Map();
    for (const s of signatures ?? []) {
      if (this.signatures.has(s.keyid)) {
        throw new FormatError(`keyid ${s.keyid} signs more than once`, 'signatures');
      }
      this.signatures.set(s.keyid, s);
    }
    this.unrecognized = ownFields(unrecognizedFields, () => '$');
    this.signedBytesCache = signedBytes;
  }

  /**
   * Parses metadata bytes strictly. When `type` is given, `_type` must be that role type.
   * Signatures are later checked over the canonical form of exactly the `signed` received.
   * @throws {@link errors!FormatError | FormatError} the bytes are not strict TUF JSON, not a
   *   metadata file of `type`, or a field is invalid.
   */
  static fromBytes<K extends RoleType>(bytes: Uint8Array, type: K): Metadata<SignedByType[K]>;
  static fromBytes(bytes: Uint8Array): Metadata;
  static fromBytes(bytes: Uint8Array, type?: RoleType): Metadata {
    const { value, signedCanonical } = parseStrict(bytes);
    const o = readObject(value, '$');
    const signedValue = readObject(readField(o, 'signed', '$'), 'signed');
    const found = signedValue['_type'];
    const t = type ?? found;
    if (type !== undefined && found !== type) {
      throw new FormatError(
        `expected _type ${JSON.stringify(type)}, found ${JSON.stringify(found)}`,
        'signed._type',
      );
    }
    let signed: AnySigned;
    switch (t) {
      case 'root':
        signed = Root.fromJSON(signedValue);
        break;
      case 'timestamp':
        signed = Timestamp.fromJSON(signedValue);
        break;
      case 'snapshot':
        signed = Snapshot.fromJSON(signedValue);
        break;
      case 'targets':
        signed = Targets.fromJSON(signedValue);
        break;
      default:
        throw new FormatError(`unknown role type ${JSON.stringify(found)}`, 'signed._type');
    }
    const sigs = readArray(readField(o, 'signatures', '$'), 'signatures').map((s, i) =>
      Signature.fromJSON(s, `signatures[${i}]`),
    );
    return new Metadata(signed, sigs, unrecognized(o, ENVELOPE_FIELDS), signedCanonical);
  }

  /** The bytes signatures cover: the canonical form of `signed` (as received, when parsed). */
  signedBytes(): Uint8Array {
    this.signedBytesCache ??= canonicalBytes(this.signed.toJSON());
    return this.signedBytesCache;
  }

  /** Adds (or with `append: false`, replaces all signatures with) a signature by `signer`. */
  async sign(signer: Signer, options: { append?: boolean } = {}): Promise<Signature> {
    const sig = await signer.sign(this.signedBytes());
    if (options.append === false) this.signatures.clear();
    this.signatures.set(sig.keyid, sig);
    return sig;
  }

  /** The metadata file as JSON (`signatures` and `signed`), unknown fields re-emitted. */
  toJSON(): JsonObject {
    return jsonObject(
      { signatures: [...this.signatures.values()].map((s) => s.toJSON()), signed: this.signed.toJSON() },
      this.unrecognized,
    );
  }

  /** File bytes: python-tuf's layout by default (`pretty`), its compact form, or canonical JSON. */
  toBytes(format: FileFormat = 'pretty'): Uint8Array {
    if (format === 'canonical') {
      // The envelope's keys sort as "signatures" < "signed" (and any unknown fields); with none,
      // splice the signed bytes already computed instead of encoding 100k targets again.
      if (Object.keys(this.unrecognized).length > 0) return canonicalBytes(this.toJSON());
      const sigs = canonicalBytes([...this.signatures.values()].map((s) => s.toJSON()));
      const head = new TextEncoder().encode('{"signatures":');
      const mid = new TextEncoder().encode(',"signed":');
      const signed = this.signedBytes();
      const out = new Uint8Array(head.length + sigs.length + mid.length + signed.length + 1);
      out.set(head, 0);
      out.set(sigs, head.length);
      out.set(mid, head.length + sigs.length);
      out.set(signed, head.length + sigs.length + mid.length);
      out[out.length - 1] = 0x7d;
      return out;
    }
    return new TextEncoder().encode(pythonJson(this.toJSON(), format === 'pretty' ? 1 : 'compact'));
  }

  private delegation(roleName: string): { role: Role | SuccinctRoles; keys: ReadonlyMap<string, Key> } {
    const s = this.signed;
    if (s instanceof Root) {
      const role = s.roles.get(roleName as 'root');
      if (!role) throw new UsageError(`root does not define a role named ${JSON.stringify(roleName)}`);
      return { role, keys: s.keys };
    }
    if (s instanceof Targets) {
      const role = s.delegations?.getRole(roleName);
      if (!role || !s.delegations) {
        throw new UsageError(`targets version ${s.version} does not delegate to ${JSON.stringify(roleName)}`);
      }
      return { role, keys: s.delegations.keys };
    }
    throw new UsageError(`${s.type} metadata does not delegate to other roles`);
  }

  /**
   * Counts the distinct authorised public keys whose signature over `delegate` verifies (see
   * `verifyThreshold`). With `stopAtThreshold`, stops verifying once the threshold is met.
   * @throws {@link errors!UsageError | UsageError} this metadata does not delegate to `roleName`.
   */
  async delegateStatus(
    roleName: string,
    delegate: Metadata,
    options: { stopAtThreshold?: boolean } = {},
  ): Promise<VerificationResult> {
    const { role, keys } = this.delegation(roleName);
    return verifyThreshold(roleName, role, keys, delegate, options);
  }

  /**
   * Throws a ThresholdError unless `delegate` is signed by a threshold of `roleName`'s keys.
   * Spec 5.3.4, 5.4.2, 5.5.3, 5.6.3.
   * @throws {@link errors!ThresholdError | ThresholdError} too few distinct authorised keys signed
   *   `delegate`.
   * @throws {@link errors!UsageError | UsageError} this metadata does not delegate to `roleName`.
   */
  async verifyDelegate(roleName: string, delegate: Metadata): Promise<void> {
    const r = await this.delegateStatus(roleName, delegate, { stopAtThreshold: true });
    if (!r.verified) {
      throw new ThresholdError(
        `${roleName} version ${delegate.signed.version}: expected ${r.threshold} valid signature(s) from its keys, found ${r.signed.length}`,
      );
    }
  }
}

/**
 * Counts the distinct authorised public keys whose signature over `delegate` verifies
 * (DESIGN rule 5): a key listed twice, or one key under two keyids, counts once; keyids missing
 * from `keys` and keys of unknown type never count.
 */
export async function verifyThreshold(
  roleName: string,
  role: Role | SuccinctRoles,
  keys: ReadonlyMap<string, Key>,
  delegate: Metadata,
  options: { stopAtThreshold?: boolean } = {},
): Promise<VerificationResult> {
  const data = delegate.signedBytes();
  const materials = new Set<string>();
  const signed: string[] = [];
  const unsigned: string[] = [];
  for (const keyid of new Set(role.keyids)) {
    if (options.stopAtThreshold && materials.size >= role.threshold) break;
    const key = keys.get(keyid);
    const sig = delegate.signatures.get(keyid);
    const material = key?.materialId();
    if (material !== undefined && materials.has(material)) continue;
    if (key && sig && material !== undefined && (await key.verify(data, sig.sig))) {
      materials.add(material);
      signed.push(keyid);
    } else {
      unsigned.push(keyid);
    }
  }
  return {
    role: roleName,
    threshold: role.threshold,
    signed,
    unsigned,
    verified: materials.size >= role.threshold,
  };
}
