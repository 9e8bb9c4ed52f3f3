/**
 * Where a token's PIN comes from, in this order:
 * 1. `pin-value` in the URI (accepted from API callers; the CLI refuses it on the command line,
 *    see `uriHasPinValue`),
 * 2. `pin-source` in the URI: as RFC 7512 suggests, a `file:` URI (or an absolute path) of a
 *    file whose content is the PIN (one trailing newline is dropped),
 * 3. the environment variable `TUFA_PIN`,
 * 4. the secrets callback, asked with `{ kind: 'pin' }`.
 * The provider asks at most once and remembers the answer for the signer's lifetime (a key
 * that needs the PIN for every signature, CKA_ALWAYS_AUTHENTICATE, would otherwise prompt each time).
 */
import { open } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { isTufError, KeyError, UsageError } from '@tufa/core';
import { filePathFromUri, type SecretCallback } from '@tufa/core/node';
import type { Pkcs11Uri } from './uri.js';

export const PIN_ENV = 'TUFA_PIN';
const MAX_PIN_FILE_BYTES = 1024;

export interface PinOptions {
  secrets?: SecretCallback;
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory that a relative `pin-source=file:…` resolves against; default `process.cwd()`. */
  baseDir?: string;
}

export interface PinProvider {
  /** The PIN (asked once, then remembered). */
  get(): Promise<string>;
  /** Forgets a remembered PIN (after the token rejected it: never retry a wrong PIN). */
  forget(): void;
}

async function readPinFile(path: string, source: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'error';
    throw new KeyError(`cannot read the PIN from pin-source ${source} (${code})`);
  }
  try {
    const buf = Buffer.alloc(MAX_PIN_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_PIN_FILE_BYTES) {
      throw new KeyError(
        `the pin-source file ${source} is too large for a PIN (over ${MAX_PIN_FILE_BYTES} bytes)`,
      );
    }
    const text = buf
      .subarray(0, bytesRead)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (text === '') throw new KeyError(`the pin-source file ${source} is empty`);
    return text;
  } catch (e) {
    if (isTufError(e)) throw e;
    throw new KeyError(`cannot read the PIN from pin-source ${source}`);
  } finally {
    await handle.close();
  }
}

function pinSourcePath(source: string, baseDir: string | undefined): string {
  if (/^file:/i.test(source)) return filePathFromUri(source, baseDir);
  if (isAbsolute(source)) return source;
  throw new UsageError(
    `unsupported pin-source ${JSON.stringify(source)} (expected a file: URI or an absolute path, e.g. pin-source=file:/run/secrets/pin)`,
  );
}

/**
 * A function returning the PIN for the token `label` describes (e.g. `token "test"`), from the
 * sources above. Errors never contain a PIN.
 */
export function pinProvider(uri: Pkcs11Uri, label: string, options: PinOptions): PinProvider {
  let pin: Promise<string> | undefined;
  const get = async (): Promise<string> => {
    if (uri.pinValue !== undefined) return uri.pinValue;
    if (uri.pinSource !== undefined) {
      return readPinFile(pinSourcePath(uri.pinSource, options.baseDir), JSON.stringify(uri.pinSource));
    }
    const env = options.env ?? process.env;
    const fromEnv = env[PIN_ENV];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    if (options.secrets === undefined) {
      throw new UsageError(
        `${label} needs a PIN: set ${PIN_ENV}, add pin-source=file:/path/to/pin-file to the URI's query, or pass a secrets callback`,
      );
    }
    let answer: unknown;
    try {
      answer = await options.secrets({ kind: 'pin', label });
    } catch (e) {
      if (isTufError(e)) throw e;
      throw new KeyError(`no PIN for ${label} (the secrets callback failed)`, { cause: e });
    }
    if (typeof answer !== 'string') {
      throw new UsageError(`the secrets callback must resolve to a string (for ${label})`);
    }
    return answer;
  };
  return {
    get() {
      pin ??= get().catch((e: unknown) => {
        pin = undefined; // a failed or cancelled prompt may be retried
        throw e;
      });
      return pin;
    },
    forget() {
      pin = undefined;
    },
  };
}
