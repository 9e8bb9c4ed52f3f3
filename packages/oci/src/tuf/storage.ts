/**
 * `OciRepositoryStorage`: a `RepositoryStorage` whose metadata lives in an OCI registry, in the
 * layout of docs/tuf-in-oci.md. The publisher side of issue 14: `Repository`, `withRepository`
 * and the CLI write through it unchanged.
 *
 * - Each metadata file is a blob (the TUF bytes exactly) plus a manifest under its tag.
 * - Versioned files are immutable once published: before a PUT the tag is looked up (HEAD);
 *   the same manifest there already is a no-op; another one is a ConflictError (another
 *   publisher wrote that version) — unless it is an orphan of an interrupted publish (a version
 *   above what the committed timestamp and snapshot refer to, never a root), which the lease
 *   holder replaces.
 * - `timestamp.json` is the commit: written last by `Repository.publish`, and only after the
 *   lease is confirmed still ours.
 * - `lock()` takes the lease (lease.ts); its release first waits the settle delay and checks that
 *   every tag this publish wrote still names what it wrote — a publisher whose change was lost
 *   learns it as a ConflictError, which `withRepository` answers by re-applying the change.
 * - `metadata/root.json` gets no tag of its own (one mutable tag, timestamp, is the whole point):
 *   reading it finds the newest `N.root.json` by probing; writing it checks that versioned root.
 * - Target files are not stored: in a registry, the images are the targets. `write` and
 *   `writeStream` of `targets/…` are refused (UsageError).
 */
import {
  ConflictError,
  Metadata,
  type RepositoryStorage,
  StateError,
  safeJson,
  UnsafeNameError,
  UsageError,
} from '@tufa/core';
import { DEFAULT_MAX_BLOB_BYTES, RegistryClient, type RegistryClientOptions } from '../client.js';
import { MetadataTags, parseOciLocation, TUF_CLIENT_DEFAULTS } from './files.js';
import { acquireLease, confirmLease, type LeaseTiming, type PublishStep, releaseLease } from './lease.js';
import type { Lease } from './manifest.js';
import { type MetadataFile, metadataTag, parseMetadataFileName } from './tags.js';

export interface OciRepositoryStorageOptions {
  /** The registry client; it must ask for `pull,push` tokens. Default: a new one with `clientOptions`. */
  client?: RegistryClient;
  /** Options of the default client (`actions` is always `['pull', 'push']`; `retries` defaults to 3, `maxManifestBytes` to 64 KiB). */
  clientOptions?: Omit<RegistryClientOptions, 'actions'>;
  /** How long a publish lease holds, in ms. Default 120 000. */
  leaseTtlMs?: number;
  /** The settle delay between writing and reading back (lease, and after a commit), in ms. Default 2 000. */
  settleMs?: number;
  /** Bytes a metadata file read back may have. Default 16 MiB. */
  maxFileBytes?: number;
  /** The clock for lease expiry (ms since the epoch). Default `Date.now`. */
  now?: () => number;
  /** How to wait (tests pass one that does not). Default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Test hook, awaited before each step of a publish with the tag concerned: throwing simulates a
   * crash at that step, waiting simulates a stalled publisher.
   */
  beforeStep?: (step: PublishStep, tag: string) => Promise<void> | void;
}

const TARGETS_REFUSED =
  'target files are not stored in an OCI registry (there the images are the targets): sign image references, or publish target files to a directory';

interface Held {
  lease: Lease;
  /** Tag → manifest digest, for what this publish wrote (or found already written). */
  written: Map<string, string>;
  committed: boolean;
}

export class OciRepositoryStorage implements RepositoryStorage {
  readonly tags: MetadataTags;
  readonly #timing: LeaseTiming;
  readonly #maxFileBytes: number;
  #held: Held | undefined;

  /** `location`: `REGISTRY/REPOSITORY` (or `oci://REGISTRY/REPOSITORY`), where the metadata tags live. */
  constructor(location: string, options: OciRepositoryStorageOptions = {}) {
    const client =
      options.client ??
      new RegistryClient({ ...TUF_CLIENT_DEFAULTS, ...options.clientOptions, actions: ['pull', 'push'] });
    this.tags = new MetadataTags(client, parseOciLocation(location));
    const ttlMs = options.leaseTtlMs ?? 120_000;
    const settleMs = options.settleMs ?? 2_000;
    this.#maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_BLOB_BYTES;
    for (const [k, v, min] of [
      ['leaseTtlMs', ttlMs, 1],
      ['settleMs', settleMs, 0],
      ['maxFileBytes', this.#maxFileBytes, 1],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < min)
        throw new UsageError(`${k} must be an integer of at least ${min}, found ${v}`);
    }
    if (ttlMs <= 2 * settleMs) {
      throw new UsageError(`leaseTtlMs (${ttlMs}) must be more than twice settleMs (${settleMs})`);
    }
    const hook = options.beforeStep;
    this.#timing = {
      ttlMs,
      settleMs,
      now: options.now ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      beforeStep: async (step, tag) => {
        await hook?.(step, tag);
      },
    };
  }

  /** The file a storage path names; undefined for a target file (not stored here). */
  #file(path: string): MetadataFile | 'root.json' | undefined {
    if (path.startsWith('targets/')) return undefined;
    if (!path.startsWith('metadata/') || path.slice('metadata/'.length).includes('/')) {
      throw new UnsafeNameError(`expected a path metadata/NAME or targets/…, found ${safeJson(path, 0)}`);
    }
    const name = path.slice('metadata/'.length);
    if (name === 'root.json') return 'root.json';
    return parseMetadataFileName(name, (raw) => raw);
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    const file = this.#file(path);
    if (file === undefined) return undefined;
    if (file === 'root.json') {
      const latest = await this.latestRootVersion();
      return latest === undefined ? undefined : this.read(`metadata/${latest}.root.json`);
    }
    return (await this.tags.read(file, this.#maxFileBytes))?.bytes;
  }

  /**
   * The newest `N.root.json` in the registry: doubling probes, then a binary search (HEADs only;
   * root versions are consecutive from 1, spec 5.3). Undefined when there is no `1.root.json`.
   */
  async latestRootVersion(): Promise<number | undefined> {
    const exists = async (v: number) =>
      (await this.tags.head(metadataTag({ role: 'root', version: v }))) !== undefined;
    if (!(await exists(1))) return undefined;
    let low = 1;
    let high = 2;
    while (await exists(high)) {
      low = high;
      high *= 2;
    }
    while (high - low > 1) {
      const mid = low + Math.floor((high - low) / 2);
      if (await exists(mid)) low = mid;
      else high = mid;
    }
    return low;
  }

  async write(path: string, bytes: Uint8Array): Promise<void> {
    const file = this.#file(path);
    if (file === undefined) throw new UsageError(TARGETS_REFUSED);
    const held = this.#held;
    if (held === undefined) {
      throw new StateError(
        `${path}: metadata is written into a registry only under the publish lease (lock() first)`,
      );
    }
    if (file === 'root.json') {
      // The newest root has no tag of its own: the versioned one must hold these very bytes.
      const version = Metadata.fromBytes(bytes, 'root').signed.version;
      await this.write(`metadata/${version}.root.json`, bytes);
      return;
    }
    const tag = metadataTag(file);
    const digest = MetadataTags.manifestDigest(file, bytes);
    if (file.version === undefined) {
      await this.#timing.beforeStep('commit', tag);
      await confirmLease(this.tags, held.lease, this.#timing);
      held.written.set(tag, await this.tags.write(file, bytes));
      held.committed = true;
      return;
    }
    // Versioned names are immutable: a second writer of the same version finds the first one's.
    const existing = await this.tags.head(tag);
    if (existing === digest) {
      held.written.set(tag, digest);
      return;
    }
    if (existing !== undefined) {
      // Another writer's manifest (another implementation, other annotations) for the very same
      // bytes: the file is already there.
      const there = await this.tags.read(file, this.#maxFileBytes, { byDigest: existing });
      if (there !== undefined && sameBytes(there.bytes, bytes)) {
        held.written.set(tag, existing);
        return;
      }
    }
    if (existing !== undefined && file.role !== 'root' && (await this.#isOrphan(file))) {
      // Left by an interrupted publish: no committed timestamp refers to it, so no client can
      // have read it. Under the lease, it is replaced (else one crash would block every later
      // publish at the same version).
      await this.#timing.beforeStep('write', tag);
      held.written.set(tag, await this.tags.write(file, bytes));
      return;
    }
    if (existing !== undefined) {
      throw new ConflictError(
        `${this.tags.repository.name}:${tag} already holds another ${path.slice('metadata/'.length)} (another publisher published that version): open the repository again and re-apply the change`,
      );
    }
    await this.#timing.beforeStep('write', tag);
    held.written.set(tag, await this.tags.write(file, bytes));
  }

  /**
   * Whether versioned `file` is newer than what the committed repository (the timestamp tag now,
   * and its snapshot) refers to. Never asked for roots: clients probe N+1.root.json directly, so
   * a root is published the moment its tag exists.
   */
  async #isOrphan(file: MetadataFile & { version: number }): Promise<boolean> {
    const ts = await this.tags.read({ role: 'timestamp', version: undefined }, this.#maxFileBytes);
    if (ts === undefined) return true;
    const snapshotVersion = Metadata.fromBytes(ts.bytes, 'timestamp').signed.snapshotMeta.version;
    if (file.role === 'snapshot') return file.version > snapshotVersion;
    const sn = await this.tags.read({ role: 'snapshot', version: snapshotVersion }, this.#maxFileBytes);
    if (sn === undefined) return false;
    const listed = Metadata.fromBytes(sn.bytes, 'snapshot').signed.roleMeta(file.role)?.version;
    return listed === undefined || file.version > listed;
  }

  /** Refused: only metadata is stored, and metadata is never streamed. */
  async writeStream(path: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    void chunks;
    if (this.#file(path) === undefined) throw new UsageError(TARGETS_REFUSED);
    throw new UsageError(`${path}: metadata is written with write(), not streamed`);
  }

  /** Nothing is ever removed: versioned names are immutable. Missing files are fine (the interface's contract). */
  async remove(path: string): Promise<void> {
    if ((await this.read(path)) === undefined) return;
    throw new UsageError(`${path}: metadata in a registry is never removed (versioned names are immutable)`);
  }

  async lock(): Promise<() => Promise<void>> {
    if (this.#held !== undefined) throw new ConflictError('this storage is already publishing');
    const lease = await acquireLease(this.tags, this.#timing);
    const held: Held = { lease, written: new Map(), committed: false };
    this.#held = held;
    return async () => {
      this.#held = undefined;
      try {
        if (held.committed) await this.#verify(held);
      } finally {
        await releaseLease(this.tags, lease, this.#timing);
      }
    };
  }

  /** After the commit and a settle delay: every tag written must still name what was written. */
  async #verify(held: Held): Promise<void> {
    await this.#timing.sleep(this.#timing.settleMs);
    await this.#timing.beforeStep('verify', '');
    for (const [tag, digest] of held.written) {
      const now = await this.tags.head(tag);
      if (now !== digest) {
        throw new ConflictError(
          `another publisher overwrote ${this.tags.repository.name}:${tag} after this publish wrote it, so this change may be lost: open the repository again and re-apply it`,
        );
      }
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
