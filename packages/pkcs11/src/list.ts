/** Listing tokens and the keys on them. */
import { isTufError, type Key } from '@tufa/core';
import { redactUri } from '@tufa/core/node';
import { CK } from './binding.js';
import { curveOf } from './der.js';
import { mapPkcs11Error } from './errors.js';
import { findKeys, type KeyObjectInfo, keyTypeName, publicKeyFor, publicKeyFromAttributes } from './keys.js';
import { pinProvider } from './pin.js';
import { keyUri, type Pkcs11Options } from './signer.js';
import {
  getModule,
  MODULE_ENV,
  modulePathFor,
  openToken,
  presentTokens,
  type TokenDescription,
} from './token.js';
import { formatPkcs11Uri, type Pkcs11Uri, parsePkcs11Uri } from './uri.js';

export interface TokenListing extends TokenDescription {
  /** A URI selecting this token (token label and serial, and the module path). */
  uri: string;
}

/**
 * The tokens present in the module at `modulePath` (default: TUFA_PKCS11_MODULE), including
 * uninitialized ones (`initialized: false`), which no key URI can select.
 */
export async function listTokens(
  modulePath?: string,
  options: { env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<TokenListing[]> {
  const path = modulePathFor({}, `(${MODULE_ENV})`, {
    ...(modulePath === undefined ? {} : { modulePath }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const state = await getModule(path);
  return presentTokens(state).map(({ description }) => {
    const parts: Pkcs11Uri = { token: description.label };
    if (description.serial !== '') parts.serial = description.serial;
    parts.modulePath = path;
    return { ...description, uri: formatPkcs11Uri(parts) };
  });
}

export interface KeyListing {
  label: string | undefined;
  /** CKA_ID in lower-case hex (undefined when the key has none). */
  id: string | undefined;
  /** ed25519, ecdsa-p256, ecdsa-p384 or rsa; or what the token says for other types. */
  keyType: string;
  hasPrivateKey: boolean;
  hasPublicKey: boolean;
  /** The TUF public key and its keyid, when the public half can be read and TUF supports it. */
  key?: Key;
  keyid?: string;
  /** A URI naming this key (for `resolveSigner`); no PIN. */
  uri: string;
}

export interface ListKeysOptions extends Pkcs11Options {
  /**
   * Log in to see private keys (default true; asks for the PIN as signing does). Without a
   * login, most tokens show only public keys and certificates.
   */
  login?: boolean;
}

function groupKey(k: KeyObjectInfo): string {
  return k.id !== undefined ? `id:${k.id.toString('hex')}` : `label:${k.label ?? ''}`;
}

/**
 * The keys on the token `uri` selects (its object attributes, if any, narrow the list). Private
 * and public objects with the same CKA_ID (or, without one, label) are one entry.
 */
export async function listKeys(uri: string, options: ListKeysOptions = {}): Promise<KeyListing[]> {
  const parsed = parsePkcs11Uri(uri);
  const shown = redactUri(uri);
  const path = modulePathFor(parsed, shown, options);
  const token = await openToken(parsed, uri, path);
  const selector: Pkcs11Uri = {
    ...(parsed.object === undefined ? {} : { object: parsed.object }),
    ...(parsed.id === undefined ? {} : { id: parsed.id }),
  };
  const wanted = parsed.type;
  return token.queue.run(async () => {
    try {
      if (options.login !== false) await token.login(pinProvider(parsed, token.name, options));
      const priv = wanted === undefined || wanted === 'private' ? findKeys(token, selector, 'private') : [];
      const pub = wanted === undefined || wanted === 'public' ? findKeys(token, selector, 'public') : [];
      const groups = new Map<string, { priv?: KeyObjectInfo; pub?: KeyObjectInfo }>();
      for (const k of priv) {
        const g = groups.get(groupKey(k)) ?? {};
        g.priv ??= k;
        groups.set(groupKey(k), g);
      }
      for (const k of pub) {
        const g = groups.get(groupKey(k)) ?? {};
        g.pub ??= k;
        groups.set(groupKey(k), g);
      }
      const out: KeyListing[] = [];
      for (const g of groups.values()) {
        const first = (g.priv ?? g.pub) as KeyObjectInfo;
        const what = `the key ${first.label ?? ''} on ${token.name}`;
        let key: Key | undefined;
        try {
          if (g.pub !== undefined) {
            const attrs = token.attributes(g.pub.handle, [
              CK.CKA_EC_PARAMS,
              CK.CKA_EC_POINT,
              CK.CKA_MODULUS,
              CK.CKA_PUBLIC_EXPONENT,
            ]);
            key = publicKeyFromAttributes(g.pub.keyType, attrs, what).key;
          } else if (g.priv !== undefined) {
            key = publicKeyFor(token, g.priv, what).key;
          }
        } catch (e) {
          // An unsupported or unreadable key is still listed, without a TUF key.
          if (!isTufError(e)) throw e;
          key = undefined;
        }
        const params = token.attributes(first.handle, [CK.CKA_EC_PARAMS]).get(CK.CKA_EC_PARAMS);
        const entry: KeyListing = {
          label: first.label,
          id: first.id?.toString('hex'),
          keyType: keyTypeName(first.keyType, params === undefined ? undefined : curveOf(params)),
          hasPrivateKey: g.priv !== undefined,
          hasPublicKey: g.pub !== undefined,
          uri: keyUri(token.description, first, parsed, g.priv !== undefined ? 'private' : 'public'),
        };
        if (key !== undefined) {
          entry.key = key;
          entry.keyid = key.keyid();
        }
        out.push(entry);
      }
      const order = (k: KeyListing) => `${k.label ?? ''}\0${k.id ?? ''}`;
      return out.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
    } catch (e) {
      throw mapPkcs11Error(e, { operation: 'listing keys', token: token.name, uri: shown });
    }
  });
}
