/**
 * An in-memory TUF repository that is also a Fetcher, so attack scenarios are written as data:
 * edit the plain `signed` objects, choose who signs, publish, and point an Updater at it.
 * It signs canonical bytes directly (not through the model), so it can serve anything,
 * including metadata the model would refuse to build.
 */
import type { Fetcher, FetchRequest } from '../../src/client/fetcher.js';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { FetchError, NotFoundError } from '../../src/errors.js';
import { canonicalBytes } from '../../src/json/canonical.js';
import { fixedSigner } from './keys.js';

export type Json = Record<string, any>;
export const METADATA_URL = 'https://repo.test/metadata/';
export const TARGETS_URL = 'https://repo.test/targets/';
export const FAR_FUTURE = '2100-01-01T00:00:00Z';
const enc = new TextEncoder();

let nextSeed = 1;
export function newSigner(): PrivateKeySigner {
  return fixedSigner(nextSeed++ % 250);
}

export class Simulator implements Fetcher {
  /** Signers per role name: the keys each role's metadata is signed with on publish. */
  readonly signers = new Map<string, PrivateKeySigner[]>();
  root: Json;
  timestamp: Json;
  snapshot: Json;
  targets: Json;
  readonly delegated = new Map<string, Json>();
  /** Served files, by path under the base URLs: `metadata/1.root.json`, `targets/a/HASH.b`. */
  readonly files = new Map<string, Uint8Array>();
  readonly requests: string[] = [];
  /** Make a response never end (endless data) or fail, by path. */
  readonly misbehave = new Map<string, 'endless' | 'drop' | 'stall'>();

  constructor(options: { consistentSnapshot?: boolean } = {}) {
    const common = { spec_version: '1.0.31', version: 1, expires: FAR_FUTURE };
    this.root = {
      _type: 'root',
      ...common,
      consistent_snapshot: options.consistentSnapshot ?? true,
      keys: {},
      roles: {},
    };
    for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
      this.root.roles[role] = { keyids: [], threshold: 1 };
      this.addKey(role, newSigner());
    }
    this.targets = { _type: 'targets', ...common, targets: {} };
    this.snapshot = { _type: 'snapshot', ...common, meta: { 'targets.json': { version: 1 } } };
    this.timestamp = { _type: 'timestamp', ...common, meta: { 'snapshot.json': { version: 1 } } };
  }

  get consistent(): boolean {
    return this.root.consistent_snapshot === true;
  }

  /** Authorises `signer` for a top-level role in root and signs that role with it from now on. */
  addKey(role: string, signer: PrivateKeySigner): void {
    this.root.keys[signer.keyid] = signer.key.toJSON();
    this.root.roles[role].keyids.push(signer.keyid);
    this.signers.set(role, [...(this.signers.get(role) ?? []), signer]);
  }

  /** Replaces every key of a top-level role with `signer`. */
  rotateKey(role: string, signer: PrivateKeySigner): void {
    this.root.roles[role].keyids = [];
    this.signers.set(role, []);
    this.addKey(role, signer);
  }

  /** Signs `signed` with `signers` into file bytes (pretty JSON, as repositories serve them). */
  async sign(signed: Json, signers: readonly PrivateKeySigner[]): Promise<Uint8Array> {
    const data = canonicalBytes(signed);
    const signatures = [];
    for (const s of signers) signatures.push((await s.sign(data)).toJSON());
    return enc.encode(JSON.stringify({ signatures, signed }, null, 1));
  }

  /** Publishes the current root as `VERSION.root.json`, signed by `signers` (default: the root role's). */
  async publishRoot(signers?: readonly PrivateKeySigner[]): Promise<Uint8Array> {
    const bytes = await this.sign(this.root, signers ?? this.signers.get('root') ?? []);
    this.files.set(`metadata/${this.root.version}.root.json`, bytes);
    return bytes;
  }

  /** The bytes of a published root version (what a client is initialised with). */
  rootBytes(version = 1): Uint8Array {
    const b = this.files.get(`metadata/${version}.root.json`);
    if (!b) throw new Error(`root version ${version} was not published`);
    return b;
  }

  private roleFile(role: string, version: number): string {
    const segment = encodeURIComponent(role).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
    return this.consistent ? `metadata/${version}.${segment}.json` : `metadata/${segment}.json`;
  }

  /**
   * Signs and publishes targets (and the named delegated roles), snapshot and timestamp, with
   * snapshot meta versions (and, when `hashes`, lengths and sha256) taken from what it publishes.
   */
  async publish(options: { roles?: string[]; hashes?: boolean; bump?: boolean } = {}): Promise<void> {
    const { createHash } = await import('node:crypto');
    const describe = (bytes: Uint8Array, version: number) =>
      options.hashes
        ? {
            version,
            length: bytes.length,
            hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
          }
        : { version };
    const publishRole = async (name: string, signed: Json) => {
      const bytes = await this.sign(signed, this.signers.get(name) ?? []);
      this.files.set(this.roleFile(name, signed.version), bytes);
      this.snapshot.meta[`${name}.json`] = describe(bytes, signed.version);
    };
    await publishRole('targets', this.targets);
    for (const name of options.roles ?? [...this.delegated.keys()]) {
      const d = this.delegated.get(name);
      if (d) await publishRole(name, d);
    }
    const sn = await this.sign(this.snapshot, this.signers.get('snapshot') ?? []);
    this.files.set(
      this.consistent ? `metadata/${this.snapshot.version}.snapshot.json` : 'metadata/snapshot.json',
      sn,
    );
    this.timestamp.meta['snapshot.json'] = describe(sn, this.snapshot.version);
    this.files.set(
      'metadata/timestamp.json',
      await this.sign(this.timestamp, this.signers.get('timestamp') ?? []),
    );
  }

  /** Adds a target to a targets role (top-level by default) and serves its bytes. */
  async addTarget(path: string, content: string | Uint8Array, role = 'targets'): Promise<void> {
    const { createHash } = await import('node:crypto');
    const bytes = typeof content === 'string' ? enc.encode(content) : content;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const signed = role === 'targets' ? this.targets : this.delegated.get(role);
    if (!signed) throw new Error(`no role ${role}`);
    signed.targets[path] = { length: bytes.length, hashes: { sha256 } };
    const slash = path.lastIndexOf('/');
    const served = this.consistent ? `${path.slice(0, slash + 1)}${sha256}.${path.slice(slash + 1)}` : path;
    this.files.set(`targets/${served}`, bytes);
  }

  /** Delegates from `delegator` to a new role `name` with its own fresh key. */
  delegate(
    delegator: string,
    name: string,
    init: { paths?: string[]; path_hash_prefixes?: string[]; terminating?: boolean; threshold?: number } = {
      paths: ['*'],
    },
  ): PrivateKeySigner {
    const parent = delegator === 'targets' ? this.targets : this.delegated.get(delegator);
    if (!parent) throw new Error(`no role ${delegator}`);
    const signer = newSigner();
    parent.delegations ??= { keys: {}, roles: [] };
    parent.delegations.keys[signer.keyid] = signer.key.toJSON();
    parent.delegations.roles.push({
      name,
      keyids: [signer.keyid],
      threshold: init.threshold ?? 1,
      terminating: init.terminating ?? false,
      ...(init.path_hash_prefixes
        ? { path_hash_prefixes: init.path_hash_prefixes }
        : { paths: init.paths ?? ['*'] }),
    });
    if (!this.delegated.has(name)) {
      this.delegated.set(name, {
        _type: 'targets',
        spec_version: '1.0.31',
        version: 1,
        expires: FAR_FUTURE,
        targets: {},
      });
      this.signers.set(name, [signer]);
    }
    return signer;
  }

  async *fetch(url: string, _request: FetchRequest): AsyncIterable<Uint8Array> {
    let path: string;
    if (url.startsWith(METADATA_URL)) path = `metadata/${url.slice(METADATA_URL.length)}`;
    else if (url.startsWith(TARGETS_URL)) path = `targets/${url.slice(TARGETS_URL.length)}`;
    else throw new FetchError(`unexpected URL ${url}`);
    this.requests.push(path);
    const how = this.misbehave.get(path);
    if (how === 'drop') throw new FetchError(`${url}: connection closed`);
    if (how === 'stall') {
      await new Promise(() => {});
    }
    if (how === 'endless') {
      const chunk = new Uint8Array(65536).fill(0x20);
      for (;;) yield chunk;
    }
    const bytes = this.files.get(path);
    if (!bytes) throw new NotFoundError(`${url}: 404`, { status: 404 });
    yield bytes;
  }
}
