/**
 * Key pairs generated on the token: the private key is created with CKA_TOKEN (it persists),
 * CKA_PRIVATE, CKA_SENSITIVE and not CKA_EXTRACTABLE (it can never be read out), and only
 * CKA_SIGN; the public key is a public token object with the same CKA_LABEL and CKA_ID.
 */
import { randomBytes } from 'node:crypto';
import { type Key, KeyError, type KeyKind, UsageError } from '@tufa/core';
import { redactUri } from '@tufa/core/node';
import { type Attribute, CK, type Mechanism } from './binding.js';
import { EC_PARAMS } from './der.js';
import { mapPkcs11Error } from './errors.js';
import { boolAttr, describeKey, findKeys } from './keys.js';
import { pinProvider } from './pin.js';
import { keyUri, type Pkcs11Options, Pkcs11Signer } from './signer.js';
import { modulePathFor, openToken } from './token.js';
import { parsePkcs11Uri } from './uri.js';

export interface GenerateOnTokenOptions extends Pkcs11Options {
  /** RSA modulus length; default 3072 (securesystemslib's default), 2048 to 16384. */
  rsaBits?: number;
}

export interface GeneratedTokenKey {
  /** The TUF public key. */
  key: Key;
  keyid: string;
  /** A URI naming the new private key exactly (token, serial, object, id, module-path; no PIN). */
  uri: string;
  /** A signer for it (sharing the token's session). */
  signer: Pkcs11Signer;
}

const KINDS: readonly KeyKind[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'];

interface KeyGenSpec {
  mechanism: Mechanism;
  mechanismName: string;
  keyType: number;
  publicAttrs: Attribute[];
  privateAttrs: Attribute[];
}

function specFor(kind: KeyKind, rsaBits: number): KeyGenSpec {
  switch (kind) {
    case 'ed25519':
      return {
        mechanism: { mechanism: CK.CKM_EC_EDWARDS_KEY_PAIR_GEN },
        mechanismName: 'CKM_EC_EDWARDS_KEY_PAIR_GEN (ed25519 keys)',
        keyType: CK.CKK_EC_EDWARDS,
        publicAttrs: [{ type: CK.CKA_EC_PARAMS, value: EC_PARAMS.ed25519 }],
        privateAttrs: [],
      };
    case 'ecdsa-p256':
    case 'ecdsa-p384':
      return {
        mechanism: { mechanism: CK.CKM_EC_KEY_PAIR_GEN },
        mechanismName: `CKM_EC_KEY_PAIR_GEN (${kind} keys)`,
        keyType: CK.CKK_EC,
        publicAttrs: [
          { type: CK.CKA_EC_PARAMS, value: kind === 'ecdsa-p256' ? EC_PARAMS.p256 : EC_PARAMS.p384 },
        ],
        privateAttrs: [],
      };
    case 'rsa':
      return {
        mechanism: { mechanism: CK.CKM_RSA_PKCS_KEY_PAIR_GEN },
        mechanismName: `CKM_RSA_PKCS_KEY_PAIR_GEN (rsa ${rsaBits} keys)`,
        keyType: CK.CKK_RSA,
        publicAttrs: [
          { type: CK.CKA_MODULUS_BITS, value: rsaBits },
          { type: CK.CKA_PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) },
        ],
        privateAttrs: [],
      };
  }
}

/**
 * Generates a key pair of `kind` on the token `uri` names. The URI must name the key with
 * `object=LABEL`; `id=` is optional (default: 16 random bytes). Refuses when a key with that
 * label or id already exists on the token. Asks for the PIN as `Pkcs11Signer.open` does.
 */
export async function generateKeyPairOnToken(
  uri: string,
  kind: KeyKind,
  options: GenerateOnTokenOptions = {},
): Promise<GeneratedTokenKey> {
  if (!KINDS.includes(kind)) {
    throw new UsageError(`unknown key kind ${String(kind)} (expected ${KINDS.join(', ')})`);
  }
  const rsaBits = options.rsaBits ?? 3072;
  if (!Number.isSafeInteger(rsaBits) || rsaBits < 2048 || rsaBits > 16384) {
    throw new UsageError(`rsaBits must be an integer from 2048 to 16384 (got ${rsaBits})`);
  }
  const parsed = parsePkcs11Uri(uri);
  const shown = redactUri(uri);
  if (parsed.object === undefined || parsed.object === '') {
    throw new UsageError(
      `name the new key with object=LABEL in the URI (${shown}), e.g. pkcs11:token=…;object=root-1`,
    );
  }
  if (parsed.type !== undefined && parsed.type !== 'private') {
    throw new UsageError(
      `${shown} names a ${parsed.type} object; generating a key pair takes type=private or no type`,
    );
  }
  const label = parsed.object;
  const id = parsed.id === undefined ? randomBytes(16) : Buffer.from(parsed.id);
  const modulePath = modulePathFor(parsed, shown, options);
  const token = await openToken(parsed, uri, modulePath);
  const pin = pinProvider(parsed, token.name, options);
  const spec = specFor(kind, rsaBits);

  await token.queue.run(async () => {
    let operation = 'C_Login';
    try {
      await token.login(pin);
      if (token.readOnly) {
        throw new KeyError(`${token.name} is write-protected: cannot create keys on it`);
      }
      const mechanisms = token.mechanisms();
      if (mechanisms !== undefined && !mechanisms.has(spec.mechanism.mechanism)) {
        throw new KeyError(`${token.name} does not support ${spec.mechanismName}`);
      }
      operation = 'C_FindObjects';
      for (const cls of ['private', 'public'] as const) {
        const clashes = [...findKeys(token, { object: label }, cls), ...findKeys(token, { id }, cls)];
        const clash = clashes[0];
        if (clash !== undefined) {
          throw new UsageError(
            `a ${cls} key with ${clash.label === label ? `label ${JSON.stringify(label)}` : `id ${id.toString('hex')}`} already exists on ${token.name} (${describeKey(clash)}): choose another object= (or id=), or delete that key first`,
          );
        }
      }
      const common: Attribute[] = [
        { type: CK.CKA_TOKEN, value: true },
        { type: CK.CKA_LABEL, value: Buffer.from(label, 'utf8') },
        { type: CK.CKA_ID, value: id },
        { type: CK.CKA_KEY_TYPE, value: spec.keyType },
      ];
      const publicTemplate: Attribute[] = [
        { type: CK.CKA_CLASS, value: CK.CKO_PUBLIC_KEY },
        ...common,
        { type: CK.CKA_PRIVATE, value: false },
        { type: CK.CKA_VERIFY, value: true },
        ...spec.publicAttrs,
      ];
      const privateTemplate: Attribute[] = [
        { type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY },
        ...common,
        { type: CK.CKA_PRIVATE, value: true },
        { type: CK.CKA_SENSITIVE, value: true },
        { type: CK.CKA_EXTRACTABLE, value: false },
        { type: CK.CKA_SIGN, value: true },
        ...spec.privateAttrs,
      ];
      operation = 'C_GenerateKeyPair';
      const session = token.session();
      const pair = await token.module.C_GenerateKeyPairAsync(
        session,
        spec.mechanism,
        publicTemplate,
        privateTemplate,
      );
      // A token that quietly ignored the protection attributes would leave an exportable key.
      operation = 'C_GetAttributeValue';
      const got = token.attributes(pair.privateKey, [CK.CKA_SENSITIVE, CK.CKA_EXTRACTABLE]);
      if (boolAttr(got.get(CK.CKA_SENSITIVE)) === false || boolAttr(got.get(CK.CKA_EXTRACTABLE)) === true) {
        for (const h of [pair.privateKey, pair.publicKey]) {
          try {
            token.module.C_DestroyObject(session, h);
          } catch {
            // best effort
          }
        }
        throw new KeyError(
          `${token.name} created the private key as extractable or not sensitive; it was deleted again`,
        );
      }
    } catch (e) {
      throw mapPkcs11Error(e, { operation, token: token.name, uri: shown, mechanism: spec.mechanismName });
    }
  });

  const exact = keyUri(token.description, { label, id }, parsed);
  // Open through the exact URI (with the caller's PIN settings, already logged in).
  const signer = await Pkcs11Signer.open(
    parsed.pinValue === undefined
      ? exact
      : `${exact}${exact.includes('?') ? '&' : '?'}pin-value=${encodeURIComponent(parsed.pinValue)}`,
    {
      ...options,
      modulePath,
    },
  );
  return { key: signer.key, keyid: signer.key.keyid(), uri: exact, signer };
}
