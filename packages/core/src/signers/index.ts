/**
 * Signers backed by key material outside the process's code: encrypted key files, environment
 * variables (CI), and plugins (PKCS#11, KMS) addressed by URI. Node only (`@tufa/core/node`).
 */
export { type EnvSignerOptions, envSigner, isEnvVarName } from './env-signer.js';
export {
  changePassphrase,
  DEFAULT_SCRYPT_N,
  encodeKeyFile,
  inspectKeyFile,
  type KdfParams,
  KEY_FILE_VERSION,
  type KeyFileInfo,
  type KeyFileInput,
  type KeyFileOptions,
  type KeyProtection,
  keyFileBytesSigner,
  type LoadKeyFileOptions,
  loadKeyFileSigner,
  MAX_KEY_FILE_BYTES,
  readKeyFile,
  SCRYPT_LIMITS,
  type WriteKeyFileOptions,
  writeKeyFile,
} from './key-file.js';
export type { PassphraseRequest, SecretCallback, SecretRequest } from './secrets.js';
export {
  filePathFromUri,
  redactUri,
  registerSignerScheme,
  resolveSigner,
  type SignerContext,
  type SignerSchemeHandler,
  signerSchemes,
  signerUriScheme,
} from './uri.js';
