/**
 * @tufa/pkcs11: hardware keys for tufa. Keys on PKCS#11 tokens (YubiKey PIV through ykcs11,
 * smart cards through OpenSC, HSMs, SoftHSM) named by RFC 7512 `pkcs11:` URIs, as an async
 * tufa `Signer`.
 *
 * The native binding (pkcs11js) is an optional dependency, imported on first use: importing
 * this package never needs it, and a machine without it gets a UsageError saying how to add it.
 *
 * ```ts
 * import { register } from '@tufa/pkcs11';
 * register(); // resolveSigner('pkcs11:…', { secrets }) now opens token keys
 * ```
 */
import { registerSignerScheme, type SignerSchemeHandler } from '@tufa/core/node';
import { Pkcs11Signer } from './signer.js';

// The one error tree (DESIGN principle 5), re-exported so callers can match on it from here.
export {
  isTufError,
  KeyError,
  NotFoundError,
  TufError,
  type TufErrorCode,
  UnsupportedKeyError,
  UsageError,
} from '@tufa/core';
export { isPkcs11Available } from './binding.js';
export { ckrName } from './errors.js';
export { type GeneratedTokenKey, type GenerateOnTokenOptions, generateKeyPairOnToken } from './generate.js';
export { type KeyListing, type ListKeysOptions, listKeys, listTokens, type TokenListing } from './list.js';
export { PIN_ENV } from './pin.js';
export { type Pkcs11Options, Pkcs11Signer, type Pkcs11SignerOptions } from './signer.js';
export { closePkcs11, MODULE_ENV, type TokenDescription } from './token.js';
export {
  formatPkcs11Uri,
  type LibraryVersion,
  type ObjectType,
  type Pkcs11Uri,
  parsePkcs11Uri,
  uriHasPinValue,
} from './uri.js';

/** The `pkcs11:` handler for `registerSignerScheme` (PIN from the context's secrets callback). */
export const pkcs11SchemeHandler: SignerSchemeHandler = (uri, context) =>
  Pkcs11Signer.open(uri, {
    secrets: context.secrets,
    ...(context.env === undefined ? {} : { env: context.env }),
    ...(context.baseDir === undefined ? {} : { baseDir: context.baseDir }),
  });

/**
 * Registers the `pkcs11:` signer scheme with @tufa/core, so that
 * `resolveSigner('pkcs11:token=…;object=…', { secrets })` returns a `Pkcs11Signer`.
 * Returns a function that unregisters it. Loads nothing native until a URI is resolved.
 */
export function register(): () => void {
  return registerSignerScheme('pkcs11', pkcs11SchemeHandler);
}
