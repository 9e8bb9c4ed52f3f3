/**
 * Exit codes, documented in docs/cli.md. Scripts and CI jobs branch on these; they never change
 * meaning once released.
 */
import type { TufErrorCode } from '@tufa/core/errors';

export const EXIT = {
  OK: 0,
  /** Something unexpected (a bug, or an error with no better code). */
  FAILURE: 1,
  /** The command line was wrong. */
  USAGE: 2,
  /** Verification failed: bad signature or threshold, expired, rolled back, malformed metadata. */
  UNTRUSTED: 3,
  /** The signed digest is not the one given with --digest. */
  DIGEST_MISMATCH: 4,
  /** No such tag, repository, key or file. */
  NOT_FOUND: 5,
  /** A key, passphrase, PIN or token could not be used (or credentials were withheld from a token realm). */
  KEY: 6,
  /** Reading, writing or fetching failed (disk, network, timeout). */
  IO: 7,
  /** Another publisher changed the repository at the same time; run the command again. */
  CONFLICT: 8,
  /** `tufa status --check`: a role is expired or expires within its warning period. */
  EXPIRING: 9,
} as const;

const BY_CODE: Record<TufErrorCode, number> = {
  FORMAT: EXIT.UNTRUSTED,
  BAD_VALUE: EXIT.UNTRUSTED,
  THRESHOLD: EXIT.UNTRUSTED,
  EXPIRED: EXIT.UNTRUSTED,
  ROLLBACK: EXIT.UNTRUSTED,
  VERSION_MISMATCH: EXIT.UNTRUSTED,
  LENGTH_OR_HASH: EXIT.UNTRUSTED,
  UNSUPPORTED_HASH: EXIT.UNTRUSTED,
  UNSAFE_NAME: EXIT.UNTRUSTED,
  ROOT_NOT_IN_CHAIN: EXIT.UNTRUSTED,
  DOWNLOAD_LIMIT: EXIT.UNTRUSTED,
  UNSUPPORTED_KEY: EXIT.KEY,
  KEY: EXIT.KEY,
  CREDENTIALS_REFUSED: EXIT.KEY,
  NOT_FOUND: EXIT.NOT_FOUND,
  FETCH: EXIT.IO,
  TIMEOUT: EXIT.IO,
  STORAGE: EXIT.IO,
  CONFLICT: EXIT.CONFLICT,
  STATE: EXIT.FAILURE,
  // The runtime's crypto cannot do the operation: not a verdict on the data, and no I/O.
  CRYPTO_BACKEND: EXIT.FAILURE,
  USAGE: EXIT.USAGE,
  ABORTED: EXIT.FAILURE,
};

export function exitCodeFor(code: TufErrorCode): number {
  return BY_CODE[code] ?? EXIT.FAILURE;
}

/**
 * The name of an exit code (`USAGE`, `NOT_FOUND`, …): the `code` of an error the CLI raises
 * itself when nothing more specific applies, so `--json` never reports `code: null`.
 */
export function exitName(exitCode: number): string {
  for (const [name, value] of Object.entries(EXIT)) if (value === exitCode) return name;
  return 'FAILURE';
}
