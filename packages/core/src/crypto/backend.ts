/**
 * The crypto backend seam (internal; ADR 0022). Everything tufa asks of a crypto library goes
 * through this interface, so one validation layer (key.ts, spki.ts) sits on top of whichever
 * library the runtime offers:
 *
 * - `node-backend.ts`: node:crypto (OpenSSL), measured fastest on Node (ADR 0003);
 * - `web-backend.ts`: WebCrypto (`crypto.subtle`) for signatures, `@noble/hashes` for the
 *   incremental SHA-2 that WebCrypto lacks, `@noble/ed25519` where an engine lacks Ed25519.
 *
 * package.json `imports` maps `#crypto-backend` to one of them by export condition, so the choice
 * is made by the resolver, with no code run at import and no `node:` module in a browser bundle.
 *
 * Both halves of TUF's crypto are here: verifying (the client) and signing with, generating and
 * exporting private keys (the repository side, on any runtime: `MemorySigner`).
 */
import type { HashAlgorithm } from './hash-algorithm.js';

/** What tufa can verify with; one per supported keytype/scheme combination. */
export type Algorithm = 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'rsassa-pss-sha256';

/** Incremental hashing, synchronous: metadata-sized inputs and streamed chunks alike. */
export interface HashState {
  update(chunk: Uint8Array): void;
  /** Finishes the hash; the state is not used again. */
  digest(): Uint8Array;
}

/** Public key material already validated by spki.ts / key.ts (the backend trusts its shape). */
export interface PublicKeyMaterial {
  readonly algorithm: Algorithm;
  /** SubjectPublicKeyInfo DER; for Ed25519 built from the raw key (RFC 8410). */
  readonly spki: Uint8Array;
  /** Ed25519: the 32 raw bytes; ECDSA: the uncompressed point 04‖X‖Y; RSA: unused (empty). */
  readonly raw: Uint8Array;
  /** RSA: modulus and public exponent (for the PSS salt-length recovery of the web backend). */
  readonly rsa?: { readonly n: bigint; readonly e: bigint; readonly modulusBits: number };
}

/**
 * A private key as the backend that made or imported it holds it: a node `KeyObject`, a WebCrypto
 * `CryptoKey`, or (an engine without Ed25519 in WebCrypto) noble's seed. Opaque to everything but
 * that backend, which refuses a key of another kind.
 */
export interface PrivateKeyHandle {
  readonly algorithm: Algorithm;
  readonly key: unknown;
}

/** Options of `CryptoBackend.generateKeyPair`, already validated (keygen-options.ts). */
export interface KeyGenOptions {
  /** RSA modulus length in bits. */
  readonly rsaBits: number;
  /**
   * Whether the private key may be exported (WebCrypto: `extractable`). node:crypto keys always
   * can be: the Node flavour writes them to key files.
   */
  readonly extractable: boolean;
}

/** A new key pair: the private key for `sign`, the public key as SubjectPublicKeyInfo DER. */
export interface GeneratedKeyMaterial {
  readonly privateKey: PrivateKeyHandle;
  readonly spki: Uint8Array;
}

/**
 * A crypto library. `verify` resolves `false` for a signature that does not verify and rejects
 * only when the library itself cannot do the operation (an algorithm missing, no `crypto.subtle`
 * in an insecure context); key.ts turns that into a CryptoBackendError, never a bad signature.
 *
 * Signatures arrive and leave in TUF's encoding: Ed25519 64 bytes, ECDSA ASN.1 DER, RSA-PSS as
 * long as the modulus. RSA-PSS verification accepts any salt length (python-tuf's PSS.AUTO, ADR
 * 0003); signing uses a 32-byte salt, the digest length, as securesystemslib does (DESIGN rule
 * 7), so every backend's signatures verify under every TUF implementation.
 */
export interface CryptoBackend {
  /** For errors and benchmarks: `node:crypto` or `webcrypto`. */
  readonly name: string;
  createHash(algorithm: HashAlgorithm): HashState;
  /**
   * The digest of `data` in one call, where the backend has a faster way than `createHash`
   * (Node's `crypto.hash`): a bulk finds the hash bin of a million paths. Optional; `digest`
   * falls back to `createHash`.
   */
  digest?(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array;
  /**
   * The digest of the UTF-8 encoding of `text` (a lone surrogate as U+FFFD, as `TextEncoder`
   * encodes it), where the backend hashes a string without encoding it first: a bulk hashes a
   * million paths. Optional; `textDigest` falls back to `TextEncoder` and `digest`.
   */
  digestText?(algorithm: HashAlgorithm, text: string): Uint8Array;
  verify(key: PublicKeyMaterial, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** A new key pair for `algorithm` (RSA: public exponent 65537). */
  generateKeyPair(algorithm: Algorithm, options: KeyGenOptions): Promise<GeneratedKeyMaterial>;
  /** Signs `data` with the scheme of `privateKey.algorithm`, in TUF's encoding. */
  sign(privateKey: PrivateKeyHandle, data: Uint8Array): Promise<Uint8Array>;
  /** The private key as PKCS#8 DER; rejects when it was made non-extractable. */
  exportPkcs8(privateKey: PrivateKeyHandle): Promise<Uint8Array>;
}
