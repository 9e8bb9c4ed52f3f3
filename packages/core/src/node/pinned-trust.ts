/**
 * Trust pinning for a client cache on disk (ADR 0009): how the first root is trusted, the chain of
 * every root accepted since, and refusing a root from outside that chain. `tufa verify` and any
 * library user (a registry's client, a CI plugin) get the same rules from one call.
 *
 * Layout of the directory (one per server and repository; the caller chooses it):
 *   DIR/metadata/*.json   the trusted metadata (an FsMetadataStore)
 *   DIR/chain.json        root version → sha256 of the exact root file accepted, written last on a
 *                         first use: a directory with metadata but no chain is an unfinished first
 *                         use, cleared before pinning again.
 *   DIR/checked-keys.json the Ed25519 keys of the trusted root that passed the public-key check
 *                         (DESIGN rule 5) here before, so a later run does not compute it again
 *                         (see `rememberCheckedKeys`).
 */
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { download, type Fetcher } from '../client/fetcher.js';
import type { MetadataStore } from '../client/store.js';
import { DEFAULT_LIMITS, Updater, type UpdaterLimits } from '../client/updater.js';
import { hexDigest } from '../crypto/hash.js';
import { equalBytes } from '../crypto/hex.js';
import { ed25519KnownUsable, rememberEd25519Usable } from '../crypto/key.js';
import { CorruptStateError, RootNotInChainError, TufError, UsageError } from '../errors.js';
import { parseJson } from '../json/strict.js';
import { rootFileName } from '../metadata/layout.js';
import { Metadata } from '../metadata/metadata.js';
import type { Root } from '../metadata/signed.js';
import { showTagName } from '../repository/tag-name.js';
import { ensureDir, errorCode, storageError, writeFileAtomic } from './atomic.js';
import { FsMetadataStore } from './fs-store.js';

/** Root version → lower-case hex sha256 of the root file as received. */
export type TrustChain = ReadonlyMap<number, string>;

/** How the trusted root of this refresh came to be trusted. */
export type RootSource =
  /** Pinned on an earlier use of this directory. */
  | 'pinned'
  /** Pinned now, from the root the caller obtained out of band. */
  | 'given'
  /** Pinned now, from the server's own `1.root.json` (the caller asked for unsafe first use). */
  | 'unsafe-first-use';

/**
 * Options of `PinnedTrust.refresh`: where the repository is, how to fetch it, and an optional root
 * obtained out of band.
 */
export interface PinnedRefreshOptions {
  /** Base URL of the metadata, ending in `/`. */
  metadataBaseUrl: string;
  /** Base URL of the targets, ending in `/`. */
  targetBaseUrl?: string;
  /** The transport. */
  fetcher: Fetcher;
  /** A root obtained out of band (e.g. `--root`): pins trust on first use, else must be in the chain. */
  root?: Uint8Array;
  /**
   * With nothing pinned and no `root`, trust the server's `1.root.json`. Anyone who controls the
   * server or the network on this first use chooses what is trusted from then on.
   */
  unsafeTrustOnFirstUse?: boolean;
  /** Overrides of the updater's `DEFAULT_LIMITS`. */
  limits?: Partial<UpdaterLimits>;
  /** The clock, read once per refresh (spec 5.1). Defaults to the system clock. */
  now?: () => Date;
}

/** What `PinnedTrust.refresh` did: the refreshed updater, and whether and how trust was pinned. */
export interface PinnedRefreshResult {
  /** An updater whose `refresh()` has completed (spec 5.3–5.6), ready for `getTargetInfo`. */
  updater: Updater;
  /** True when trust was pinned by this call. */
  firstUse: boolean;
  /** Where the root trust started from on this call. */
  rootSource: RootSource;
}

const VERSION = /^[1-9][0-9]{0,15}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const enc = new TextEncoder();

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${showTagName(v.slice(0, 80))}`;
  return typeof v;
}

/**
 * Parses `chain.json` strictly into a Map (versions are never properties of a plain object,
 * DESIGN rule 4); anything else is a CorruptStateError naming the file and the entry.
 * @throws {@link errors!CorruptStateError | CorruptStateError} the file is not a chain tufa wrote.
 */
export function parseTrustChain(bytes: Uint8Array, file: string): Map<number, string> {
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
  const chain = new Map<number, string>();
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
        `expected the sha256 of a root file (64 lower-case hex digits), found ${describeJson(value)}`,
      );
    }
    chain.set(version, value);
  }
  return chain;
}

/** The file form of a chain: versions in ascending order. */
export function trustChainToBytes(chain: TrustChain): Uint8Array {
  const doc = Object.fromEntries([...chain].sort(([a], [b]) => a - b).map(([v, h]) => [String(v), h]));
  return enc.encode(`${JSON.stringify(doc, null, 1)}\n`);
}

const CHECKED_KEYS = 'checked-keys.json';

/** The Ed25519 public keys (lower-case hex) a root lists, sorted. */
function ed25519KeysOf(root: Root): string[] {
  const out = new Set<string>();
  for (const k of root.keys.values()) {
    if (k.keytype === 'ed25519' && typeof k.keyval.public === 'string') out.add(k.keyval.public);
  }
  return [...out].sort();
}

/**
 * The keys a `checked-keys.json` lists; an unreadable or malformed file lists none (the check then
 * runs, as without the file: nothing is trusted because of what it lacks).
 */
function parseCheckedKeys(bytes: Uint8Array | undefined): Set<string> {
  if (!bytes) return new Set();
  try {
    const doc = parseJson(bytes);
    if (!Array.isArray(doc)) return new Set();
    return new Set(doc.filter((x): x is string => typeof x === 'string'));
  } catch {
    return new Set();
  }
}

/**
 * Records every root the updater persists, so the chain of trust is known later. `rootRead` is
 * the stored root as `PinnedTrust.refresh` has just read it: the updater's first read of the root
 * gets those bytes instead of reading the file a second time (nothing writes it in between).
 */
class ChainRecordingStore implements MetadataStore {
  constructor(
    private readonly inner: FsMetadataStore,
    private readonly chain: Map<number, string>,
    private rootRead: Uint8Array | undefined,
  ) {}
  read(role: string) {
    if (role === 'root' && this.rootRead !== undefined) {
      const bytes = this.rootRead;
      this.rootRead = undefined;
      return Promise.resolve(bytes);
    }
    return this.inner.read(role);
  }
  async write(role: string, bytes: Uint8Array) {
    if (role === 'root') {
      this.rootRead = undefined;
      // Recorded before the write: a root on disk is always in the chain written after it.
      this.chain.set(Metadata.fromBytes(bytes, 'root').signed.version, hexDigest('sha256', bytes));
    }
    return this.inner.write(role, bytes);
  }
  remove(role: string) {
    if (role === 'root') this.rootRead = undefined;
    return this.inner.remove(role);
  }
}

/**
 * Trust pinned per repository in a directory (`$TUFA_HOME/trust/…`): the client cache plus the
 * chain of every root it accepted, so a root given later out of band is accepted only if it is one
 * of them (`RootNotInChainError` otherwise).
 */
export class PinnedTrust {
  /** The directory, absolute. */
  readonly dir: string;
  readonly #chain: Map<number, string>;
  /** Whether chain.json existed when opened (a pinned directory always has one). */
  readonly #hasChain: boolean;
  /**
   * The bytes chain.json holds, as far as this object knows (read at open, or last written): a
   * refresh that accepted no new root writes nothing, so a warm `tufa verify` in a CI job makes
   * no write and no fsync at all.
   */
  #saved: Uint8Array | undefined;
  readonly #store: FsMetadataStore;

  private constructor(dir: string, chain: Map<number, string>, saved: Uint8Array | undefined) {
    this.dir = dir;
    this.#chain = chain;
    this.#hasChain = saved !== undefined;
    this.#saved = saved;
    this.#store = new FsMetadataStore(join(dir, 'metadata'));
  }

  /**
   * Opens `dir` (reading only): a corrupt `chain.json` is a CorruptStateError, never an empty
   * chain.
   * @throws {@link errors!CorruptStateError | CorruptStateError} `chain.json` or the stored root is
   *   not in the form tufa writes.
   */
  static async open(dir: string): Promise<PinnedTrust> {
    const abs = resolve(dir);
    const path = join(abs, 'chain.json');
    let bytes: Uint8Array | undefined;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') throw storageError('read', path, e);
    }
    return new PinnedTrust(abs, bytes ? parseTrustChain(bytes, path) : new Map(), bytes);
  }

  /** Every root version accepted here → sha256 of its bytes. */
  get chain(): TrustChain {
    return this.#chain;
  }

  /** The file holding the chain. */
  get chainPath(): string {
    return join(this.dir, 'chain.json');
  }

  /** The metadata store of the pinned client cache. */
  get store(): FsMetadataStore {
    return this.#store;
  }

  /**
   * Pins trust if this is the first use, refreshes (spec 5.3–5.6) and records every root
   * accepted. Throws RootNotInChainError for a given root this directory never accepted,
   * UsageError when nothing is pinned and no root is given, and whatever the refresh throws.
   * @throws {@link errors!RootNotInChainError | RootNotInChainError} `options.root` is not a root
   *   this directory accepted.
   * @throws {@link errors!UsageError | UsageError} nothing is pinned, no root is given and trust on
   *   first use is not allowed.
   * @throws {@link errors!TufError | TufError} whatever `Updater.refresh` throws.
   */
  async refresh(options: PinnedRefreshOptions): Promise<PinnedRefreshResult> {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const given = options.root;
    const givenVersion = given ? Metadata.fromBytes(given, 'root').signed.version : undefined;
    const cached = this.#hasChain ? await this.#store.read('root') : undefined;
    let checkedBefore: string[] = [];
    if (cached) checkedBefore = await this.#rememberCheckedKeys(this.#cachedRoot(cached).signed);
    else await this.#clear(); // an unfinished first use (or nothing): start clean

    let rootSource: RootSource = 'pinned';
    let checkGivenAfterRefresh = false;
    if (cached) {
      if (given && givenVersion !== undefined) {
        // A root given with a cache must be in the chain this directory holds: checked now when
        // the chain already reached its version, else after the refresh has walked to it.
        if (givenVersion > this.#newestVersion()) checkGivenAfterRefresh = true;
        else this.#checkInChain(given, givenVersion);
      }
    } else if (given) {
      await this.#pin(given);
      rootSource = 'given';
    } else if (options.unsafeTrustOnFirstUse === true) {
      const bytes = await download(options.fetcher, options.metadataBaseUrl + rootFileName(1), {
        maxLength: limits.rootMaxLength,
        timeoutMs: limits.timeoutMs,
      });
      await this.#pin(bytes);
      rootSource = 'unsafe-first-use';
    } else {
      throw new UsageError(
        `no trusted root is pinned in ${this.dir} (expected a root obtained out of band for the first use, found none)`,
      );
    }
    const firstUse = rootSource !== 'pinned';

    const updater = new Updater({
      metadataBaseUrl: options.metadataBaseUrl,
      ...(options.targetBaseUrl !== undefined ? { targetBaseUrl: options.targetBaseUrl } : {}),
      fetcher: options.fetcher,
      store: new ChainRecordingStore(this.#store, this.#chain, cached),
      limits,
      ...(options.now ? { now: options.now } : {}),
    });
    try {
      await updater.refresh();
    } catch (e) {
      // Roots the refresh verified stay trusted (DESIGN principle 3), except on a first use that
      // failed: then nothing stays pinned, so a run with the right root starts afresh.
      if (firstUse) await this.#clear();
      else await this.#saveChain();
      throw e;
    }
    await this.#saveChain();
    if (checkGivenAfterRefresh && given && givenVersion !== undefined)
      this.#checkInChain(given, givenVersion);
    const root = updater.trustedSet?.root.signed;
    if (root) await this.#saveCheckedKeys(root, checkedBefore);
    return { updater, firstUse, rootSource };
  }

  #newestVersion(): number {
    let n = 0;
    for (const v of this.#chain.keys()) n = Math.max(n, v);
    return n;
  }

  #checkInChain(given: Uint8Array, version: number): void {
    const recorded = this.#chain.get(version);
    const found = hexDigest('sha256', given);
    if (recorded !== found) {
      throw new RootNotInChainError(
        `the given root (version ${version}) is not in the chain of trust pinned in ${this.dir} (expected ${
          recorded
            ? `sha256 ${recorded}`
            : `a root version this directory accepted (1 to ${this.#newestVersion()})`
        }, found sha256 ${found})`,
      );
    }
  }

  /**
   * Why remembering the Ed25519 public-key check here is sound. The check (DESIGN rule 5: no
   * small-order key, no torsion component) is a pure function of the key's 32 bytes, and costs a
   * JIT-cold `tufa verify` about 2–5 ms per key, on every run, for the same three or four keys.
   * - Only keys the cached trusted root lists are taken from the file, and only as "passed": a key
   *   that failed is never written, so it is checked again on every run.
   * - The file lives beside the trusted root and chain.json, in the same 0700 directory, and is
   *   written (atomically, 0600) only by this code after a refresh whose keys were checked in the
   *   process. Whoever can write it can replace the trusted root and the chain themselves, which
   *   already decides everything this directory trusts: the file gives no one a power they lack.
   * - Keys delegated below the top-level roles, and every key of a root this directory has not
   *   trusted yet (a first use, the next root of a rotation), are checked as before.
   * Returns the keys remembered (the file's content as far as it counts).
   */
  async #rememberCheckedKeys(root: Root): Promise<string[]> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = new Uint8Array(await readFile(join(this.dir, CHECKED_KEYS)));
    } catch {
      return []; // none yet (or unreadable): every key is checked
    }
    const listed = parseCheckedKeys(bytes);
    const remembered = ed25519KeysOf(root).filter((k) => listed.has(k));
    for (const k of remembered) rememberEd25519Usable(k);
    return remembered;
  }

  /** Records the keys of `root` that passed the check, when they differ from what was remembered. */
  async #saveCheckedKeys(root: Root, before: readonly string[]): Promise<void> {
    const passed = ed25519KeysOf(root).filter(ed25519KnownUsable);
    if (passed.length === before.length && passed.every((k, i) => k === before[i])) return;
    await writeFileAtomic(join(this.dir, CHECKED_KEYS), enc.encode(`${JSON.stringify(passed, null, 1)}\n`), {
      mode: 0o600,
    });
  }

  /** The cached root must be root metadata; anything else is corrupt local state. */
  #cachedRoot(bytes: Uint8Array): Metadata<Root> {
    try {
      return Metadata.fromBytes(bytes, 'root');
    } catch (e) {
      if (!(e instanceof TufError)) throw e;
      throw new CorruptStateError(this.#store.pathFor('root'), '', `not root metadata (${e.message})`, {
        cause: e,
      });
    }
  }

  /** First use: the root must parse strictly and meet its own root threshold (spec 5.2). */
  async #pin(bytes: Uint8Array): Promise<void> {
    const md = Metadata.fromBytes(bytes, 'root');
    await md.verifyDelegate('root', md);
    await FsMetadataStore.initialize(this.#store.dir, bytes, { overwrite: true });
    this.#chain.clear();
    this.#chain.set(md.signed.version, hexDigest('sha256', bytes));
  }

  /** Writes chain.json when its content changes (a first use, a root accepted), else nothing. */
  async #saveChain(): Promise<void> {
    const bytes = trustChainToBytes(this.#chain);
    if (this.#saved !== undefined && equalBytes(this.#saved, bytes)) return;
    await ensureDir(this.dir, 0o700);
    await writeFileAtomic(this.chainPath, bytes, { mode: 0o600 });
    this.#saved = bytes;
  }

  /** Removes what a first use writes (the chain first, so a crash leaves an unfinished first use). */
  async #clear(): Promise<void> {
    this.#chain.clear();
    this.#saved = undefined;
    for (const path of [this.chainPath, this.#store.dir, join(this.dir, CHECKED_KEYS)]) {
      try {
        await rm(path, { recursive: true, force: true });
      } catch (e) {
        throw storageError('remove', path, e);
      }
    }
  }
}
