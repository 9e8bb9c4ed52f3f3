/**
 * Key references on the command line: a key NAME (in $TUFA_HOME/keys), a path, `file:`,
 * `env:VAR` or `pkcs11:` (RFC 7512). Config files store them as URIs.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { generateKeyPair, Key, type KeyKind, keyFromPublicPem, type Signer } from '@tufa/core';
import {
  ensureDir,
  inspectKeyFile,
  readKeyFile,
  redactUri,
  resolveSigner,
  type SecretCallback,
  signerUriScheme,
  writeKeyFile,
} from '@tufa/core/node';
import { CliError, isCode, usage } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { exists } from './files.js';
import { checkKeyName, keyPath, keysDir } from './home.js';

/** By the name `-t` takes (a Map: `constructor` is not a key type). */
export const KEY_TYPES: ReadonlyMap<string, KeyKind> = new Map<string, KeyKind>([
  ['ed25519', 'ed25519'],
  ['ecdsa-p256', 'ecdsa-p256'],
  ['ecdsa-p384', 'ecdsa-p384'],
  ['rsa', 'rsa'],
]);

export function keyKind(type: string): KeyKind {
  const k = KEY_TYPES.get(type);
  if (!k)
    throw usage(`unknown key type ${JSON.stringify(type)} (expected ${[...KEY_TYPES.keys()].join(', ')})`);
  return k;
}

/** Scrypt cost: the library default, or TUFA_SCRYPT_N (for tests and slow machines; at least 2^10). */
export function scryptN(): number | undefined {
  const v = process.env.TUFA_SCRYPT_N;
  return v ? Number(v) : undefined;
}

/** A reference as a URI: names and paths become `file:` URIs with absolute paths. */
export function toUri(ref: string): string {
  const scheme = signerUriScheme(ref);
  if (scheme && scheme.length > 1) return ref; // `C:` is a drive, not a scheme
  if (!ref.includes('/') && !ref.endsWith('.json') && !ref.endsWith('.pem'))
    return `file:${keyPath(checkKeyName(ref))}`;
  return `file:${isAbsolute(ref) ? ref : resolve(ref)}`;
}

/** The file a `file:` URI names, or undefined for other schemes. */
export function fileOf(uri: string): string | undefined {
  return uri.startsWith('file:') ? decodeURIComponent(uri.slice(5).replace(/^\/\/(?=\/)/, '')) : undefined;
}

/**
 * Hardware keys: `pkcs11:` URIs are served by the optional @tufa/pkcs11 package, loaded only
 * when such a key is used. A PIN written into the URI is refused: argv is visible to every user.
 */
export async function preparePkcs11(uri: string): Promise<typeof import('@tufa/pkcs11') | undefined> {
  if (signerUriScheme(uri) !== 'pkcs11') return undefined;
  const m = await import('@tufa/pkcs11');
  if (m.uriHasPinValue(uri)) {
    throw usage(
      'a PIN in a pkcs11: URI (pin-value) is refused on the command line, where other users can see it',
      'set TUFA_PIN, or add pin-source=file:/path/to/pin-file to the URI',
    );
  }
  if (!pkcs11Registered) {
    m.register();
    pkcs11Registered = true;
  }
  return m;
}
let pkcs11Registered = false;

export async function loadSigner(ref: string, secrets: SecretCallback): Promise<Signer> {
  const uri = toUri(ref);
  await preparePkcs11(uri);
  const file = fileOf(uri);
  if (file !== undefined && !exists(file)) {
    throw new CliError(`key ${redactUri(ref)} not found (${file})`, EXIT.NOT_FOUND, 'tufa key list');
  }
  refuseUnsetVariable(uri);
  const fromFile = () => resolveSigner(uri, { secrets });
  if (process.env.TUFA_AGENT_SOCK) {
    const viaAgent = await agentSigner(uri, file, fromFile);
    if (viaAgent) return viaAgent;
  }
  return fromFile();
}

/**
 * An `env:VAR` reference whose variable the process does not have: said with the usual cause, a
 * shell variable that was set but not exported (tufa, a child process, never sees it).
 */
export function refuseUnsetVariable(uri: string): void {
  if (signerUriScheme(uri) !== 'env') return;
  const name = uri.slice('env:'.length);
  // A name that is no variable name is core's to refuse (envSigner says why).
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || process.env[name] !== undefined) return;
  throw usage(
    `environment variable ${name} is not set (expected a PEM private key or a tufa key file)`,
    `export ${name}  (a shell variable that is set but not exported is not passed to tufa)`,
  );
}

/**
 * The tufa key file an `env:VAR` reference holds, as JSON or as its base64 (line-wrapped or
 * not); undefined when the variable holds something else (a PEM key) or nothing.
 */
export function keyFileFromEnv(value: string | undefined): Uint8Array | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (text.startsWith('{')) return new TextEncoder().encode(text);
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  const bytes = Buffer.from(compact, 'base64');
  return bytes[0] === 0x7b ? new Uint8Array(bytes) : undefined; // `{`
}

/**
 * The signer of `tufa agent` for the key a `file:` or `env:` reference names, when
 * TUFA_AGENT_SOCK names an agent holding it: the key file's clear part says which key it is,
 * without its passphrase. Anything but a tufa key file (a PEM key, a token) is unlocked by the
 * command itself.
 */
async function agentSigner(
  uri: string,
  file: string | undefined,
  fromFile: () => Promise<Signer>,
): Promise<Signer | undefined> {
  let info: { key: Key; keyid: string };
  try {
    if (file !== undefined) info = await readKeyFile(file);
    else if (signerUriScheme(uri) === 'env') {
      const bytes = keyFileFromEnv(process.env[uri.slice(4)]);
      if (bytes === undefined) return undefined;
      info = inspectKeyFile(bytes);
    } else return undefined;
  } catch {
    return undefined; // not a tufa key file: the command reads it (and reports what is wrong)
  }
  const { agentSignerFor } = await import('./agent/client.js');
  return agentSignerFor(info.key, info.keyid, fromFile);
}

/**
 * Runs `read` (which reads the PEM key in `file`); an UNSUPPORTED_KEY error becomes exit 6 with a
 * hint naming the key kinds tufa takes and how to re-encode an EC key given with explicit curve
 * parameters (the same key, named curve form).
 */
export function withUnsupportedKeyHint<T>(file: string, isPublic: boolean, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (!isCode(e, 'UNSUPPORTED_KEY')) throw e;
    const reencode = `openssl pkey ${isPublic ? '-pubin -pubout ' : ''}-in ${file} -ec_param_enc named_curve -out named.pem`;
    throw new CliError(
      e.message,
      EXIT.KEY,
      `tufa takes Ed25519, ECDSA P-256 or P-384 on a named curve, and RSA of 2048 bits or more; an EC key with explicit curve parameters is re-encoded with: ${reencode}`,
    );
  }
}

/**
 * The public key of a reference, without unlocking it where possible: a tufa key file (public
 * part), a TUF key JSON file, a PEM public key; otherwise the signer is loaded.
 */
export async function loadPublicKey(ref: string, secrets: SecretCallback): Promise<Key> {
  const uri = toUri(ref);
  const file = fileOf(uri);
  if (file !== undefined) {
    if (!exists(file)) throw new CliError(`key ${ref} not found (${file})`, EXIT.NOT_FOUND, 'tufa key list');
    const text = await readFile(file, 'utf8');
    const json = jsonOrUndefined(text);
    if (json && typeof json === 'object') {
      if ('tufa_key' in json) return (await readKeyFile(file)).key; // public part, no passphrase
      if ('keytype' in json) return Key.fromJSON(json, file);
    } else if (text.includes('BEGIN PUBLIC KEY')) {
      return withUnsupportedKeyHint(file, true, () => keyFromPublicPem(text));
    }
  }
  // A tufa key file in a variable (a CI secret) has its public part in the clear, as on disk:
  // no passphrase for it (a PEM private key is read as a signer, unlocked if encrypted).
  if (signerUriScheme(uri) === 'env') {
    const bytes = keyFileFromEnv(process.env[uri.slice('env:'.length)]);
    if (bytes !== undefined) return inspectKeyFile(bytes).key;
  }
  return (await loadSigner(ref, secrets)).key;
}

export interface GeneratedKey {
  name: string;
  path: string;
  key: Key;
  encrypted: boolean;
  /** The new key, ready to sign: whoever generated it need not unlock it again. */
  signer: Signer;
}

/** Generates a key and writes it encrypted (unless `unencrypted`) with mode 0600. */
export async function generateKeyFile(
  path: string,
  label: string,
  type: KeyKind,
  secrets: SecretCallback,
  options: { unencrypted?: boolean } = {},
): Promise<GeneratedKey> {
  if (exists(path)) {
    throw new CliError(
      `${path} already exists`,
      EXIT.USAGE,
      'choose another name, or remove the old key first',
    );
  }
  await ensureDir(resolve(path, '..'), 0o700);
  const pair = await generateKeyPair(type);
  const protection = options.unencrypted
    ? { unencrypted: true as const }
    : await secrets({ kind: 'passphrase', label, confirm: true });
  const n = scryptN();
  await writeKeyFile(path, pair, protection, n ? { scryptN: n } : {});
  return { name: label, path, key: pair.key, encrypted: !options.unencrypted, signer: pair.signer };
}

export async function generateNamedKey(
  name: string,
  type: KeyKind,
  secrets: SecretCallback,
  options: { unencrypted?: boolean } = {},
): Promise<GeneratedKey> {
  await ensureDir(keysDir(), 0o700);
  return generateKeyFile(keyPath(name), name, type, secrets, options);
}

function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A signer for a reference that holds a private key; undefined for a public key file. */
export async function signerIfPrivate(ref: string, secrets: SecretCallback): Promise<Signer | undefined> {
  const uri = toUri(ref);
  const file = fileOf(uri);
  if (file !== undefined && exists(file)) {
    const text = await readFile(file, 'utf8');
    const json = jsonOrUndefined(text);
    // A tufa key file holds a private key (and its public key as PEM, so test the JSON first).
    const isPublic =
      json && typeof json === 'object' ? !('tufa_key' in json) : text.includes('BEGIN PUBLIC KEY');
    if (isPublic) return undefined;
  }
  return loadSigner(ref, secrets);
}
