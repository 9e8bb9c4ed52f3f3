/**
 * Bearer tokens issued by a registry's token service (the docker distribution token protocol,
 * as notary-server accepted them): a JWT signed by a key of the token service's certificate
 * bundle, with `iss` and `aud` as configured, valid now, and an `access` claim granting `pull` or
 * `push` on `repository:<gun>`. Nothing of a token reaches a log or an answer.
 *
 * The signing key is named as the registry finds it: by an `x5c` chain that leads to the bundle,
 * or, without one, by a `kid` naming a bundle certificate's key (docker_auth, GitLab and Harbor
 * send only `kid`). A `kid` is the libtrust fingerprint (distribution 2.x) or the RFC 7638 JWK
 * thumbprint (distribution 3); distribution 3 computes EC "thumbprints" from the curve's base
 * point rather than the key, so every P-256 key gets the same one. A `kid` that names no bundle
 * key is therefore only a hint: the token is then checked against every bundle key valid now that
 * fits its algorithm. That trusts nothing distribution would not (it accepts a token signed by
 * any key of the bundle); it only finds the key another way.
 */
import { createHash, type KeyObject, verify, X509Certificate } from 'node:crypto';
import { FormatError, parseJson } from '@tufa/core';
import type { Action, AuthDecision, Authorizer } from './auth.js';

/** The JWS algorithms accepted, each bound to the key type and curve that may use it. */
const ALGORITHMS: Record<string, { hash: string; type: string; curve?: string }> = {
  ES256: { hash: 'sha256', type: 'ec', curve: 'prime256v1' },
  ES384: { hash: 'sha384', type: 'ec', curve: 'secp384r1' },
  ES512: { hash: 'sha512', type: 'ec', curve: 'secp521r1' },
  RS256: { hash: 'sha256', type: 'rsa' },
  RS384: { hash: 'sha384', type: 'rsa' },
  RS512: { hash: 'sha512', type: 'rsa' },
};

/** Clock skew tolerated on `exp` and `nbf`, in seconds. */
const LEEWAY = 60;
/** The longest token looked at. */
const MAX_TOKEN_LENGTH = 64 * 1024;
/** The most certificates a token service bundle may hold (a token may be tried against each). */
const MAX_BUNDLE = 32;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * libtrust's key ID, which distribution 2.x matches a token's `kid` against: SHA-256 of the DER
 * SubjectPublicKeyInfo, its first 240 bits in base32 (48 characters), in twelve groups of four
 * joined by colons.
 */
export function libtrustKeyId(key: KeyObject): string {
  const bytes = createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest()
    .subarray(0, 30);
  let bits = 0;
  let value = 0;
  let text = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      text += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return (text.match(/.{4}/g) as string[]).join(':');
}

/** The RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC or RSA key; undefined for others. */
export function jwkThumbprint(key: KeyObject): string | undefined {
  const jwk = key.export({ format: 'jwk' });
  // The required members only, in lexicographic order (RFC 7638 section 3.2).
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === 'RSA'
        ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
        : undefined;
  return members && createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** A certificate of the token service bundle, with the key IDs a `kid` may name its key by. */
interface BundleKey {
  certificate: X509Certificate;
  ids: Set<string>;
}

export interface RegistryTokenOptions {
  /** PEM certificates of the token service (the registry's `rootcertbundle`). */
  certificates: string;
  /** The `iss` the token service writes. */
  issuer: string;
  /** The `aud` it writes for this server (the registry's `service`). */
  audience: string;
  /** The realm clients get tokens from, named in the 401 challenge. */
  realm: string;
  /** Whether requests without a token may pull (default false). */
  anonymousPull?: boolean;
  /** The clock (tests). */
  now?: () => Date;
}

function splitPem(bundle: string): X509Certificate[] {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new FormatError('expected at least one PEM certificate in the token service bundle');
  if (blocks.length > MAX_BUNDLE)
    throw new FormatError(
      `expected at most ${MAX_BUNDLE} certificates in the token service bundle, found ${blocks.length}`,
    );
  return blocks.map((b) => new X509Certificate(b));
}

function b64urlJson(part: string, what: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) throw new FormatError(`the token's ${what} is not base64url`);
  const v = parseJson(Buffer.from(part, 'base64url'));
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new FormatError(`the token's ${what} is not an object`);
  return v as Record<string, unknown>;
}

/** Verifies registry-issued JWTs against the token service's certificate bundle. */
export class RegistryTokenAuthorizer implements Authorizer {
  private readonly roots: X509Certificate[];
  private readonly bundleKeys: BundleKey[];
  private readonly options: RegistryTokenOptions;
  private readonly now: () => Date;

  constructor(options: RegistryTokenOptions) {
    this.roots = splitPem(options.certificates);
    this.bundleKeys = this.roots.map((certificate) => {
      const ids = new Set([libtrustKeyId(certificate.publicKey)]);
      const thumbprint = jwkThumbprint(certificate.publicKey);
      if (thumbprint) ids.add(thumbprint);
      return { certificate, ids };
    });
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /** The leaf's public key when the `x5c` chain ends at a certificate of the bundle; else why not. */
  private chainKey(x5c: unknown): KeyObject | string {
    if (
      !Array.isArray(x5c) ||
      x5c.length === 0 ||
      x5c.length > 8 ||
      !x5c.every((c) => typeof c === 'string')
    ) {
      return 'the token carries no x5c certificate chain';
    }
    let chain: X509Certificate[];
    try {
      chain = (x5c as string[]).map((c) => new X509Certificate(Buffer.from(c, 'base64')));
    } catch {
      return 'the token x5c chain is not DER certificates';
    }
    const at = this.now();
    for (const c of chain) {
      if (at < new Date(c.validFrom) || at > new Date(c.validTo))
        return 'a certificate of the token x5c chain is not valid now';
    }
    for (let i = 0; i + 1 < chain.length; i++) {
      const [child, parent] = [chain[i] as X509Certificate, chain[i + 1] as X509Certificate];
      if (!child.checkIssued(parent) || !child.verify(parent.publicKey))
        return 'the token x5c chain is broken';
    }
    const top = chain.at(-1) as X509Certificate;
    const anchored = this.roots.some(
      (r) => r.raw.equals(top.raw) || (top.checkIssued(r) && top.verify(r.publicKey)),
    );
    if (!anchored) return 'the token x5c chain does not lead to the token service bundle';
    return (chain[0] as X509Certificate).publicKey;
  }

  /**
   * The bundle keys a token without `x5c` may be signed by: the one its `kid` names, else (a
   * `kid` computed another way, see the module comment) every one valid now; or why none.
   */
  private keysFor(kid: unknown, fits: (key: KeyObject) => boolean): KeyObject[] | string {
    if (typeof kid !== 'string' || kid === '') return 'the token names no signing key (expected x5c or kid)';
    const at = this.now();
    const validNow = (c: X509Certificate) => at >= new Date(c.validFrom) && at <= new Date(c.validTo);
    const named = this.bundleKeys.find((k) => k.ids.has(kid));
    if (named) {
      if (!validNow(named.certificate)) return 'the token service certificate its kid names is not valid now';
      return [named.certificate.publicKey];
    }
    const keys = this.roots
      .filter(validNow)
      .map((c) => c.publicKey)
      .filter(fits);
    return keys.length > 0
      ? keys
      : 'no certificate of the token service bundle fits the token kid and algorithm';
  }

  /** The access the token grants, or why it is refused. */
  private check(token: string): { access: { name: string; actions: Set<string> }[] } | string {
    if (token.length > MAX_TOKEN_LENGTH) return 'the token is too long';
    const parts = token.split('.');
    if (parts.length !== 3) return 'the token is not a JWS compact serialisation';
    const [h, c, s] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = b64urlJson(h, 'header');
      claims = b64urlJson(c, 'claims');
    } catch (e) {
      return (e as Error).message;
    }
    const alg = typeof header.alg === 'string' ? ALGORITHMS[header.alg] : undefined;
    if (!alg || !Object.hasOwn(ALGORITHMS, header.alg as string))
      return 'the token algorithm is not one of ES256/384/512, RS256/384/512';
    // The algorithm must fit the certificate's key: no algorithm confusion.
    const fits = (key: KeyObject) =>
      key.asymmetricKeyType === alg.type &&
      (!alg.curve || key.asymmetricKeyDetails?.namedCurve === alg.curve);
    // As distribution: x5c when the token has one, else kid.
    const chained = header.x5c !== undefined ? this.chainKey(header.x5c) : undefined;
    if (typeof chained === 'string') return chained;
    if (chained && !fits(chained)) return 'the token algorithm does not match its certificate key';
    const keys = chained ? [chained] : this.keysFor(header.kid, fits);
    if (typeof keys === 'string') return keys;
    if (!keys.some(fits)) return 'the token algorithm does not match its certificate key';
    if (!/^[A-Za-z0-9_-]+$/.test(s)) return 'the token signature is not base64url';
    const input = Buffer.from(`${h}.${c}`);
    const signature = Buffer.from(s, 'base64url');
    const ok = keys.some(
      (key) =>
        fits(key) &&
        verify(alg.hash, input, alg.type === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : key, signature),
    );
    if (!ok) return 'the token signature does not verify';
    if (claims.iss !== this.options.issuer) return 'the token issuer is not the configured one';
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(this.options.audience)) return 'the token audience is not this service';
    const now = Math.floor(this.now().getTime() / 1000);
    if (typeof claims.exp !== 'number' || now >= claims.exp + LEEWAY) return 'the token expired';
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now + LEEWAY < claims.nbf)) {
      return 'the token is not valid yet';
    }
    const access = Array.isArray(claims.access) ? claims.access : [];
    return {
      access: access.flatMap((a: unknown) => {
        const e = a as { type?: unknown; name?: unknown; actions?: unknown };
        if (e?.type !== 'repository' || typeof e.name !== 'string' || !Array.isArray(e.actions)) return [];
        return [
          { name: e.name, actions: new Set(e.actions.filter((x): x is string => typeof x === 'string')) },
        ];
      }),
    };
  }

  async authorize(authorization: string | undefined, gun: string, action: Action): Promise<AuthDecision> {
    if (authorization === undefined) {
      if (action === 'pull' && this.options.anonymousPull) return { allowed: true };
      return { allowed: false, status: 401, message: 'authentication required' };
    }
    const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization);
    if (!m) return { allowed: false, status: 401, message: 'expected Authorization: Bearer <token>' };
    const r = this.check(m[1] as string);
    if (typeof r === 'string') return { allowed: false, status: 401, message: r };
    // notary-server: push needs pull and push (an uploader reads the current state first).
    const grants = r.access.filter((a) => a.name === gun);
    const has = (x: string) => grants.some((g) => g.actions.has(x) || g.actions.has('*'));
    if (has(action)) return { allowed: true };
    if (action === 'pull' && this.options.anonymousPull) return { allowed: true };
    return { allowed: false, status: 403, message: `the token does not grant ${action} on ${gun}` };
  }

  challenge(gun: string, action: Action): string {
    const scope = action === 'push' ? `repository:${gun}:pull,push` : `repository:${gun}:pull`;
    const q = (v: string) => JSON.stringify(v);
    return `Bearer realm=${q(this.options.realm)},service=${q(this.options.audience)},scope=${q(scope)}`;
  }
}
