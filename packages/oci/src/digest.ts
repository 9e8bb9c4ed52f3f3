/**
 * Content digests as the OCI image specification defines them (descriptor.md, "Digests"):
 * `algorithm ":" encoded`. tufa computes and compares the two registered algorithms only:
 * `sha256` (64 lower-case hex digits) and `sha512` (128). Anything else is refused rather than
 * trusted unchecked.
 */
import { createHash } from 'node:crypto';
import { UnsupportedHashError, UsageError } from '@tufa/core';

export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = { sha256: 64, sha512: 128 };

/** The OCI grammar of a digest, before tufa's narrower check: `algorithm ":" encoded`. */
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Why `text` is not a digest tufa accepts, or undefined when it is one. */
export function digestProblem(text: string): string | undefined {
  if (!DIGEST_GRAMMAR.test(text)) {
    return 'expected "sha256:" and 64 lower-case hex digits (or "sha512:" and 128)';
  }
  const algorithm = text.slice(0, text.indexOf(':'));
  const encoded = text.slice(algorithm.length + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    return `unsupported digest algorithm ${JSON.stringify(algorithm)} (expected sha256 or sha512)`;
  }
  const n = HEX_LENGTH[algorithm];
  if (encoded.length !== n || !/^[0-9a-f]+$/.test(encoded)) {
    return `expected ${n} lower-case hex digits after "${algorithm}:"`;
  }
  return undefined;
}

/** Whether `text` is a `sha256:` or `sha512:` digest in canonical form. */
export function isDigest(text: string): boolean {
  return digestProblem(text) === undefined;
}

/**
 * Checks a digest the caller was given (a flag, an API argument): UsageError naming what was
 * expected. Unsupported algorithms are UnsupportedHashError.
 */
export function checkDigest(text: string, what = 'digest'): string {
  const problem = digestProblem(text);
  if (problem === undefined) return text;
  if (problem.startsWith('unsupported')) throw new UnsupportedHashError(`${what}: ${problem}`);
  throw new UsageError(`invalid ${what} ${JSON.stringify(text)}: ${problem}`);
}

/** The algorithm of a digest already checked. */
export function digestAlgorithm(digest: string): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

/** `algorithm:hex` of `bytes`. */
export function computeDigest(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}
