/**
 * A client of the trust server's write API, for the CLI's `--publish-to https://SERVER` (and any
 * tool that publishes): fetch or create a GUN's online keys, upload signed metadata. Reads go
 * through any TUF client with `BASE/<gun>/metadata/` as its metadata URL. Requests go through
 * the core's HttpFetcher (proxies, CA bundle, deadlines; the token only to the server's origin).
 */
import {
  ConflictError,
  DownloadLimitError,
  ExpiredError,
  type ExpiryPolicy,
  FetchError,
  FormatError,
  Key,
  MemoryRepositoryStorage,
  type Metadata,
  NotFoundError,
  parseJson,
  Repository,
  type RepositoryStorage,
  RollbackError,
  type Signer,
  StaleVersionError,
  ThresholdError,
  type TufError,
  UnsafeNameError,
  UsageError,
  ValueError,
  VersionMismatchError,
} from '@tufa/core';
import { HttpFetcher, type HttpResponse } from '@tufa/core/node';
import { checkGun } from './gun.js';
import type { OnlinePublicKeys, OnlineRole } from './online-keys.js';
import type { RoleVersions } from './service.js';

/** The largest answer read from the server. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** The largest metadata file read from the server. */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;

/**
 * What the publisher signs of the repository's staged changes: every role but snapshot and
 * timestamp (the server signs those). A role short of signatures is refused here, before the
 * upload.
 */
async function signedByPublisher(repo: Repository): Promise<{ role: string; metadata: Metadata }[]> {
  const { files, pending, prepared } = await repo.prepare({ allowPending: true });
  const short = pending.filter((p) => p.role !== 'snapshot' && p.role !== 'timestamp');
  if (short.length > 0) {
    throw new UsageError(
      `not enough signatures for ${short.map((p) => p.role).join(', ')}: the keys that would sign were not given`,
    );
  }
  return files
    .filter((f) => f.role !== 'snapshot' && f.role !== 'timestamp')
    .map((f) => ({ role: f.role, metadata: prepared.get(f.role) as Metadata }));
}

/**
 * A GUN on a trust server as a read-only `RepositoryStorage`: a `Repository` opened on it reads
 * the published state over HTTP and stages edits; `ServerClient.publish` uploads them. Writing
 * through it is refused: the server writes, after verifying.
 */
export class ServerRepositoryStorage implements RepositoryStorage {
  constructor(
    private readonly client: ServerClient,
    private readonly gun: string,
  ) {}
  read(path: string): Promise<Uint8Array | undefined> {
    return this.client.readFile(this.gun, path);
  }
  private refuse(): never {
    throw new UsageError(
      'a repository on a trust server is written by the server: publish with ServerClient.publish',
    );
  }
  async write(): Promise<void> {
    this.refuse();
  }
  async writeStream(): Promise<void> {
    this.refuse();
  }
  async remove(): Promise<void> {
    this.refuse();
  }
  async lock(): Promise<() => Promise<void>> {
    this.refuse();
  }
}

export interface ServerClientOptions {
  /** The server's base URL (`https://trust.example.com/`). */
  url: string;
  /** A bearer token (a static token, or one from the registry's token service). */
  token?: string;
  fetcher?: HttpFetcher;
}

/** The TufError a server's error answer stands for (by its code), for the caller to switch on. */
function errorFromAnswer(status: number, body: unknown): TufError {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = `the server refused the request (${status}): ${typeof e?.message === 'string' ? e.message : 'no reason given'}`;
  const current = (body as { current?: { role?: unknown; version?: unknown } }).current;
  switch (code) {
    case 'CONFLICT':
      return typeof current?.role === 'string' && typeof current.version === 'number'
        ? new StaleVersionError(message, current.role, current.version)
        : new ConflictError(message);
    case 'FORMAT':
      return new FormatError(message);
    case 'BAD_VALUE':
      return new ValueError(message);
    case 'THRESHOLD':
      return new ThresholdError(message);
    case 'EXPIRED':
      return new ExpiredError(message);
    case 'ROLLBACK':
      return new RollbackError(message);
    case 'VERSION_MISMATCH':
      return new VersionMismatchError(message);
    case 'UNSAFE_NAME':
      return new UnsafeNameError(message);
    case 'NOT_FOUND':
      return new NotFoundError(message, { status });
    case 'DOWNLOAD_LIMIT':
      return new DownloadLimitError(message);
    case 'USAGE':
      return new UsageError(message);
    default:
      return new FetchError(message, status);
  }
}

/** Calls the trust server's write API. */
export class ServerClient {
  private readonly base: string;
  private readonly token: string | undefined;
  private readonly fetcher: HttpFetcher;

  constructor(options: ServerClientOptions) {
    this.base = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.token = options.token;
    this.fetcher = options.fetcher ?? new HttpFetcher();
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    body?: Uint8Array,
  ): Promise<Record<string, unknown>> {
    const signal = AbortSignal.timeout(120_000);
    const res: HttpResponse = await this.fetcher.request(`${this.base}${path}`, {
      method,
      accept: 'application/json',
      signal,
      ...(this.token ? { headers: { Authorization: `Bearer ${this.token}` } } : {}),
      ...(body ? { body: { contentType: 'application/json', bytes: body } } : {}),
    });
    const bytes = await res.read(MAX_ANSWER_BYTES);
    let parsed: unknown;
    try {
      parsed = parseJson(bytes);
    } catch {
      parsed = undefined;
    }
    if (res.status !== 200) throw errorFromAnswer(res.status, parsed);
    if (typeof parsed !== 'object' || parsed === null) {
      throw new FetchError(`the server answered ${res.status} without a JSON object`, res.status);
    }
    return parsed as Record<string, unknown>;
  }

  /**
   * The GUN's online snapshot and timestamp keys, to put into root; with `create`, the server
   * generates them the first time.
   */
  async onlineKeys(gun: string, options: { create?: boolean } = {}): Promise<OnlinePublicKeys> {
    const answer = await this.call(options.create ? 'POST' : 'GET', `${checkGun(gun)}/keys`);
    const list = Array.isArray(answer.keys) ? answer.keys : [];
    const get = (role: string): Key => {
      const entry = list.find((k: { role?: unknown }) => k?.role === role) as { key?: unknown } | undefined;
      if (!entry) throw new FormatError(`the server's answer has no ${role} key`);
      return Key.fromJSON(entry.key, `keys.${role}`);
    };
    return { snapshot: get('snapshot'), timestamp: get('timestamp') };
  }

  /**
   * Asks the server for the next key of an online role (it keeps the current one meanwhile).
   * Name it in a new root — `repo.rotateKeys(role, { add: [key], remove: [old keyid] })` in
   * `publish` with the root keys as signers — to start using it; the server then destroys the
   * key it replaced.
   */
  async rotateOnlineKey(gun: string, role: OnlineRole): Promise<Key> {
    const answer = await this.call('POST', `${checkGun(gun)}/keys/${role}`);
    return Key.fromJSON(answer.key, 'key');
  }

  /**
   * Uploads new versions of roles (root, targets, delegated roles), all or nothing.
   * @throws {StaleVersionError} another publisher's version is already there: re-read and sign again.
   * @throws {TufError} the server's refusal, by its code (THRESHOLD, EXPIRED, …).
   */
  async upload(
    gun: string,
    roles: readonly { role: string; metadata: Metadata | Uint8Array }[],
  ): Promise<RoleVersions> {
    const body = {
      roles: roles.map(({ role, metadata }) => ({
        role,
        metadata: Buffer.from(metadata instanceof Uint8Array ? metadata : metadata.toBytes()).toString(
          'base64',
        ),
      })),
    };
    const answer = await this.call(
      'POST',
      `${checkGun(gun)}/metadata`,
      new TextEncoder().encode(JSON.stringify(body)),
    );
    return (answer.versions as RoleVersions) ?? [];
  }

  /**
   * Uploads what `repo` (opened on this server's GUN, through `ServerRepositoryStorage`) has
   * staged: every changed role but snapshot and timestamp, which the server signs. Nothing
   * staged, nothing sent (and no versions).
   * @throws {UsageError} a changed role is short of signatures (its keys were not given).
   * @throws {StaleVersionError} another publisher's version is already there: open and edit again.
   */
  async uploadChanges(gun: string, repo: Repository): Promise<RoleVersions> {
    const roles = await signedByPublisher(repo);
    return roles.length === 0 ? [] : this.upload(gun, roles);
  }

  /**
   * A file of the GUN's published repository (`metadata/…`), or undefined when the server has
   * none.
   */
  async readFile(gun: string, path: string): Promise<Uint8Array | undefined> {
    const m = /^metadata\/([^/]+)$/.exec(path);
    if (!m) throw new UsageError(`the server serves metadata/<file> only, not ${JSON.stringify(path)}`);
    const res = await this.fetcher.request(
      `${this.base}${checkGun(gun)}/metadata/${encodeURIComponent(m[1] as string)}`,
      {
        accept: 'application/json',
        signal: AbortSignal.timeout(120_000),
        ...(this.token ? { headers: { Authorization: `Bearer ${this.token}` } } : {}),
      },
    );
    if (res.status === 404) {
      res.close();
      return undefined;
    }
    if (res.status !== 200) {
      const bytes = await res.read(MAX_ANSWER_BYTES).catch(() => new Uint8Array());
      let parsed: unknown;
      try {
        parsed = parseJson(bytes);
      } catch {
        parsed = undefined;
      }
      throw errorFromAnswer(res.status, parsed);
    }
    return res.read(MAX_METADATA_BYTES);
  }

  /**
   * Creates the GUN on the server: asks for its online keys, makes root version 1 (root and
   * targets keys given, snapshot and timestamp the server's) and an empty targets version 1,
   * signs both with `signers`, and uploads them.
   * @throws {UsageError} `signers` do not reach the root or targets threshold.
   */
  async create(
    gun: string,
    init: {
      keys: { root: Key[]; targets: Key[] };
      thresholds?: { root?: number; targets?: number };
      signers: Iterable<Signer>;
      expiry?: Partial<ExpiryPolicy>;
    },
  ): Promise<RoleVersions> {
    const online = await this.onlineKeys(gun, { create: true });
    const repo = await Repository.create(new MemoryRepositoryStorage(), {
      keys: { ...init.keys, snapshot: [online.snapshot], timestamp: [online.timestamp] },
      ...(init.thresholds ? { thresholds: init.thresholds } : {}),
      signers: init.signers,
      ...(init.expiry ? { expiry: init.expiry } : {}),
    });
    return this.upload(gun, await signedByPublisher(repo));
  }

  /**
   * Applies `edit` to the GUN as the server now has it, signs what changed with `signers`, and
   * uploads it; when another publisher got there first (a stale upload), does it all again from
   * the new state, up to `attempts` times (default 3). `edit` must be safe to run more than once.
   */
  async publish<T>(
    gun: string,
    options: {
      signers: Iterable<Signer>;
      expiry?: Partial<ExpiryPolicy>;
      attempts?: number;
      /** A root this publisher pinned: the server's root chain is verified from it (ADR 0032). */
      trustedRoot?: Uint8Array;
    },
    edit: (repo: Repository) => Promise<T>,
  ): Promise<{ versions: RoleVersions; result: T }> {
    const signers = [...options.signers];
    const attempts = options.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      // What the server serves is verified before anything is signed over it (ADR 0032).
      const repo = await Repository.open(new ServerRepositoryStorage(this, gun), {
        signers,
        ...(options.expiry ? { expiry: options.expiry } : {}),
        ...(options.trustedRoot ? { trustedRoot: options.trustedRoot } : {}),
      });
      const result = await edit(repo);
      const roles = await signedByPublisher(repo);
      if (roles.length === 0) return { versions: [], result };
      try {
        return { versions: await this.upload(gun, roles), result };
      } catch (e) {
        if (!(e instanceof StaleVersionError) || attempt >= attempts) throw e;
      }
    }
  }

  /** The metadata base URL of a GUN, for a TUF client. */
  metadataUrl(gun: string): string {
    return `${this.base}${checkGun(gun)}/metadata/`;
  }
}
