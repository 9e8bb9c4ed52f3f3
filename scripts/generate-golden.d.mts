/** Types for scripts/generate-golden.mjs (plain ESM so that Node 20 can run it). */
import type { KeyObject } from 'node:crypto';
import type * as tufa from '../packages/core/src/index.js';

/** Ed25519 seeds (hex) by key name. TEST ONLY. */
export declare const ED25519_SEEDS: Readonly<Record<string, string>>;
/** ECDSA private scalars (hex). TEST ONLY. */
export declare const ECDSA_SCALARS: Readonly<Record<'ecdsa-p256' | 'ecdsa-p384', string>>;
/** A fixed RSA 2048 private key, PKCS#8 PEM. TEST ONLY. */
export declare const RSA_PKCS8_PEM: string;
export declare const EXPIRES: Readonly<Record<string, string>>;

export declare function ed25519PrivateKey(seedHex: string): KeyObject;
export declare function ecdsaPrivateKey(curve: 'P-256' | 'P-384', scalarHex: string): KeyObject;

export interface Golden {
  /** Path under test-vectors/golden/ -> bytes, for every deterministic file. */
  files: Map<string, Uint8Array>;
  /** Path under test-vectors/golden/ -> freshly signed root (ECDSA/RSA: randomised signatures). */
  randomized: Map<string, tufa.Metadata<tufa.Root>>;
  /** Target path -> content. */
  targets: Map<string, Uint8Array>;
  /** Key name (ED25519_SEEDS names, `ecdsa-p256`, `ecdsa-p384`, `rsa`) -> signer. */
  signers: Map<string, tufa.PrivateKeySigner>;
}

/** Internals of @tufa/core the generator needs (not exported by its public entry). */
export interface GoldenInternals {
  parseExpires(value: string, path: string): Date;
  pythonJson(value: unknown, indent?: number | 'compact'): string;
}

export declare function buildGolden(lib: typeof tufa, internals: GoldenInternals): Promise<Golden>;
