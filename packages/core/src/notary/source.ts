/**
 * Where Notary metadata comes from: a notary-server (`/v2/GUN/_trust/tuf/…`) or a client's
 * trust directory (`TRUST_DIR/tuf/GUN/metadata/…`), both read through a core `Fetcher` with
 * bounded downloads (DESIGN rule 11).
 */
import { download, type Fetcher } from '../client/fetcher.js';
import { TufError, UnsafeNameError, UsageError } from '../errors.js';

/**
 * Where Notary v1 metadata is read from: a notary-server, a Docker trust cache directory, or any
 * `Fetcher`. Returns bytes only; the reader verifies them.
 */
export interface NotarySource {
  /** Where the data comes from, for messages and provenance (a URL or a directory). */
  readonly description: string;
  /** Whether `N.root.json` files exist (notary-server keeps every root version; a cache does not). */
  readonly versionedRoots: boolean;
  /** Whether files can be fetched by content hash as `ROLE.SHA256.json` (notary-server). */
  readonly hashedNames: boolean;
  /** The bytes of `name` (`root.json`, `2.root.json`, `targets/releases.HEX.json`…), or `undefined` if absent. */
  read(name: string, maxLength: number): Promise<Uint8Array | undefined>;
}

/** Delegation names Notary allows: `targets/` then clean segments of letters, digits, `-`, `_`, `.`. */
const ROLE_RE = /^targets(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;
const GUN_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * Throws UnsafeNameError unless `role` is `targets`, `root`, `snapshot`, `timestamp` or a clean
 * `targets/…` name.
 * @throws {@link errors!UnsafeNameError | UnsafeNameError} `role` is not a Notary role name.
 */
export function checkNotaryRoleName(role: string): string {
  const top = role === 'root' || role === 'snapshot' || role === 'timestamp';
  if (
    !top &&
    (!ROLE_RE.test(role) || role.split('/').some((s) => s === '.' || s === '..') || role.length > 255)
  ) {
    throw new UnsafeNameError(`not a Notary role name: ${JSON.stringify(role)}`);
  }
  return role;
}

/**
 * Throws UnsafeNameError unless `gun` is a plain repository name (`host[:port]/path/…`).
 * @throws {@link errors!UnsafeNameError | UnsafeNameError} `gun` is not a plain repository name.
 */
export function checkNotaryGun(gun: string): string {
  const segs = gun.split('/');
  if (
    gun.length === 0 ||
    gun.length > 255 ||
    segs.some((s) => !GUN_SEGMENT.test(s) || s === '..' || s === '.')
  ) {
    throw new UnsafeNameError(`not a repository name (GUN): ${JSON.stringify(gun)}`);
  }
  return gun;
}

function encodePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/**
 * `SERVER/v2/GUN/_trust/tuf/` for a notary-server base URL.
 * @throws {@link errors!UsageError | UsageError} `server` is not an http(s) URL.
 * @throws {@link errors!UnsafeNameError | UnsafeNameError} `gun` is not a plain repository name.
 */
export function notaryServerBaseUrl(server: string, gun: string): string {
  if (!/^https?:\/\//i.test(server))
    throw new UsageError(`expected an http(s) URL, found ${JSON.stringify(server)}`);
  return `${server.replace(/\/+$/, '')}/v2/${encodePath(checkNotaryGun(gun))}/_trust/tuf/`;
}

/** Options of `FetcherNotarySource`. */
export interface FetcherNotarySourceOptions {
  /** Milliseconds per file. Default 60 000. */
  timeoutMs?: number;
  /**
   * Whether `N.root.json` files exist (notary-server keeps every root version; a cache does not).
   */
  versionedRoots: boolean;
  /** Whether files can be fetched by content hash as `ROLE.SHA256.json` (notary-server). */
  hashedNames: boolean;
  description?: string;
}

/** A `NotarySource` over a `Fetcher` and a base URL ending in `/` (http(s) or file). */
export class FetcherNotarySource implements NotarySource {
  readonly description: string;
  readonly versionedRoots: boolean;
  readonly hashedNames: boolean;
  readonly #timeoutMs: number;

  /** @throws {@link errors!UsageError | UsageError} `baseUrl` does not end in `/`. */
  constructor(
    private readonly fetcher: Fetcher,
    private readonly baseUrl: string,
    options: FetcherNotarySourceOptions,
  ) {
    if (!baseUrl.endsWith('/')) throw new UsageError('the base URL must end with "/"');
    this.description = options.description ?? baseUrl;
    this.versionedRoots = options.versionedRoots;
    this.hashedNames = options.hashedNames;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * The file `name`, at most `maxLength` bytes, or undefined when the source does not have it.
   * @throws {@link errors!UnsafeNameError | UnsafeNameError} `name` is not a metadata file name.
   * @throws {@link errors!FetchError | FetchError} the transport failed.
   * @throws {@link errors!TimeoutError | TimeoutError} the file did not arrive in time.
   * @throws {@link errors!DownloadLimitError | DownloadLimitError} the file is longer than
   *   `maxLength`.
   */
  async read(name: string, maxLength: number): Promise<Uint8Array | undefined> {
    // Names are built by the reader from checked role names, versions and hex digests only.
    if (
      !/^[A-Za-z0-9_./-]+$/.test(name) ||
      name.split('/').some((s) => s === '..' || s === '.' || s === '')
    ) {
      throw new UnsafeNameError(`not a metadata file name: ${JSON.stringify(name)}`);
    }
    try {
      return await download(this.fetcher, `${this.baseUrl}${encodePath(name)}`, {
        maxLength,
        timeoutMs: this.#timeoutMs,
      });
    } catch (e) {
      if (e instanceof TufError && e.code === 'NOT_FOUND') return undefined;
      throw e;
    }
  }
}
