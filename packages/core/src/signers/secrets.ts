/**
 * The secrets callback: how signers ask for passphrases and PINs. The library never prompts
 * (DESIGN, "a library that prompts on the terminal"); the CLI answers from a terminal prompt or
 * an environment variable, a test from a constant.
 */
import { isTufError, KeyError, UsageError } from '../errors.js';

/**
 * What a secrets callback is asked for: a passphrase or a PIN, and for which key. Carries nothing
 * secret itself.
 */
export interface SecretRequest {
  /** A passphrase unlocks a key file; a PIN unlocks a hardware token. */
  kind: 'passphrase' | 'pin';
  /** The keyid of the key being unlocked, when known before unlocking. */
  keyid?: string;
  /** What is being unlocked, for a prompt, e.g. `key file "keys/root.json"`. Never secret. */
  label: string;
  /** A new secret is being chosen: ask twice. */
  confirm?: boolean;
}

/**
 * Answers a `SecretRequest` with the secret: how a program supplies passphrases and PINs (a prompt,
 * an environment variable) without core ever reading a terminal.
 */
export type SecretCallback = (request: SecretRequest) => Promise<string>;

/** The request a key file passes to its passphrase callback. */
export type PassphraseRequest = SecretRequest;

/**
 * Calls `secrets` (internal). A TufError from the callback passes through (e.g. a cancelled
 * prompt the CLI reports itself); any other failure becomes a KeyError naming what was being
 * unlocked.
 */
export async function askSecret(
  secrets: SecretCallback | undefined,
  request: SecretRequest,
): Promise<string> {
  if (secrets === undefined) {
    throw new UsageError(`${request.label} needs a ${request.kind}, but no secrets callback was given`);
  }
  let secret: unknown;
  try {
    secret = await secrets(request);
  } catch (e) {
    if (isTufError(e)) throw e;
    throw new KeyError(`no ${request.kind} for ${request.label} (the secrets callback failed)`, { cause: e });
  }
  if (typeof secret !== 'string') {
    throw new UsageError(`the secrets callback must resolve to a string (for ${request.label})`);
  }
  return secret;
}
