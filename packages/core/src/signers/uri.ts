/**
 * Signer references as URIs, so every tool names keys the same way:
 *
 * - `file:/abs/path/key.json`, `file:///abs/path/key.json`, `file:relative/key.json` — a tufa
 *   key file (or a PKCS#8 PEM file); relative paths resolve against `baseDir`. Percent-encoding
 *   is decoded as RFC 8089 says (`%20` is a space, a literal `%` is `%25`).
 * - `env:VARNAME` — the key in an environment variable (see env-signer.ts).
 * - `pkcs11:…` (RFC 7512) and any other scheme — provided by a plugin through
 *   `registerSignerScheme`, e.g. `@tufa/pkcs11`.
 *
 * URIs may carry secrets (`pin-value`); use `redactUri` before logging one. Errors here do.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Signer } from '../crypto/signer.js';
import { isTufError, KeyError, UsageError } from '../errors.js';
import { envSigner, isEnvVarName } from './env-signer.js';
import { MAX_KEY_FILE_BYTES, readSmallFile } from './key-file.js';
import { looksLikePem, signerFromKeyFileBytes, signerFromPem } from './material.js';
import type { SecretCallback } from './secrets.js';

/**
 * What resolving a signer URI may use: the secrets callback, the base directory and the
 * environment.
 */
export interface SignerContext {
  /** Answers passphrase and PIN requests. */
  secrets: SecretCallback;
  /** Directory that relative `file:` paths resolve against; default `process.cwd()`. */
  baseDir?: string;
  /** Environment for `env:` URIs; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Turns a URI of one scheme into a signer. It receives the whole, unredacted URI. */
export type SignerSchemeHandler = (uri: string, context: SignerContext) => Promise<Signer>;

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const BUILT_IN = ['file', 'env'] as const;
const handlers = new Map<string, SignerSchemeHandler>();

/** Where hardware and cloud key support comes from, for schemes with no plugin registered. */
const PLUGIN_HINTS = new Map<string, string>([
  [
    'pkcs11',
    'hardware keys (PKCS#11, RFC 7512) need the optional package @tufa/pkcs11: install it ' +
      '(npm install @tufa/pkcs11) and load it, which registers the pkcs11: scheme ' +
      "(registerSignerScheme('pkcs11', …))",
  ],
]);

/** The lower-cased scheme of `uri`, or `undefined` when it has none. */
export function signerUriScheme(uri: string): string | undefined {
  return SCHEME_RE.exec(uri)?.[1]?.toLowerCase();
}

/**
 * Registers the handler for `scheme` (case-insensitive), e.g. `pkcs11` or a KMS. Replaces an
 * earlier plugin for the same scheme; `file` and `env` cannot be replaced. Returns a function
 * that unregisters this handler.
 * @throws {@link errors!UsageError | UsageError} an invalid scheme, a handler that is not a
 *   function, or a built-in scheme.
 */
export function registerSignerScheme(scheme: string, handler: SignerSchemeHandler): () => void {
  if (typeof scheme !== 'string' || !/^[A-Za-z][A-Za-z0-9+.-]*$/.test(scheme)) {
    throw new UsageError('invalid URI scheme (expected a letter, then letters, digits, +, - or .)');
  }
  if (typeof handler !== 'function') throw new UsageError('the signer scheme handler must be a function');
  const name = scheme.toLowerCase();
  if ((BUILT_IN as readonly string[]).includes(name)) {
    throw new UsageError(`the ${name}: signer scheme is built in and cannot be replaced`);
  }
  handlers.set(name, handler);
  return () => {
    if (handlers.get(name) === handler) handlers.delete(name);
  };
}

/** The schemes `resolveSigner` accepts now: the built-in ones and the registered plugins. */
export function signerSchemes(): string[] {
  return [...BUILT_IN, ...[...handlers.keys()].sort()];
}

function isSigner(v: unknown): v is Signer {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  const key = s['key'] as Record<string, unknown> | null | undefined;
  return (
    typeof s['keyid'] === 'string' &&
    typeof s['sign'] === 'function' &&
    typeof key === 'object' &&
    key !== null &&
    typeof key['keyid'] === 'function'
  );
}

/**
 * The path a `file:` URI names.
 * @throws {@link errors!UsageError | UsageError} not a `file:` URI, no path, or an invalid
 *   encoding.
 */
export function filePathFromUri(uri: string, baseDir?: string): string {
  const shown = redactUri(uri);
  if (signerUriScheme(uri) !== 'file') throw new UsageError(`not a file: URI: ${shown}`);
  const rest = uri.slice('file:'.length);
  if (rest.length === 0) throw new UsageError('file: URI without a path');
  if (rest.includes('?') || rest.includes('#')) {
    throw new UsageError(
      `file: URIs take no query or fragment (percent-encode ? as %3F and # as %23): ${shown}`,
    );
  }
  if (rest.startsWith('/')) {
    // file:/abs, file:///abs and file://localhost/abs; node decodes percent-escapes, refuses
    // encoded slashes and other hosts, and handles drive letters on Windows.
    try {
      return fileURLToPath(new URL(`file:${rest}`));
    } catch (e) {
      throw new UsageError(
        `invalid file: URI ${shown} (${e instanceof Error ? e.message : 'cannot decode'})`,
      );
    }
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    throw new UsageError(`invalid percent-encoding in ${shown} (write a literal % as %25)`);
  }
  if (decoded.includes('\0')) throw new UsageError(`invalid file: URI ${shown} (NUL in path)`);
  return resolve(baseDir ?? process.cwd(), decoded);
}

async function fileSigner(uri: string, context: SignerContext): Promise<Signer> {
  const path = filePathFromUri(uri, context.baseDir);
  const source = `key file ${JSON.stringify(path)}`;
  const bytes = await readSmallFile(path, MAX_KEY_FILE_BYTES, source);
  const options = { secrets: context.secrets };
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 64));
  if (looksLikePem(head)) {
    return signerFromPem(new TextDecoder('utf-8', { fatal: false }).decode(bytes), source, options);
  }
  return signerFromKeyFileBytes(bytes, source, options);
}

async function envUriSigner(uri: string, context: SignerContext): Promise<Signer> {
  const name = uri.slice('env:'.length);
  if (!isEnvVarName(name)) {
    throw new UsageError(
      'env: URIs name one environment variable, e.g. env:TUFA_ROOT_KEY (letters, digits and _, not starting with a digit)',
    );
  }
  return envSigner(name, {
    secrets: context.secrets,
    ...(context.env === undefined ? {} : { env: context.env }),
  });
}

/**
 * The signer a URI names. Unknown schemes and plugin schemes with no plugin registered are a
 * UsageError explaining what to install. Errors from plugins that are not TufErrors become a
 * KeyError naming the redacted URI.
 * @throws {@link errors!UsageError | UsageError} the URI is malformed, or its scheme is unknown or
 *   has no plugin registered.
 * @throws {@link errors!KeyError | KeyError} the key cannot be loaded (a wrong passphrase, a
 *   damaged key file, a plugin failure).
 */
export async function resolveSigner(uri: string, context: SignerContext): Promise<Signer> {
  if (typeof uri !== 'string') throw new UsageError('a signer URI must be a string');
  const scheme = signerUriScheme(uri);
  const shown = redactUri(uri);
  if (scheme === undefined) {
    // Someone may paste the key itself where a URI belongs: never echo anything that could be one.
    const echo = shown.length <= 256 && /^[^\s{}"'<>=-][^\s{}"'<>]*$/.test(shown);
    throw new UsageError(
      echo
        ? `not a signer URI: ${shown} (expected file:PATH, env:VARNAME or pkcs11:…; for a key file write file:${shown})`
        : 'not a signer URI (expected file:PATH, env:VARNAME or pkcs11:…)',
    );
  }
  if (scheme === 'file') return fileSigner(uri, context);
  if (scheme === 'env') return envUriSigner(uri, context);
  const handler = handlers.get(scheme);
  if (handler === undefined) {
    const hint = PLUGIN_HINTS.get(scheme);
    if (hint !== undefined) throw new UsageError(`no signer registered for ${scheme}: URIs; ${hint}`);
    // A one-letter scheme is most likely a Windows drive letter.
    const drive = scheme.length === 1 ? `; for a key file write file:${shown}` : '';
    throw new UsageError(
      `unknown signer URI scheme ${scheme}: (expected ${signerSchemes()
        .map((s) => `${s}:`)
        .join(', ')}, or a scheme registered by a plugin such as @tufa/pkcs11${drive})`,
    );
  }
  let signer: unknown;
  try {
    signer = await handler(uri, context);
  } catch (e) {
    if (isTufError(e)) throw e;
    throw new KeyError(`cannot load the signer ${shown}`, { cause: e });
  }
  if (!isSigner(signer)) throw new UsageError(`the ${scheme}: plugin did not return a signer for ${shown}`);
  return signer;
}

// ---------------------------------------------------------------------------------------------
// Redaction

/** Attribute names whose values are secrets, compared after percent-decoding, case-insensitively. */
const SECRET_ATTRIBUTES = new Set(['pin-value', 'pin', 'passphrase', 'password']);

function attributeName(attr: string): string {
  const eq = attr.indexOf('=');
  const raw = eq < 0 ? attr : attr.slice(0, eq);
  try {
    return decodeURIComponent(raw).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

function dropSecrets(attrs: string, separator: string): string {
  return attrs
    .split(separator)
    .filter((a) => !SECRET_ATTRIBUTES.has(attributeName(a)))
    .join(separator);
}

/**
 * `uri` without its secrets, for logs and error messages: removes the attributes `pin-value`,
 * `pin`, `passphrase` and `password` from the query (`&`-separated) and, for `pkcs11:`, from the
 * path (`;`-separated, where RFC 7512 does not allow them but users put them), and the password
 * of a `//user:password@host` authority.
 */
export function redactUri(uri: string): string {
  if (typeof uri !== 'string') return '';
  const hashAt = uri.indexOf('#');
  const fragment = hashAt < 0 ? '' : uri.slice(hashAt);
  const body = hashAt < 0 ? uri : uri.slice(0, hashAt);
  const q = body.indexOf('?');
  let path = q < 0 ? body : body.slice(0, q);
  let query = q < 0 ? undefined : body.slice(q + 1);

  const scheme = signerUriScheme(path);
  if (scheme === 'pkcs11') {
    path = `${path.slice(0, 'pkcs11:'.length)}${dropSecrets(path.slice('pkcs11:'.length), ';')}`;
  }
  // scheme://user:password@host → scheme://user@host
  path = path.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/@]*?):[^/@]*@/, '$1$2@');
  if (query !== undefined) {
    query = dropSecrets(query, '&');
    // A secret value can also hide behind ';' separators some tools use in queries.
    if (query.includes(';')) query = dropSecrets(query, ';');
  }
  const rebuilt = query === undefined || query === '' ? path : `${path}?${query}`;
  // A fragment has no secret attributes by RFC 7512, but one can be mistyped; drop a secret-looking one.
  return /pin|pass/i.test(fragment) ? rebuilt : `${rebuilt}${fragment}`;
}
