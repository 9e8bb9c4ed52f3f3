/** The signer interface (portable: the repository signs through it on any runtime). */
import type { Key } from './key.js';
import type { Signature } from './signature.js';

/**
 * Anything that can sign for a key: a private key in memory, an HSM, a KMS. Asynchronous because
 * those are; the repository only ever calls `sign` over canonical bytes.
 */
export interface Signer {
  /** The public key that verifies this signer's signatures. */
  readonly key: Key;
  /** The keyid put in signatures (the key's id in the metadata that lists it). */
  readonly keyid: string;
  /** Signs `data` (the canonical bytes of a `signed` object) and returns the signature object. */
  sign(data: Uint8Array): Promise<Signature>;
}
