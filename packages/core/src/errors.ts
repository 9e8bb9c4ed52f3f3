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

export class TufError extends Error {
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

export class ValueError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_VALUE', message, options);
  }
}

export class ThresholdError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('THRESHOLD', message, options);
  }
}

export class ExpiredError extends TufError {
  constructor(message: string) {
    super('EXPIRED', message);
  }
}

export class RollbackError extends TufError {
  constructor(message: string) {
    super('ROLLBACK', message);
  }
}

export class VersionMismatchError extends TufError {
  constructor(message: string) {
    super('VERSION_MISMATCH', message);
  }
}

export class LengthOrHashError extends TufError {
  constructor(message: string) {
    super('LENGTH_OR_HASH', message);
  }
}

export class UnsupportedKeyError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNSUPPORTED_KEY', message, options);
  }
}

export class UnsupportedHashError extends TufError {
  constructor(message: string) {
    super('UNSUPPORTED_HASH', message);
  }
}

export class DownloadLimitError extends TufError {
  constructor(message: string) {
    super('DOWNLOAD_LIMIT', message);
  }
}

/** The transport failed: no connection, a cut-short body, an HTTP error other than not-found. */
export class FetchError extends TufError {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('FETCH', message, options);
    this.status = status;
  }
}

/** The server has no such file (`status` set), or no trusted role signs such a target. */
export class NotFoundError extends TufError {
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

export class TimeoutError extends TufError {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

export class UnsafeNameError extends TufError {
  constructor(message: string) {
    super('UNSAFE_NAME', message);
  }
}

export class StateError extends TufError {
  constructor(message: string) {
    super('STATE', message);
  }
}

export class StorageError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORAGE', message, options);
  }
}

export class KeyError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KEY', message, options);
  }
}

export class ConflictError extends TufError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/**
 * Credentials were withheld from a token realm the credential policy refuses (DESIGN rule 12).
 * The message names the realm's host and the server's host, never a secret.
 */
export class CredentialsRefusedError extends TufError {
  /** A `CredentialRefusal` of the credential policy, e.g. `realm-host`. */
  readonly refusal: string;
  readonly serverHost: string | undefined;
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
  readonly lockPath: string;
  readonly holderState: 'running' | 'unknown';
  constructor(message: string, lockPath: string, holderState: 'running' | 'unknown') {
    super(message);
    this.lockPath = lockPath;
    this.holderState = holderState;
  }
}

/** The caller's AbortSignal fired (its `reason`, when an Error, is the `cause`). */
export class AbortedError extends TufError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}

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
  readonly rule: TagNameRule;
  readonly position: number | undefined;
  constructor(rule: TagNameRule, message: string, position?: number) {
    super(message);
    this.rule = rule;
    this.position = position;
  }
}

/**
 * A file tufa keeps for itself (a repository's `config.json`, the trust pins under
 * `$TUFA_HOME/trust`) is not in the form tufa writes: edited by hand, truncated or planted.
 * `file` is its path and `field` the JSON path of what is wrong (`""` for the whole file).
 */
/**
 * A root obtained out of band (`--root`) is not in the chain of roots a pinned client cache
 * accepted: another repository, or one re-created since. Never resolved by trusting it.
 */
export class RootNotInChainError extends TufError {
  constructor(message: string) {
    super('ROOT_NOT_IN_CHAIN', message);
  }
}

export class CorruptStateError extends StorageError {
  readonly file: string;
  readonly field: string;
  constructor(file: string, field: string, message: string, options?: { cause?: unknown }) {
    super(`${file}${field ? ` (${field})` : ''}: ${message}`, options);
    this.file = file;
    this.field = field;
  }
}

export function isTufError(e: unknown): e is TufError {
  return e instanceof TufError;
}
