/**
 * tufa key files: a private key encrypted with a passphrase (scrypt + AES-256-GCM, both node
 * built-ins), with the public key beside it in clear so tools can list keys without asking for
 * the passphrase. See docs/adr/0004-key-storage.md.
 *
 * ```json
 * {
 *   "tufa_key": 1,
 *   "keyid": "<64 hex>",
 *   "key": { <TUF public key object> },
 *   "kdf": { "name": "scrypt", "salt": "<b64>", "N": 131072, "r": 8, "p": 1 },
 *   "cipher": { "name": "aes-256-gcm", "iv": "<b64, 12 bytes>", "tag": "<b64, 16 bytes>" },
 *   "ciphertext": "<b64 of the AES-GCM encryption of the PKCS#8 DER private key>"
 * }
 * ```
 *
 * Everything but `cipher.tag` and `ciphertext` (the header) is bound to the ciphertext as
 * AES-GCM additional authenticated data, in TUF canonical JSON: swapping the public key, the
 * keyid or any KDF or cipher parameter makes decryption fail. After decryption the private key
 * must also match the stored public key.
 *
 * With `{ unencrypted: true }` (only when a user asked for it) the file instead holds
 * `"unencrypted": true, "private_pkcs8": "<b64 of the PKCS#8 DER>"`.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  type KeyObject,
  randomBytes,
  type ScryptOptions,
  scrypt,
} from 'node:crypto';
import { link, lstat, open, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isRecord, own } from '../crypto/json-value.js';
import { Key } from '../crypto/key.js';
import type { Signer } from '../crypto/signer.js';
import { PrivateKeySigner } from '../crypto/signer.js';
import { isTufError, KeyError, StorageError, UnsupportedKeyError, UsageError } from '../errors.js';
import { canonicalBytes } from '../json/canonical.js';
import { parseJson } from '../json/strict.js';
import {
  ensureDir,
  errorCode,
  fsyncDir,
  openTempFile,
  storageError,
  writeAll,
  writeFileAtomic,
} from '../node/atomic.js';
import { askSecret, type SecretCallback } from './secrets.js';

/** The format version this code reads and writes (the `tufa_key` field). */
export const KEY_FILE_VERSION = 1;

/** scrypt cost written by default: N = 2^17, r = 8, p = 1 (128 MiB, about 0.3 s; see ADR 0004). */
export const DEFAULT_SCRYPT_N = 2 ** 17;
const SCRYPT_R = 8;
const SCRYPT_P = 1;

/**
 * Bounds on the scrypt parameters a file may ask for, checked before any key derivation: a
 * hostile file must not make us allocate gigabytes or spin for minutes. 128·N·r bytes of memory
 * (1 GiB at the bounds), N·r·p block operations.
 */
export const SCRYPT_LIMITS = Object.freeze({
  minN: 2 ** 10,
  maxN: 2 ** 20,
  maxR: 32,
  maxP: 16,
  maxMemory: 2 ** 30,
  maxWork: 2 ** 24,
});

const SALT_BYTES = 32;
const MIN_SALT_BYTES = 16;
const MAX_SALT_BYTES = 64;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** PKCS#8 of an RSA-16384 key is under 10 KB. */
const MAX_PKCS8_BYTES = 16 * 1024;
/** A key file larger than this is refused before parsing. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

const KEYID_RE = /^[0-9a-f]{64}$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const WRONG_PASSPHRASE = 'wrong passphrase or corrupted key file';

const TOP_ENCRYPTED = ['tufa_key', 'keyid', 'key', 'kdf', 'cipher', 'ciphertext'] as const;
const TOP_UNENCRYPTED = ['tufa_key', 'keyid', 'key', 'unencrypted', 'private_pkcs8'] as const;
const KDF_FIELDS = ['name', 'salt', 'N', 'r', 'p'] as const;
const CIPHER_FIELDS = ['name', 'iv', 'tag'] as const;

/** A private key to store: the public TUF key and the private key as PKCS#8 PEM or a KeyObject. */
export type KeyFileInput = {
  key: Key;
  /** The keyid written to the file (and used by signers loaded from it); default `key.keyid()`. */
  keyid?: string;
} & ({ privateKeyPem: string } | { privateKey: KeyObject });

/** A passphrase, or an explicit request to store the key in clear. */
export type KeyProtection = string | { unencrypted: true };

/** Options for encrypting a key file. */
export interface KeyFileOptions {
  /** scrypt N (a power of two from 2^10 to 2^20); default 2^17. Tests use 2^10. */
  scryptN?: number;
}

/** Options of `writeKeyFile`. */
export interface WriteKeyFileOptions extends KeyFileOptions {
  /** Replace an existing file (default: refuse with a UsageError). */
  overwrite?: boolean;
}

/** What a key file says in clear: enough to list keys without a passphrase. */
export interface KeyFileInfo {
  key: Key;
  keyid: string;
  encrypted: boolean;
}

/**
 * The key-derivation parameters a key file records (scrypt), so it can be decrypted with a
 * passphrase later.
 */
export interface KdfParams {
  name: 'scrypt';
  salt: Uint8Array;
  N: number;
  r: number;
  p: number;
}

type Parsed =
  | (KeyFileInfo & { encrypted: false; privatePkcs8: Uint8Array })
  | (KeyFileInfo & {
      encrypted: true;
      kdf: KdfParams;
      iv: Uint8Array;
      tag: Uint8Array;
      ciphertext: Uint8Array;
      aad: Uint8Array;
    });

// ---------------------------------------------------------------------------------------------
// Encoding helpers

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Strict base64 (canonical, padded); `undefined` for anything else. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !BASE64_RE.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** The passphrase as bytes: NFC, so one typed on macOS (NFD input) and on Linux match. */
function passphraseBytes(passphrase: string): Buffer {
  return Buffer.from(passphrase.normalize('NFC'), 'utf8');
}

function deriveKey(passphrase: string, kdf: KdfParams): Promise<Buffer> {
  const pass = passphraseBytes(passphrase);
  // OpenSSL needs 128·r·(N + p + 2) bytes; maxmem is a ceiling, not an allocation.
  const options: ScryptOptions = {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r + 128 * kdf.r * kdf.p,
  };
  return new Promise((res, rej) => {
    // Async: runs in the thread pool, so a 0.3 s derivation does not block the event loop.
    scrypt(pass, kdf.salt, KEY_BYTES, options, (err, derived) => {
      pass.fill(0);
      if (err) rej(new KeyError('key derivation failed', { cause: err }));
      else res(derived);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Validation

function checkScrypt(N: unknown, r: unknown, p: unknown): string | undefined {
  const L = SCRYPT_LIMITS;
  if (typeof N !== 'number' || !Number.isSafeInteger(N) || N < L.minN || N > L.maxN || (N & (N - 1)) !== 0) {
    return `scrypt N must be a power of two from 2^10 to 2^20 (got ${typeof N === 'number' ? N : typeof N})`;
  }
  if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 1 || r > L.maxR) {
    return `scrypt r must be an integer from 1 to ${L.maxR}`;
  }
  if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 1 || p > L.maxP) {
    return `scrypt p must be an integer from 1 to ${L.maxP}`;
  }
  if (128 * N * r > L.maxMemory)
    return `scrypt parameters would use more than ${L.maxMemory / 2 ** 20} MiB of memory (N=${N}, r=${r})`;
  if (N * r * p > L.maxWork) return `scrypt parameters too costly (N=${N}, r=${r}, p=${p})`;
  return undefined;
}

function onlyFields(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  what: string,
  source: string,
): void {
  for (const k of Object.keys(obj)) {
    // Field names are not secret, but are still kept out of messages: the file may be an env value.
    if (!allowed.includes(k)) throw new KeyError(`${source}: unexpected field in ${what}`);
  }
}

function field(obj: Record<string, unknown>, name: string, what: string, source: string): unknown {
  if (!Object.hasOwn(obj, name)) throw new KeyError(`${source}: missing ${what}`);
  return own(obj, name);
}

function bytesField(
  obj: Record<string, unknown>,
  name: string,
  what: string,
  source: string,
  min: number,
  max: number,
): Uint8Array {
  const v = field(obj, name, what, source);
  const bytes = typeof v === 'string' ? decodeBase64(v) : undefined;
  if (bytes === undefined) throw new KeyError(`${source}: ${what} must be base64`);
  if (bytes.length < min || bytes.length > max) {
    throw new KeyError(
      `${source}: ${what} has the wrong length (expected ${min === max ? min : `${min} to ${max}`} bytes, got ${bytes.length})`,
    );
  }
  return bytes;
}

/**
 * Parses and validates a key file (internal). Every check that needs no passphrase happens
 * here, before any prompt and before any key derivation. `source` names the file in errors.
 */
export function parseKeyFileBytes(bytes: Uint8Array, source: string): Parsed {
  if (bytes.length > MAX_KEY_FILE_BYTES) {
    throw new KeyError(
      `${source}: too large for a key file (${bytes.length} bytes, at most ${MAX_KEY_FILE_BYTES})`,
    );
  }
  let doc: unknown;
  try {
    doc = parseJson(bytes);
  } catch (e) {
    throw new KeyError(`${source}: not a tufa key file (invalid JSON)`, { cause: e });
  }
  if (!isRecord(doc) || !Object.hasOwn(doc, 'tufa_key')) throw new KeyError(`${source}: not a tufa key file`);
  const version = own(doc, 'tufa_key');
  if (version !== KEY_FILE_VERSION) {
    throw new KeyError(
      `${source}: unsupported key file version (expected ${KEY_FILE_VERSION}, got ${typeof version === 'number' ? version : typeof version}); a newer tufa may read it`,
    );
  }
  const keyid = field(doc, 'keyid', 'keyid', source);
  if (typeof keyid !== 'string' || !KEYID_RE.test(keyid))
    throw new KeyError(`${source}: keyid must be 64 hex digits`);
  const keyJson = field(doc, 'key', 'public key', source);
  let key: Key;
  try {
    key = Key.fromJSON(keyJson, 'key');
  } catch (e) {
    throw new KeyError(
      `${source}: invalid public key (${e instanceof Error ? e.message : 'not a key object'})`,
      {
        cause: e,
      },
    );
  }
  if (!key.supported) {
    throw new UnsupportedKeyError(`${source}: unsupported key (${key.keytype}/${key.scheme})`);
  }

  if (Object.hasOwn(doc, 'unencrypted')) {
    onlyFields(doc, TOP_UNENCRYPTED, 'the key file', source);
    if (own(doc, 'unencrypted') !== true)
      throw new KeyError(`${source}: "unencrypted" must be true when present`);
    const privatePkcs8 = bytesField(doc, 'private_pkcs8', 'private_pkcs8', source, 1, MAX_PKCS8_BYTES);
    return { key, keyid, encrypted: false, privatePkcs8 };
  }

  onlyFields(doc, TOP_ENCRYPTED, 'the key file', source);
  const kdfJson = field(doc, 'kdf', 'kdf', source);
  if (!isRecord(kdfJson)) throw new KeyError(`${source}: kdf must be an object`);
  onlyFields(kdfJson, KDF_FIELDS, 'kdf', source);
  if (field(kdfJson, 'name', 'kdf name', source) !== 'scrypt') {
    throw new KeyError(`${source}: unsupported kdf (expected scrypt)`);
  }
  const N = field(kdfJson, 'N', 'scrypt N', source);
  const r = field(kdfJson, 'r', 'scrypt r', source);
  const p = field(kdfJson, 'p', 'scrypt p', source);
  const bad = checkScrypt(N, r, p);
  if (bad !== undefined) throw new KeyError(`${source}: ${bad}`);
  const salt = bytesField(kdfJson, 'salt', 'kdf salt', source, MIN_SALT_BYTES, MAX_SALT_BYTES);

  const cipherJson = field(doc, 'cipher', 'cipher', source);
  if (!isRecord(cipherJson)) throw new KeyError(`${source}: cipher must be an object`);
  onlyFields(cipherJson, CIPHER_FIELDS, 'cipher', source);
  if (field(cipherJson, 'name', 'cipher name', source) !== 'aes-256-gcm') {
    throw new KeyError(`${source}: unsupported cipher (expected aes-256-gcm)`);
  }
  const iv = bytesField(cipherJson, 'iv', 'cipher iv', source, IV_BYTES, IV_BYTES);
  const tag = bytesField(cipherJson, 'tag', 'cipher tag', source, TAG_BYTES, TAG_BYTES);
  const ciphertext = bytesField(doc, 'ciphertext', 'ciphertext', source, 1, MAX_PKCS8_BYTES);

  const kdf: KdfParams = { name: 'scrypt', salt, N: N as number, r: r as number, p: p as number };
  const aad = headerAad(
    keyid,
    keyJson,
    { name: 'scrypt', salt: own(kdfJson, 'salt'), N, r, p },
    { name: 'aes-256-gcm', iv: own(cipherJson, 'iv') },
  );
  return { key, keyid, encrypted: true, kdf, iv, tag, ciphertext, aad };
}

/** The additional authenticated data: the canonical JSON of everything but the tag and ciphertext. */
function headerAad(keyid: string, keyJson: unknown, kdf: unknown, cipher: unknown): Uint8Array {
  return canonicalBytes({ tufa_key: KEY_FILE_VERSION, keyid, key: keyJson, kdf, cipher });
}

// ---------------------------------------------------------------------------------------------
// Encrypt / decrypt (no I/O)

function privateKeyOf(input: KeyFileInput): KeyObject {
  if ('privateKey' in input) return input.privateKey;
  if (typeof input.privateKeyPem !== 'string') throw new UsageError('privateKeyPem must be a string');
  try {
    return createPrivateKey({ key: input.privateKeyPem, format: 'pem' });
  } catch (e) {
    throw new KeyError('cannot read the private key (expected an unencrypted PKCS#8 PEM)', { cause: e });
  }
}

function checkProtection(protection: KeyProtection): void {
  if (typeof protection === 'string') {
    if (protection.length === 0) {
      throw new UsageError(
        'empty passphrase (to store a key in clear, pass { unencrypted: true } explicitly)',
      );
    }
    return;
  }
  if (typeof protection !== 'object' || protection === null || protection.unencrypted !== true) {
    throw new UsageError('expected a passphrase or { unencrypted: true }');
  }
}

function checkScryptOption(options: KeyFileOptions): number {
  const N = options.scryptN ?? DEFAULT_SCRYPT_N;
  const bad = checkScrypt(N, SCRYPT_R, SCRYPT_P);
  if (bad !== undefined) throw new UsageError(bad);
  return N;
}

/**
 * The bytes of a key file for `input` (pretty JSON with a final newline). The private key must
 * match `input.key` (KeyError otherwise). No I/O; see `writeKeyFile`.
 */
export async function encodeKeyFile(
  input: KeyFileInput,
  protection: KeyProtection,
  options: KeyFileOptions = {},
): Promise<Uint8Array> {
  checkProtection(protection);
  const N = checkScryptOption(options);
  if (!(input?.key instanceof Key)) throw new UsageError('expected { key: Key, privateKeyPem | privateKey }');
  const keyid = input.keyid ?? input.key.keyid();
  if (typeof keyid !== 'string' || !KEYID_RE.test(keyid))
    throw new UsageError('keyid must be 64 lowercase hex digits');
  const privateKey = privateKeyOf(input);
  // Checks the key type is supported and that the private key matches the public key.
  new PrivateKeySigner(privateKey, input.key);
  const keyJson = input.key.toJSON();
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    if (typeof protection !== 'string') {
      const doc = {
        tufa_key: KEY_FILE_VERSION,
        keyid,
        key: keyJson,
        unencrypted: true,
        private_pkcs8: b64(der),
      };
      return new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`);
    }
    const salt = randomBytes(SALT_BYTES);
    const iv = randomBytes(IV_BYTES);
    const kdf = { name: 'scrypt', salt: b64(salt), N, r: SCRYPT_R, p: SCRYPT_P } as const;
    const cipherHeader = { name: 'aes-256-gcm', iv: b64(iv) } as const;
    const dk = await deriveKey(protection, { name: 'scrypt', salt, N, r: SCRYPT_R, p: SCRYPT_P });
    let ciphertext: Buffer;
    let tag: Buffer;
    try {
      const cipher = createCipheriv('aes-256-gcm', dk, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(headerAad(keyid, keyJson, kdf, cipherHeader));
      ciphertext = Buffer.concat([cipher.update(der), cipher.final()]);
      tag = cipher.getAuthTag();
    } finally {
      wipe(dk);
    }
    const doc = {
      tufa_key: KEY_FILE_VERSION,
      keyid,
      key: keyJson,
      kdf,
      cipher: { ...cipherHeader, tag: b64(tag) },
      ciphertext: b64(ciphertext),
    };
    return new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    wipe(der);
  }
}

/** The clear part of a key file: its public key and keyid, and whether it is encrypted. */
export function inspectKeyFile(bytes: Uint8Array, source = 'key file'): KeyFileInfo {
  const { key, keyid, encrypted } = parseKeyFileBytes(bytes, source);
  return { key, keyid, encrypted };
}

/** Decrypts a parsed key file (internal). `passphrase` is ignored for an unencrypted file. */
export async function decryptParsed(
  parsed: Parsed,
  passphrase: string | undefined,
  source: string,
): Promise<KeyObject> {
  let der: Uint8Array;
  if (parsed.encrypted) {
    if (typeof passphrase !== 'string')
      throw new UsageError(`${source} is encrypted: a passphrase is required`);
    const dk = await deriveKey(passphrase, parsed.kdf);
    try {
      const decipher = createDecipheriv('aes-256-gcm', dk, parsed.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(parsed.aad);
      decipher.setAuthTag(parsed.tag);
      const head = decipher.update(parsed.ciphertext);
      try {
        der = Buffer.concat([head, decipher.final()]);
      } catch {
        wipe(head);
        // No cause and no detail: the message is the same for a wrong passphrase and any tampering.
        throw new KeyError(`${source}: ${WRONG_PASSPHRASE}`);
      }
      wipe(head);
    } finally {
      wipe(dk);
    }
  } else {
    der = Buffer.from(parsed.privatePkcs8);
  }
  try {
    return createPrivateKey({
      key: Buffer.from(der.buffer, der.byteOffset, der.byteLength),
      format: 'der',
      type: 'pkcs8',
    });
  } catch (e) {
    throw new KeyError(`${source}: the private key is not valid PKCS#8`, { cause: e });
  } finally {
    wipe(der);
  }
}

/** A signer from a parsed key file (internal): asks for the passphrase only when the file is encrypted. */
export async function signerFromParsed(
  parsed: Parsed,
  secrets: SecretCallback | undefined,
  source: string,
  keyid?: string,
): Promise<PrivateKeySigner> {
  const passphrase = parsed.encrypted
    ? await askSecret(secrets, { kind: 'passphrase', keyid: parsed.keyid, label: source })
    : undefined;
  const privateKey = await decryptParsed(parsed, passphrase, source);
  try {
    return new PrivateKeySigner(privateKey, parsed.key, { keyid: keyid ?? parsed.keyid });
  } catch (e) {
    if (isTufError(e) && e.code === 'KEY') {
      throw new KeyError(`${source}: the private key does not match the public key stored beside it`, {
        cause: e,
      });
    }
    throw e;
  }
}

/**
 * A signer for the key in the bytes of a key file kept somewhere else than a file (a database
 * row: a trust server's online keys). `source` names it in errors. The passphrase callback is
 * called once, only for an encrypted key, after the clear part has been validated.
 * @throws {@link errors!KeyError | KeyError} the bytes are not a key file, or the passphrase is wrong.
 */
export async function keyFileBytesSigner(
  bytes: Uint8Array,
  getPassphrase: SecretCallback,
  source = 'key file',
): Promise<Signer> {
  return signerFromParsed(parseKeyFileBytes(bytes, source), getPassphrase, source);
}

// ---------------------------------------------------------------------------------------------
// Files

function label(path: string): string {
  return `key file ${JSON.stringify(path)}`;
}

/** Reads a whole small file (internal), refusing anything but a regular file under `max` bytes. */
export async function readSmallFile(path: string, max: number, what: string): Promise<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const st = await handle.stat();
    if (!st.isFile()) throw new StorageError(`${JSON.stringify(path)} is not a regular file`);
    if (st.size > max) throw new KeyError(`${what}: too large (${st.size} bytes, at most ${max})`);
    // Read at most max + 1 bytes whatever stat said (the file may grow while we read).
    const buf = Buffer.alloc(max + 1);
    let len = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, len, buf.length - len, len);
      if (bytesRead === 0) break;
      len += bytesRead;
      if (len > max) throw new KeyError(`${what}: too large (more than ${max} bytes)`);
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, len);
  } catch (e) {
    if (isTufError(e)) throw e;
    throw storageError('read', path, e);
  } finally {
    await handle?.close().catch(() => {});
  }
}

async function readParsed(path: string): Promise<Parsed> {
  const source = label(path);
  return parseKeyFileBytes(await readSmallFile(path, MAX_KEY_FILE_BYTES, source), source);
}

/** Creates `path` with `bytes` atomically, failing if it exists (a hard link never replaces a file). */
async function createFileAtomic(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const { handle, tempPath } = await openTempFile(path, mode);
  try {
    try {
      await writeAll(handle, bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (e) {
    await rm(tempPath, { force: true }).catch(() => {});
    throw storageError('write', path, e);
  }
  try {
    await link(tempPath, path);
  } catch (e) {
    const code = errorCode(e);
    if (code === 'EEXIST') {
      await rm(tempPath, { force: true }).catch(() => {});
      throw new UsageError(`${JSON.stringify(path)} already exists (pass overwrite to replace it)`);
    }
    // File systems without hard links: check, then rename (a small window, documented in ADR 0004).
    if (
      code === 'EPERM' ||
      code === 'ENOTSUP' ||
      code === 'EOPNOTSUPP' ||
      code === 'ENOSYS' ||
      code === 'EMLINK'
    ) {
      const exists = await lstat(path).then(
        () => true,
        (err: unknown) => errorCode(err) !== 'ENOENT',
      );
      if (exists) {
        await rm(tempPath, { force: true }).catch(() => {});
        throw new UsageError(`${JSON.stringify(path)} already exists (pass overwrite to replace it)`);
      }
      try {
        await rename(tempPath, path);
      } catch (err) {
        await rm(tempPath, { force: true }).catch(() => {});
        throw storageError('write', path, err);
      }
      await fsyncDir(dirname(path));
      return;
    }
    await rm(tempPath, { force: true }).catch(() => {});
    throw storageError('write', path, e);
  }
  await rm(tempPath, { force: true }).catch(() => {});
  await fsyncDir(dirname(path));
}

/**
 * Writes a key file with mode 0600, atomically (a temporary file in the same directory, fsync,
 * then a link or rename). Refuses to replace an existing file unless `overwrite` is set. A
 * missing parent directory is created with mode 0700. Returns what the file says in clear.
 */
export async function writeKeyFile(
  path: string,
  input: KeyFileInput,
  protection: KeyProtection,
  options: WriteKeyFileOptions = {},
): Promise<KeyFileInfo> {
  const bytes = await encodeKeyFile(input, protection, options);
  const abs = resolve(path);
  await ensureDir(dirname(abs), 0o700);
  if (options.overwrite === true) await writeFileAtomic(abs, bytes, { mode: 0o600 });
  else await createFileAtomic(abs, bytes, 0o600);
  return {
    key: input.key,
    keyid: input.keyid ?? input.key.keyid(),
    encrypted: typeof protection === 'string',
  };
}

/** The clear part of a key file (no passphrase needed). */
export async function readKeyFile(path: string): Promise<KeyFileInfo> {
  const { key, keyid, encrypted } = await readParsed(path);
  return { key, keyid, encrypted };
}

/** Options of `loadKeyFile`. */
export interface LoadKeyFileOptions {
  /** Sign as this keyid instead of the one stored in the file. */
  keyid?: string;
}

/**
 * A signer for the key in a key file. The passphrase callback is called once, only for an
 * encrypted file, and only after the file's clear part has been validated. A wrong passphrase
 * is a KeyError ("wrong passphrase or corrupted key file"); retrying is the caller's choice.
 */
export async function loadKeyFileSigner(
  path: string,
  getPassphrase: SecretCallback,
  options: LoadKeyFileOptions = {},
): Promise<Signer> {
  const parsed = await readParsed(path);
  return signerFromParsed(parsed, getPassphrase, label(path), options.keyid);
}

/**
 * Re-encrypts a key file under a new passphrase (or, explicitly, in clear) and replaces it
 * atomically, keeping its keyid. `oldPassphrase` is ignored when the file is not encrypted.
 * The new file uses `options.scryptN` or the current default cost, not the old file's.
 */
export async function changePassphrase(
  path: string,
  oldPassphrase: string | undefined,
  newProtection: KeyProtection,
  options: KeyFileOptions = {},
): Promise<KeyFileInfo> {
  checkProtection(newProtection);
  checkScryptOption(options);
  const source = label(path);
  const parsed = await readParsed(path);
  const privateKey = await decryptParsed(parsed, oldPassphrase, source);
  try {
    new PrivateKeySigner(privateKey, parsed.key);
  } catch (e) {
    throw new KeyError(`${source}: the private key does not match the public key stored beside it`, {
      cause: e,
    });
  }
  const bytes = await encodeKeyFile(
    { key: parsed.key, keyid: parsed.keyid, privateKey },
    newProtection,
    options,
  );
  await writeFileAtomic(resolve(path), bytes, { mode: 0o600 });
  return { key: parsed.key, keyid: parsed.keyid, encrypted: typeof newProtection === 'string' };
}
