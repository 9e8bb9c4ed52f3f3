/**
 * Who may read and write which GUN. Scopes are notary-server's: `repository:<gun>:pull` to read,
 * `repository:<gun>:push` to upload and to create online keys (ADR 0021). The HTTP layer asks an
 * `Authorizer` before every GUN route; what the authorizer learns (a token) never reaches a log
 * or an error.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { FormatError, parseJson } from '@tufa/core';

/** What a request wants to do with a GUN. */
export type Action = 'pull' | 'push';

/** An authorizer's verdict. */
export type AuthDecision =
  | { allowed: true }
  | {
      allowed: false;
      /** 401: no or unknown credentials (with a challenge); 403: known, but not for this. */
      status: 401 | 403;
      message: string;
    };

/** Decides from the `Authorization` header whether `action` on `gun` is allowed. */
export interface Authorizer {
  authorize(authorization: string | undefined, gun: string, action: Action): Promise<AuthDecision>;
  /** The `WWW-Authenticate` challenge of a 401. */
  challenge(gun: string, action: Action): string;
}

/** Every request allowed: a server on loopback for one user, or behind a proxy that authorises. */
export class AllowAll implements Authorizer {
  async authorize(): Promise<AuthDecision> {
    return { allowed: true };
  }
  challenge(): string {
    return 'Bearer realm="tufa"';
  }
}

/** One scope: a GUN pattern (exact, `prefix/*` or `*`) and the actions it grants. */
interface Scope {
  pattern: string;
  actions: Set<Action>;
}

/** A static token as configured: the sha256 of the token (never the token) and its scopes. */
export interface StaticTokenEntry {
  sha256: string;
  scopes: string[];
}

const SCOPE = /^repository:([^:]+(?::[0-9]+)?(?:\/[^:]+)*|\*):((?:pull|push)(?:,(?:pull|push))*)$/;

function parseScope(s: string, where: string): Scope {
  const m = typeof s === 'string' ? SCOPE.exec(s) : null;
  if (!m) {
    throw new FormatError(
      `expected a scope repository:<gun>:pull|push|pull,push, found ${JSON.stringify(s)}`,
      where,
    );
  }
  return { pattern: m[1] as string, actions: new Set((m[2] as string).split(',') as Action[]) };
}

function matches(pattern: string, gun: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('/*')) return gun.startsWith(pattern.slice(0, -1));
  return pattern === gun;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Static tokens with per-GUN scopes, for small setups: `Authorization: Bearer <token>`. The
 * configuration holds the sha256 of each token, so a leaked configuration file leaks no token.
 */
export class StaticTokenAuthorizer implements Authorizer {
  private readonly tokens: { digest: Buffer; scopes: Scope[] }[];
  private readonly anonymousPull: boolean;

  /**
   * @param entries the tokens (see `parseStaticTokens`).
   * @param anonymousPull whether reads without a token are allowed (default false).
   */
  constructor(entries: readonly StaticTokenEntry[], options: { anonymousPull?: boolean } = {}) {
    this.tokens = entries.map((e, i) => {
      if (typeof e?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) {
        throw new FormatError(
          'expected the sha256 of the token as 64 lower-case hex digits',
          `[${i}].sha256`,
        );
      }
      if (!Array.isArray(e.scopes)) throw new FormatError('expected an array of scopes', `[${i}].scopes`);
      return {
        digest: Buffer.from(e.sha256, 'hex'),
        scopes: e.scopes.map((s, j) => parseScope(s, `[${i}].scopes[${j}]`)),
      };
    });
    this.anonymousPull = options.anonymousPull ?? false;
  }

  async authorize(authorization: string | undefined, gun: string, action: Action): Promise<AuthDecision> {
    if (authorization === undefined) {
      if (action === 'pull' && this.anonymousPull) return { allowed: true };
      return { allowed: false, status: 401, message: 'authentication required' };
    }
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(authorization);
    if (!m) return { allowed: false, status: 401, message: 'expected Authorization: Bearer <token>' };
    const digest = sha256(m[1] as string);
    // Every entry is compared, in constant time each: which one matched takes no longer to find.
    let found: Scope[] | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, digest)) found = t.scopes;
    if (!found) return { allowed: false, status: 401, message: 'unknown token' };
    if (found.some((s) => s.actions.has(action) && matches(s.pattern, gun))) return { allowed: true };
    if (action === 'pull' && this.anonymousPull) return { allowed: true };
    return { allowed: false, status: 403, message: `the token does not grant ${action} on ${gun}` };
  }

  challenge(gun: string, action: Action): string {
    const scope = action === 'push' ? `repository:${gun}:pull,push` : `repository:${gun}:pull`;
    return `Bearer realm="tufa",scope="${scope}"`;
  }
}

/**
 * The static-token configuration: a JSON array of `{"sha256": "<hex>", "scopes": [...]}`
 * (`tufa server --tokens FILE`, or the `TUFA_SERVER_TOKENS` environment variable).
 * @throws {FormatError} the text is not such an array.
 */
export function parseStaticTokens(bytes: Uint8Array): StaticTokenEntry[] {
  const v = parseJson(bytes);
  if (!Array.isArray(v)) throw new FormatError('expected a JSON array of {"sha256", "scopes"} objects');
  for (const [i, e] of v.entries()) {
    if (typeof e !== 'object' || e === null || Array.isArray(e))
      throw new FormatError('expected an object', `[${i}]`);
    const keys = Object.keys(e);
    const unknown = keys.filter((k) => k !== 'sha256' && k !== 'scopes');
    if (unknown.length > 0) throw new FormatError(`unknown field ${JSON.stringify(unknown[0])}`, `[${i}]`);
  }
  // Validated (hex, scopes) by the authorizer's constructor.
  new StaticTokenAuthorizer(v as StaticTokenEntry[]);
  return v as StaticTokenEntry[];
}
