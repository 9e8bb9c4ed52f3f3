/**
 * `Pkcs11Signer`: tufa's async Signer over a private key that never leaves its token.
 *
 * Schemes (DESIGN rule 7):
 * - ed25519: CKM_EDDSA over the message (pure Ed25519).
 * - ecdsa-sha2-nistp256 / -nistp384: SHA-256 / SHA-384 on the host, CKM_ECDSA on the token
 *   (tokens rarely offer CKM_ECDSA_SHA384), and the raw r‖s converted to ASN.1 DER.
 * - rsassa-pss-sha256: CKM_SHA256_RSA_PKCS_PSS with MGF1-SHA-256 and a 32-byte salt, as
 *   securesystemslib signs; on tokens without it, SHA-256 on the host and CKM_RSA_PKCS_PSS.
 * Every signature is verified with the public key before it is returned: a token whose public
 * key object is not the pair of its private key, or that signs with other parameters, fails
 * here instead of in every client.
 */
import { createHash, createPublicKey } from 'node:crypto';
import {
  type Key,
  KeyError,
  type KeyKind,
  NotFoundError,
  Signature,
  type Signer,
  UsageError,
} from '@tufa/core';
import { redactUri, type SecretCallback } from '@tufa/core/node';
import { CK, type Handle, type Mechanism } from './binding.js';
import { ecdsaRawToDer } from './der.js';
import { CKR, ckrOf, mapPkcs11Error, SESSION_LOST } from './errors.js';
import { boolAttr, describeKey, findKeys, type KeyObjectInfo, publicKeyFor } from './keys.js';
import { type PinProvider, pinProvider } from './pin.js';
import { modulePathFor, openToken, type TokenDescription, type TokenSession } from './token.js';
import { formatPkcs11Uri, type Pkcs11Uri, parsePkcs11Uri } from './uri.js';

export interface Pkcs11Options {
  /** Answers `{ kind: 'pin' }` when neither the URI nor TUFA_PIN gives the PIN. */
  secrets?: SecretCallback;
  /** Environment for TUFA_PIN and TUFA_PKCS11_MODULE; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The module when the URI has no `module-path` (before TUFA_PKCS11_MODULE). */
  modulePath?: string;
  /** Directory a relative `pin-source=file:…` resolves against; default `process.cwd()`. */
  baseDir?: string;
}

export interface Pkcs11SignerOptions extends Pkcs11Options {
  /** The keyid to sign as; default `key.keyid()`. */
  keyid?: string;
}

interface SignPlan {
  name: string;
  mechanism: (session: TokenSession) => Mechanism;
  /** What the token is given: the message, or its digest. */
  input: (data: Uint8Array) => Buffer;
  outputBytes: number;
  /** The token's output as TUF signature bytes. */
  finish: (raw: Buffer) => Buffer;
}

function pssParams(session: TokenSession): { type: number; hashAlg: number; mgf: number; saltLen: number } {
  return {
    type: session.state.binding.CK_PARAMS_RSA_PSS,
    hashAlg: CK.CKM_SHA256,
    mgf: CK.CKG_MGF1_SHA256,
    saltLen: 32,
  };
}

function hostPss(session: TokenSession): boolean {
  const m = session.mechanisms();
  return m !== undefined && !m.has(CK.CKM_SHA256_RSA_PKCS_PSS) && m.has(CK.CKM_RSA_PKCS_PSS);
}

function planFor(kind: KeyKind, key: Key): SignPlan {
  // A copy: the token reads it on a worker thread while the caller's array stays theirs.
  const copy = (data: Uint8Array) => Buffer.from(data);
  switch (kind) {
    case 'ed25519':
      return {
        name: 'CKM_EDDSA (ed25519 signing)',
        mechanism: () => ({ mechanism: CK.CKM_EDDSA }),
        input: copy,
        outputBytes: 64,
        finish: (raw) => raw,
      };
    case 'ecdsa-p256':
    case 'ecdsa-p384': {
      const [hash, n] = kind === 'ecdsa-p256' ? (['sha256', 32] as const) : (['sha384', 48] as const);
      return {
        name: `CKM_ECDSA (${key.scheme} signing)`,
        mechanism: () => ({ mechanism: CK.CKM_ECDSA }),
        input: (data) => createHash(hash).update(data).digest(),
        outputBytes: 2 * n,
        finish: (raw) => ecdsaRawToDer(raw, n),
      };
    }
    case 'rsa': {
      // The signature is as long as the modulus.
      const bits = createPublicKey(key.keyval.public).asymmetricKeyDetails?.modulusLength ?? 0;
      return {
        name: 'CKM_SHA256_RSA_PKCS_PSS (rsassa-pss-sha256 signing)',
        mechanism: (session) => ({
          mechanism: hostPss(session) ? CK.CKM_RSA_PKCS_PSS : CK.CKM_SHA256_RSA_PKCS_PSS,
          parameter: pssParams(session),
        }),
        input: copy, // the digest instead when the token has only CKM_RSA_PKCS_PSS (see sign)
        outputBytes: Math.ceil(bits / 8),
        finish: (raw) => raw,
      };
    }
  }
}

/** Public URIs: what a signer, a generated key or a listing calls a key. No PIN, ever. */
export function keyUri(
  token: TokenDescription,
  key: { label: string | undefined; id: Buffer | undefined },
  from: Pkcs11Uri,
  type: 'private' | 'public' = 'private',
): string {
  const parts: Pkcs11Uri = { token: token.label };
  if (token.serial !== '') parts.serial = token.serial;
  if (key.label !== undefined) parts.object = key.label;
  if (key.id !== undefined) parts.id = key.id;
  parts.type = type;
  if (from.modulePath !== undefined) parts.modulePath = from.modulePath;
  if (from.pinSource !== undefined) parts.pinSource = from.pinSource;
  return formatPkcs11Uri(parts);
}

interface Resolved {
  token: TokenSession;
  priv: KeyObjectInfo;
  generation: number;
}

/** Finds the one private key `uri` selects (inside the token's queue, logged in). */
export function findPrivateKey(token: TokenSession, uri: Pkcs11Uri, shown: string): KeyObjectInfo {
  if (uri.type !== undefined && uri.type !== 'private') {
    throw new UsageError(
      `${shown} names a ${uri.type} object (type=${uri.type}); signing needs the private key (type=private)`,
    );
  }
  const keys = findKeys(token, uri, 'private');
  if (keys.length === 0) {
    throw new NotFoundError(
      `no private key on ${token.name} matches ${shown}${uri.object === undefined && uri.id === undefined ? '' : ' (check object= and id= against the keys listKeys shows)'}`,
    );
  }
  if (keys.length > 1) {
    const names = keys
      .slice(0, 10)
      .map((k) => describeKey(k))
      .join('; ');
    throw new UsageError(
      `${keys.length} private keys on ${token.name} match ${shown} (${names}${keys.length > 10 ? '; …' : ''}): add object=LABEL or id=… to the URI`,
    );
  }
  return keys[0] as KeyObjectInfo;
}

export class Pkcs11Signer implements Signer {
  readonly key: Key;
  readonly keyid: string;
  /** A URI that names this key exactly (token, serial, object, id, module-path; never a PIN). */
  readonly uri: string;
  /** The token the key lives on. */
  readonly token: TokenDescription;
  readonly #parsed: Pkcs11Uri;
  readonly #rawUri: string;
  readonly #modulePath: string;
  readonly #pin: PinProvider;
  readonly #plan: SignPlan;
  readonly #alwaysAuthenticate: boolean;
  /** The key as first found: re-found by these after the session is reopened. */
  readonly #selector: Pkcs11Uri;
  #resolved: Resolved;

  private constructor(args: {
    key: Key;
    keyid: string;
    parsed: Pkcs11Uri;
    rawUri: string;
    modulePath: string;
    pin: PinProvider;
    plan: SignPlan;
    alwaysAuthenticate: boolean;
    resolved: Resolved;
  }) {
    this.key = args.key;
    this.keyid = args.keyid;
    this.#parsed = args.parsed;
    this.#rawUri = args.rawUri;
    this.#modulePath = args.modulePath;
    this.#pin = args.pin;
    this.#plan = args.plan;
    this.#alwaysAuthenticate = args.alwaysAuthenticate;
    this.#resolved = args.resolved;
    const priv = args.resolved.priv;
    this.#selector = {
      ...(priv.id === undefined ? {} : { id: priv.id }),
      ...(priv.label === undefined ? {} : { object: priv.label }),
    };
    this.token = args.resolved.token.description;
    this.uri = keyUri(this.token, priv, args.parsed);
  }

  /**
   * Opens the private key `uri` names: loads the module, finds the token, logs in (asking for
   * the PIN as pin.ts describes) and reads the public key. The session and login are shared
   * with every other signer on the same token.
   */
  static async open(uri: string, options: Pkcs11SignerOptions = {}): Promise<Pkcs11Signer> {
    const parsed = parsePkcs11Uri(uri);
    const shown = redactUri(uri);
    const modulePath = modulePathFor(parsed, shown, options);
    const token = await openToken(parsed, uri, modulePath);
    const pin = pinProvider(parsed, token.name, options);
    return token.queue.run(async () => {
      try {
        await token.login(pin);
        const priv = findPrivateKey(token, parsed, shown);
        const what = `the key ${describeKey(priv)} on ${token.name}`;
        const pub = publicKeyFor(token, priv, what);
        const own = token.attributes(priv.handle, [CK.CKA_ALWAYS_AUTHENTICATE, CK.CKA_SIGN]);
        if (boolAttr(own.get(CK.CKA_SIGN)) === false) {
          throw new KeyError(`${what} may not sign (CKA_SIGN is false)`);
        }
        const plan = planFor(pub.kind, pub.key);
        return new Pkcs11Signer({
          key: pub.key,
          keyid: options.keyid ?? pub.key.keyid(),
          parsed,
          rawUri: uri,
          modulePath,
          pin,
          plan,
          alwaysAuthenticate: boolAttr(own.get(CK.CKA_ALWAYS_AUTHENTICATE)) === true,
          resolved: { token, priv, generation: token.generation },
        });
      } catch (e) {
        throw mapPkcs11Error(e, { operation: 'opening the key', token: token.name, uri: shown });
      }
    });
  }

  /** The private key handle for the current session, re-finding it after a reopen. */
  #handle(token: TokenSession): Handle {
    const r = this.#resolved;
    if (r.token === token && r.generation === token.generation) return r.priv.handle;
    const keys = findKeys(token, this.#selector, 'private');
    if (keys.length !== 1) {
      throw new NotFoundError(
        `the key ${describeKey(r.priv)} is no longer on ${token.name} (found ${keys.length} matching keys)`,
      );
    }
    const priv = keys[0] as KeyObjectInfo;
    this.#resolved = { token, priv, generation: token.generation };
    return priv.handle;
  }

  async #currentToken(): Promise<TokenSession> {
    const token = this.#resolved.token;
    if (!token.state.closed) return token;
    return openToken(this.#parsed, this.#rawUri, this.#modulePath);
  }

  /** One signature on `token`'s session, in its queue; undefined if the module was closed meanwhile. */
  async #signOn(token: TokenSession, data: Uint8Array, shown: string): Promise<Buffer | undefined> {
    const plan = this.#plan;
    for (let attempt = 0; ; attempt++) {
      if (token.state.closed) return undefined;
      let operation = 'C_Login';
      try {
        await token.login(this.#pin);
        const session = token.session();
        operation = 'C_FindObjects';
        const handle = this.#handle(token);
        const mechanism = plan.mechanism(token);
        const input =
          mechanism.mechanism === CK.CKM_RSA_PKCS_PSS
            ? createHash('sha256').update(data).digest()
            : plan.input(data);
        operation = 'C_SignInit';
        token.module.C_SignInit(session, mechanism, handle);
        if (this.#alwaysAuthenticate) {
          operation = 'C_Login (context-specific)';
          const pin = await this.#pin.get();
          try {
            token.module.C_Login(session, CK.CKU_CONTEXT_SPECIFIC, pin);
          } catch (e) {
            if (ckrOf(e) === CKR.CKR_PIN_INCORRECT) this.#pin.forget();
            // The operation stays active after a failed context login: start afresh next time.
            token.reset();
            throw e;
          }
        }
        operation = 'C_Sign';
        return await token.module.C_SignAsync(session, input, Buffer.alloc(plan.outputBytes));
      } catch (e) {
        const rv = ckrOf(e);
        if (attempt === 0 && rv !== undefined && SESSION_LOST.has(rv)) {
          token.reset(); // the session, its login or the key handle is gone: once more, afresh
          continue;
        }
        throw mapPkcs11Error(e, { operation, token: token.name, uri: shown, mechanism: plan.name });
      }
    }
  }

  async sign(data: Uint8Array): Promise<Signature> {
    if (!(data instanceof Uint8Array)) throw new UsageError('sign() takes a Uint8Array');
    const plan = this.#plan;
    const shown = redactUri(this.#rawUri);
    let token = await this.#currentToken();
    let raw = await token.queue.run(() => this.#signOn(token, data, shown));
    if (raw === undefined) {
      // closePkcs11 ran while this signature waited: reopen the module and try once more.
      token = await this.#currentToken();
      const again = token;
      raw = await again.queue.run(() => this.#signOn(again, data, shown));
      if (raw === undefined)
        throw new KeyError(`the PKCS#11 module was closed while signing with ${this.uri}`);
    }
    let sig: Buffer;
    try {
      sig = plan.finish(raw);
    } catch (e) {
      throw new KeyError(
        `${token.name} returned a malformed signature: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const hex = sig.toString('hex');
    if (!(await this.key.verify(data, hex))) {
      throw new KeyError(
        `the signature from ${token.name} does not verify with the public key ${this.key.keyid()} (${this.uri}): ` +
          'the public key object on the token may not be the pair of the private key',
      );
    }
    return new Signature(this.keyid, hex);
  }
}
