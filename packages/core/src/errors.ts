/**
 * The one error tree of tufa. Every package re-exports these; only the CLI turns them into
 * exit codes and prose. Each error carries a stable string `code` that callers may switch on,
 * and a `category` that says what kind of failure it is without a table of codes:
 *
 * - `untrusted`: data was refused by verification (signatures, versions, hashes, expiry,
 *   format, unsafe names). Never retry it into acceptance; report it.
 * - `transport`: the data could not be obtained (network, timeout, a server error, credentials
 *   withheld from a token realm). Retrying later may help; nothing was trusted.
 * - `not-found`: the server has no such file, or no trusted role signs such a target.
 * - `local`: this machine's state (files, keys, locks, a concurrent writer).
 * - `usage`: the caller passed something the API does not accept.
 * - `cancelled`: the caller's AbortSignal fired; nothing was trusted that had not verified.
 *
 * Every class constructs exactly one code (its `code` and `instanceof` agree); construct the
 * specific class, never `new TufError(code, …)` for a code that has one.
 */

/**
 * The stable string code every `TufError` carries; callers switch on it, and it never changes
 * meaning between releases.
 */
export type TufErrorCode =
  | 'FORMAT' // bytes or fields are not valid TUF metadata
  | 'BAD_VALUE' // a well-formed value that TUF forbids (threshold 0, negative length, …)
  | 'THRESHOLD' // not enough valid signatures from authorised keys
  | 'EXPIRED' // metadata expired at the reference time
  | 'ROLLBACK' // a version lower than the trusted one
  | 'VERSION_MISMATCH' // a version other than the one the parent role names
  | 'LENGTH_OR_HASH' // bytes do not match the length or hashes the parent role names
  | 'UNSUPPORTED_KEY' // a key type or scheme tufa cannot use
  | 'UNSUPPORTED_HASH' // no hash algorithm tufa knows of
  | 'CRYPTO_BACKEND' // this runtime's crypto cannot do an operation tufa needs
  | 'DOWNLOAD_LIMIT' // more bytes than allowed were sent
  | 'FETCH' // the transport failed
  | 'NOT_FOUND' // the server has no such file, or no such target is signed
  | 'TIMEOUT' // a deadline passed
  | 'UNSAFE_NAME' // a role or target name that could escape a directory or URL
  | 'STATE' // an operation the current state does not allow (e.g. no trusted root)
  | 'STORAGE' // a local file could not be read or written
  | 'KEY' // a private key could not be used (wrong passphrase, bad key file)
  | 'CONFLICT' // a concurrent writer changed what we opened
  | 'ROOT_NOT_IN_CHAIN' // a root given out of band is not one this client cache ever accepted
  | 'CREDENTIALS_REFUSED' // credentials were not sent: the place asking for them is not trusted with them
  | 'ABORTED' // the caller's AbortSignal fired
  | 'USAGE'; // the caller passed something the API does not accept

/**
 * The kind of failure an error is (see the top of this module): untrusted data, transport, not
 * found, local state, usage or cancellation. Lets a caller decide whether to retry without a table
 * of codes.
 */
export type ErrorCategory = 'untrusted' | 'transport' | 'not-found' | 'local' | 'usage' | 'cancelled';

const CATEGORY: Readonly<Record<TufErrorCode, ErrorCategory>> = {
  FORMAT: 'untrusted',
  BAD_VALUE: 'untrusted',
  THRESHOLD: 'untrusted',
  EXPIRED: 'untrusted',
  ROLLBACK: 'untrusted',
  VERSION_MISMATCH: 'untrusted',
  LENGTH_OR_HASH: 'untrusted',
  // Metadata whose keys or hashes tufa cannot check cannot be trusted either.
  UNSUPPORTED_KEY: 'untrusted',
  UNSUPPORTED_HASH: 'untrusted',
  DOWNLOAD_LIMIT: 'untrusted',
  UNSAFE_NAME: 'untrusted',
  ROOT_NOT_IN_CHAIN: 'untrusted',
  FETCH: 'transport',
  TIMEOUT: 'transport',
  CREDENTIALS_REFUSED: 'transport',
  NOT_FOUND: 'not-found',
  STATE: 'local',
  CRYPTO_BACKEND: 'local',
  STORAGE: 'local',
  KEY: 'local',
  CONFLICT: 'local',
  USAGE: 'usage',
  ABORTED: 'cancelled',
};

/** The category of an error code (see the top of this module). */
export function errorCategory(code: TufErrorCode): ErrorCategory {
  return CATEGORY[code];
}

/**
 * The root of the error tree: every error tufa throws on purpose is one of its subclasses. Carries
 * a stable `code`, a `category` and, where another error led to it, a `cause`.
 */
export class TufError extends Error {
  /** The stable code of this error; each subclass constructs exactly one. */
  readonly code: TufErrorCode;

  /** What kind of failure this is: untrusted data, transport, not found, local state or usage. */
  get category(): ErrorCategory {
    return CATEGORY[this.code];
  }

  constructor(code: TufErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bytes or fields that are not valid TUF metadata. `path` names the field, e.g. `signed.keys.ab12.keyval`. */
export class FormatError extends TufError {
  readonly path: string | undefined;
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super('FORMAT', path === undefined ? message : `${path}: ${message}`, options);
    this.path = path;
  }
}

/**
 * A well-formed value that TUF forbids: a threshold below 1, a negative length or version, an empty
 * role name.
 */
export class ValueError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_VALUE', message, options);
  }
}

/**
 * Too few distinct keys authorised for a role produced a valid signature over it (spec 5.3.4,
 * 5.4.2, 5.5.3, 5.6.3). Each key counts once, whatever its keyids (DESIGN rule 5).
 */
export class ThresholdError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('THRESHOLD', message, options);
  }
}

/**
 * Metadata expired at the reference time the caller passed in (spec 5.3.10, 5.4.4, 5.5.6, 5.6.5).
 * Expired means `now >= expires`.
 */
export class ExpiredError extends TufError {
  /**
   * The role that expired (`timestamp`, `snapshot`, `targets`, a delegated role, `root`), when
   * known: who has to act differs — an expired timestamp means the publisher's re-signing job
   * stopped, an expired root needs the root key holders.
   */
  readonly role: string | undefined;
  constructor(message: string, role?: string) {
    super('EXPIRED', message);
    this.role = role;
  }
}

/**
 * A version lower than the one already trusted: a root, timestamp, snapshot or targets file that
 * would take the client back in time (spec 5.3.5, 5.4.3, 5.5.5).
 */
export class RollbackError extends TufError {
  constructor(message: string) {
    super('ROLLBACK', message);
  }
}

/**
 * A file whose version is not the one its parent role names: the snapshot version in timestamp, or
 * a targets version in snapshot (spec 5.5.4, 5.6.4), or an `N.root.json` that is not version N.
 */
export class VersionMismatchError extends TufError {
  constructor(message: string) {
    super('VERSION_MISMATCH', message);
  }
}

/**
 * Bytes that do not match the length or the hashes the parent role names for them (spec 5.5.2,
 * 5.6.2, 5.7.3).
 */
export class LengthOrHashError extends TufError {
  constructor(message: string) {
    super('LENGTH_OR_HASH', message);
  }
}

/**
 * A key type or signature scheme tufa cannot use. Metadata signed only with such keys cannot be
 * trusted.
 */
export class UnsupportedKeyError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNSUPPORTED_KEY', message, options);
  }
}

/** A `hashes` object naming no hash algorithm tufa knows of, so nothing could be checked. */
export class UnsupportedHashError extends TufError {
  constructor(message: string) {
    super('UNSUPPORTED_HASH', message);
  }
}

/**
 * The runtime's crypto library cannot do what tufa asked (an algorithm missing from its
 * WebCrypto, no `crypto.subtle` outside a secure context). Not a verdict on the data: nothing
 * was verified, so nothing was trusted, and a bad signature is never reported this way.
 */
export class CryptoBackendError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CRYPTO_BACKEND', message, options);
  }
}

/**
 * More bytes arrived than the metadata's `length`, or than the configured maximum, allow
 * (endless-data attack; counted on the bytes actually read, DESIGN rule 11).
 */
export class DownloadLimitError extends TufError {
  constructor(message: string) {
    super('DOWNLOAD_LIMIT', message);
  }
}

/** The transport failed: no connection, a cut-short body, an HTTP error other than not-found. */
export class FetchError extends TufError {
  /** The HTTP status, when the failure was an HTTP answer. */
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('FETCH', message, options);
    this.status = status;
  }
}

/** The server has no such file (`status` set), or no trusted role signs such a target. */
export class NotFoundError extends TufError {
  /** The HTTP status, when the failure was an HTTP answer. */
  readonly status: number | undefined;
  constructor(message: string, options?: { status?: number; cause?: unknown }) {
    super('NOT_FOUND', message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = options?.status;
  }
}

/**
 * The error for an HTTP answer that is not a success: NotFoundError for 404 and 410, and for 403,
 * which object stores (S3, GCS) send for a missing object when the reader may not list the
 * bucket — so a missing `N.root.json` behind such a store still ends the root walk (spec 5.3.3).
 * FetchError for anything else.
 */
export function httpStatusError(message: string, status: number, options?: { cause?: unknown }): TufError {
  if (status === 404 || status === 410 || status === 403) {
    return new NotFoundError(message, {
      status,
      ...(options?.cause !== undefined ? { cause: options.cause } : {}),
    });
  }
  return new FetchError(message, status, options);
}

/** A deadline passed: a download, a token exchange or a lock wait took longer than allowed. */
export class TimeoutError extends TufError {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

/**
 * A role or target name that could escape a directory or URL once it becomes a file name (`..`,
 * `/`, `\`, an absolute path; DESIGN rule 9), or a path under a written directory that crosses a
 * symlink (rule 14).
 */
export class UnsafeNameError extends TufError {
  constructor(message: string) {
    super('UNSAFE_NAME', message);
  }
}

/**
 * An operation the current state does not allow: no trusted root yet, a role asked for before the
 * one it depends on was loaded, a repository that is not initialised.
 */
export class StateError extends TufError {
  constructor(message: string) {
    super('STATE', message);
  }
}

/**
 * A local file could not be read or written (the cache, a repository's storage, a key file's
 * directory).
 */
export class StorageError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORAGE', message, options);
  }
}

/**
 * A private key could not be used: a wrong passphrase, a damaged key file, a signer whose key does
 * not match.
 */
export class KeyError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KEY', message, options);
  }
}

/**
 * A concurrent writer changed what this process had opened (a repository edited since it was
 * loaded), so the change was not written over theirs.
 */
export class ConflictError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFLICT', message, options);
  }
}

/**
 * Credentials were withheld from a token realm the credential policy refuses (DESIGN rule 12).
 * The message names the realm's host and the server's host, never a secret.
 */
export class CredentialsRefusedError extends TufError {
  /** A `CredentialRefusal` of the credential policy, e.g. `realm-host`. */
  readonly refusal: string;
  /** The host the user named, to which credentials may go. */
  readonly serverHost: string | undefined;
  /** The host of the token realm that asked for them and was refused. */
  readonly realmHost: string | undefined;
  constructor(
    message: string,
    refusal: string,
    serverHost: string | undefined,
    realmHost: string | undefined,
  ) {
    super('CREDENTIALS_REFUSED', message);
    this.refusal = refusal;
    this.serverHost = serverHost;
    this.realmHost = realmHost;
  }
}

/**
 * A repository's publish lock is held: by a running publisher (`running`), or by one whose state
 * cannot be checked from this process (`unknown`: another host or boot, no /proc); only a person
 * may remove the latter.
 */
export class PublishLockedError extends ConflictError {
  /** The lock file, for the hint that tells a person which file to inspect. */
  readonly lockPath: string;
  /** Whether the holder is known to be running, or could not be checked. */
  readonly holderState: 'running' | 'unknown';
  constructor(message: string, lockPath: string, holderState: 'running' | 'unknown') {
    super(message);
    this.lockPath = lockPath;
    this.holderState = holderState;
  }
}

/**
 * Metadata signed elsewhere is based on an older state: its version is not above the version
 * the repository already has for that role (two publishers raced, and the other one won).
 * Re-read the repository, re-apply the change and sign again.
 */
export class StaleVersionError extends ConflictError {
  /** The role whose upload is stale. */
  readonly role: string;
  /** The role's version in the repository now. */
  readonly current: number;
  constructor(message: string, role: string, current: number) {
    super(message);
    this.role = role;
    this.current = current;
  }
}

/** The caller's AbortSignal fired (its `reason`, when an Error, is the `cause`). */
export class AbortedError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}

/**
 * The caller passed something the API does not accept (an option out of range, a name the policy
 * refuses). Fix the call; retrying does not help.
 */
export class UsageError extends TufError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** Which rule of the tag-name policy (`checkTagName`) a name breaks. */
export type TagNameRule =
  | 'empty'
  | 'too-long' // more than 255 bytes of UTF-8
  | 'leading-slash'
  | 'backslash'
  | 'dot-segment' // a `.` or `..` segment between slashes
  | 'control-character' // C0 (U+0000–U+001F), DEL or C1 (U+0080–U+009F)
  | 'format-character' // Unicode category Cf: bidi overrides and isolates, zero-width characters
  | 'line-separator' // U+2028, U+2029: line breaks to a terminal
  | 'lone-surrogate'; // not a Unicode string at all

/**
 * A tag (target name) that signing refuses. `rule` names the rule broken; `position` is the
 * 1-based character (code point) position of the offending character, when there is one.
 * The message shows the name with every invisible or control character escaped, never raw.
 */
export class TagNameError extends UsageError {
  /** The rule the name breaks. */
  readonly rule: TagNameRule;
  /** 1-based code-point position of the offending character, when there is one. */
  readonly position: number | undefined;
  constructor(rule: TagNameRule, message: string, position?: number) {
    super(message);
    this.rule = rule;
    this.position = position;
  }
}

/**
 * A root obtained out of band (`--root`) is not in the chain of roots a pinned client cache
 * accepted: another repository, or one re-created since. Never resolved by trusting it.
 */
export class RootNotInChainError extends TufError {
  constructor(message: string) {
    super('ROOT_NOT_IN_CHAIN', message);
  }
}

/**
 * A file tufa keeps for itself (a repository's `config.json`, the trust pins under
 * `$TUFA_HOME/trust`) is not in the form tufa writes: edited by hand, truncated or planted.
 * `file` is its path and `field` the JSON path of what is wrong (`""` for the whole file).
 */
export class CorruptStateError extends StorageError {
  /** Path of the file that is not in the form tufa writes. */
  readonly file: string;
  /** JSON path of what is wrong in it (`""` for the whole file). */
  readonly field: string;
  constructor(file: string, field: string, message: string, options?: { cause?: unknown }) {
    super(`${file}${field ? ` (${field})` : ''}: ${message}`, options);
    this.file = file;
    this.field = field;
  }
}

/**
 * Whether `e` is one of tufa's errors, for code that catches `unknown` and wants the `code` and
 * `category` narrowed.
 */
export function isTufError(e: unknown): e is TufError {
  return e instanceof TufError;
}

/**
 * Whether `e` (or what caused it, a few levels down) is the TLS library refusing a server's
 * certificate: untrusted (a private CA), self-signed, expired, or for another name. Such a server
 * does speak TLS: callers give a hint (`--ca`) instead of treating it as an unreachable host.
 */
export function isCertificateError(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && /CERT|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|SELF_SIGNED/.test(code)) {
      return true;
    }
  }
  return false;
}
