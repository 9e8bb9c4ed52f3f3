/**
 * Registry authentication as registries do it (distribution's token specification): a request
 * goes out anonymously (or with what an earlier challenge earned); a 401 names how to log in.
 *
 * - `Bearer realm=…,service=…`: ask the realm for a token for `repository:NAME:pull` — with the
 *   user's credentials only where the credential policy in core allows (DESIGN rule 12). Where it
 *   does not, the token is asked for anonymously (that carries no secret), and if the anonymous
 *   token is not enough the error says why the credentials were withheld.
 * - `Basic realm=…`: send the user name and password to the registry itself, under the same
 *   policy with the registry as its own realm (https, or http on loopback; no cross-origin
 *   redirect on the way).
 */
import { CredentialsRefusedError, FetchError, KeyError, mayReceiveCredentials } from '@tufa/core';
import {
  type TokenCredentials as CoreTokenCredentials,
  type HttpFetcherOptions,
  type HttpResponse,
  parseAuthChallenge,
  parseBearerChallenge,
  proxyForUrl,
  requestBearerToken,
} from '@tufa/core/node';
import type { CredentialLookup, RegistryCredentials } from './credentials/lookup.js';

export type ScopeAction = 'pull' | 'push';

/** What answering a challenge earned: the header to send, and what to say if it is not enough. */
export interface Authorization {
  header: string;
  /** The credentials used, if any. */
  credentials: RegistryCredentials | undefined;
  /** Credentials withheld from the realm (an anonymous token was asked for instead). */
  refusal: CredentialsRefusedError | undefined;
}

export interface AnswerChallengeInput {
  /** The URL requested (its origin is the registry the user named). */
  url: string;
  /** The 401 answer (closed), with its challenges. */
  answer: Pick<HttpResponse, 'url' | 'crossOriginRedirect' | 'headers'>;
  repository: string;
  actions: readonly ScopeAction[];
  lookup: () => Promise<CredentialLookup>;
  allowedRealmHosts: readonly string[];
  http: HttpFetcherOptions;
  signal: AbortSignal;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the registry';
  }
}

/** A 401 that credentials could not get past, worded for what was (not) tried. */
export function unauthorized(
  url: string,
  auth: Authorization | undefined,
  searched: readonly string[],
): Error {
  const host = hostOf(url);
  if (auth?.refusal !== undefined) {
    const r = auth.refusal;
    return new CredentialsRefusedError(
      `${r.message}; an anonymous token was not enough`,
      r.refusal,
      r.serverHost,
      r.realmHost,
    );
  }
  if (auth?.credentials !== undefined) {
    return new FetchError(`${host} refused the credentials from ${auth.credentials.source} (HTTP 401)`, 401);
  }
  return new FetchError(
    `${host} requires authentication and no credentials were found for it (looked in: ${searched.join(', ')})`,
    401,
  );
}

function toCore(c: RegistryCredentials): CoreTokenCredentials {
  return 'identityToken' in c
    ? { identityToken: c.identityToken }
    : { username: c.username, password: c.password };
}

/** Answers the challenges of a 401; throws when none can be answered. */
export async function answerChallenge(input: AnswerChallengeInput): Promise<Authorization> {
  const { answer, url } = input;
  const headers = answer.headers.get('www-authenticate') ?? [];
  const bearer = headers.map(parseBearerChallenge).find((c) => c !== undefined);
  const basic = headers.map(parseAuthChallenge).find((c) => c?.scheme === 'basic');
  if (bearer === undefined && basic === undefined) {
    throw new FetchError(`${hostOf(url)}: HTTP 401 without a Bearer or Basic challenge`, 401);
  }
  const { credentials, searched } = await input.lookup();
  if (bearer !== undefined) {
    const request = {
      server: url,
      challengeUrl: answer.url,
      crossOriginRedirect: answer.crossOriginRedirect,
      challenge: bearer,
      scopes: [`repository:${input.repository}:${input.actions.join(',')}`],
      allowedRealmHosts: input.allowedRealmHosts,
      http: input.http,
      signal: input.signal,
    };
    let refusal: CredentialsRefusedError | undefined;
    if (credentials !== undefined) {
      try {
        const t = await requestBearerToken({ ...request, credentials: toCore(credentials) });
        return { header: `Bearer ${t.token}`, credentials, refusal: undefined };
      } catch (e) {
        if (!(e instanceof CredentialsRefusedError)) throw e;
        refusal = e;
      }
    }
    const t = await requestBearerToken(request);
    return { header: `Bearer ${t.token}`, credentials: undefined, refusal };
  }
  if (credentials === undefined) throw unauthorized(url, undefined, searched);
  if ('identityToken' in credentials) {
    throw new KeyError(
      `${hostOf(url)} asks for a user name and password (Basic), but ${credentials.source} holds an identity token, which only a token service takes`,
    );
  }
  // The registry is its own realm here: the same rule decides whether it may see the password.
  const d = mayReceiveCredentials({
    server: url,
    challengeUrl: answer.url,
    crossOriginRedirect: answer.crossOriginRedirect,
    realm: url,
    viaProxy: (u) => {
      try {
        return proxyForUrl(u.href, input.http.env ?? process.env) !== undefined;
      } catch {
        return true;
      }
    },
  });
  if (!d.allowed) {
    throw new CredentialsRefusedError(
      `refusing to send the credentials for ${d.serverHost ?? 'the registry'} with Basic authentication: ${d.reason}`,
      d.refusal,
      d.serverHost,
      d.realmHost,
    );
  }
  const basicValue = Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString(
    'base64',
  );
  return { header: `Basic ${basicValue}`, credentials, refusal: undefined };
}
