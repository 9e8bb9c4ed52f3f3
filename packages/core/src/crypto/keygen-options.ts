/**
 * What a key kind and generation options mean (internal), shared by `generateKeyPair` (the Node
 * flavour) and `MemorySigner.generate` (portable), so both refuse the same input the same way.
 */
import { UsageError } from '../errors.js';
import type { Algorithm, KeyGenOptions } from './backend.js';
import type { KeyKind } from './key.js';

const ALGORITHM_OF: ReadonlyMap<string, Algorithm> = new Map([
  ['ed25519', 'ed25519'],
  ['ecdsa-p256', 'ecdsa-p256'],
  ['ecdsa-p384', 'ecdsa-p384'],
  ['rsa', 'rsassa-pss-sha256'],
]);

/** securesystemslib's default RSA size. */
export const DEFAULT_RSA_BITS = 3072;

/**
 * The backend algorithm for `kind` and the validated options.
 * @throws UsageError an unknown kind, or for RSA `rsaBits` outside 2048–16384.
 */
export function keyGenRequest(
  kind: KeyKind,
  opts: { rsaBits?: number | undefined; extractable?: boolean | undefined },
): { algorithm: Algorithm; options: KeyGenOptions } {
  const algorithm = typeof kind === 'string' ? ALGORITHM_OF.get(kind) : undefined;
  if (algorithm === undefined) {
    throw new UsageError(
      `unknown key kind ${String(kind)} (expected ed25519, ecdsa-p256, ecdsa-p384 or rsa)`,
    );
  }
  const rsaBits = opts.rsaBits ?? DEFAULT_RSA_BITS;
  // Below 2048 bits tufa would not verify the key (key.ts); above 16384 generation takes minutes.
  // Only RSA reads it, as before this was shared.
  if (
    algorithm === 'rsassa-pss-sha256' &&
    (!Number.isSafeInteger(rsaBits) || rsaBits < 2048 || rsaBits > 16384)
  ) {
    throw new UsageError(`rsaBits must be an integer from 2048 to 16384 (got ${rsaBits})`);
  }
  return { algorithm, options: { rsaBits, extractable: opts.extractable ?? false } };
}
