/**
 * Bearer tokens for a trust server (issue 15: "on a 401 Bearer challenge the CLI runs the token
 * flow with the user's registry credentials"). `TUFA_AUTH_TOKEN` (a static token) when set;
 * else, when the server answers 401 with a Bearer challenge (one behind a registry's token
 * service does), a token from that service for `repository:GUN:<actions>`, asked for with the
 * user's registry credentials for the GUN's registry (the sources `--server oci://` uses) where
 * the credential rule allows it (core's requestBearerToken: the realm on the server's host, or
 * one allowed in `tokenRealmHosts`), anonymously otherwise.
 */
import type { Fetcher, FetchRequest } from '@tufa/core';
import { CredentialsRefusedError, FetchError, normalizeRealmHost } from '@tufa/core';
import { HttpFetcher, type HttpFetcherOptions } from '@tufa/core/node';
import { withRegistryHint } from './registry.js';
import { readSettings, settingsPath } from './settings.js';

/** The lower-case host name of a URL (IPv6 without brackets), or undefined. */
function hostOf(url: string): string | undefined {
  try {
    return normalizeRealmHost(new URL(url).hostname);
  } catch {
    return undefined;
  }
}

const registryHostOf = (registry: string) => hostOf(`https://${registry}/`);

/**
 * The token for `actions` on `gun` at the server `url`; undefined when the server does not
 * challenge (or challenges without a Bearer realm: nothing to ask).
 */
export async function serverToken(
  url: string,
  gun: string,
  actions: 'pull' | 'pull,push',
  fetcherOptions: HttpFetcherOptions = {},
  tokenRealmHosts: readonly string[] = [],
): Promise<string | undefined> {
  const token = process.env.TUFA_AUTH_TOKEN;
  if (token) return token;
  const { parseBearerChallenge, requestBearerToken } = await import('@tufa/core/node');
  // The keys route needs pull access: what the server answers without a token says how to get one.
  const probe = `${url}/${gun}/keys`;
  const signal = AbortSignal.timeout(120_000);
  const answer = await new HttpFetcher(fetcherOptions).request(probe, { accept: 'application/json', signal });
  answer.close();
  if (answer.status !== 401) return undefined;
  const challenge = (answer.headers.get('www-authenticate') ?? [])
    .map(parseBearerChallenge)
    .find((c) => c !== undefined);
  if (challenge === undefined) return undefined;
  const { findRegistryCredentials } = await import('@tufa/oci');
  const [registry = '', ...path] = gun.split('/');
  const { credentials } = await findRegistryCredentials(registry, path.join('/'));
  // `--token-realm-host` adds to the settings, as it does for a registry.
  const allowed = [...(await readSettings()).tokenRealmHosts, ...tokenRealmHosts];
  const registryHost = registryHostOf(registry);
  // The credentials are the registry's, and the realm is named by the trust server: they go to
  // the registry's own host or to a realm host the user allowed, never to whatever the trust
  // server names (a server the user reads from must not be able to collect registry passwords).
  if (credentials !== undefined) {
    const realmHost = hostOf(challenge.realm);
    const ok =
      realmHost !== undefined &&
      (realmHost === registryHost || allowed.some((h) => normalizeRealmHost(h) === realmHost));
    if (!ok) {
      throw Object.assign(
        new CredentialsRefusedError(
          `refusing to send the credentials for ${registry} to the token realm ${realmHost === undefined ? 'it names' : `on ${realmHost}`}, named by the trust server ${url}: expected the realm on ${registryHost ?? registry} or a host allowed explicitly`,
          'realm-host',
          registry,
          realmHost,
        ),
        {
          hint: `only if ${realmHost ?? 'that host'} is the token service of ${registry}: add --token-realm-host ${realmHost ?? 'HOST'} (or "tokenRealmHosts": ["${realmHost ?? 'HOST'}"] in ${settingsPath()})`,
        },
      );
    }
  }
  const request = {
    server: probe,
    challengeUrl: answer.url,
    crossOriginRedirect: answer.crossOriginRedirect,
    challenge,
    scopes: [`repository:${gun}:${actions}`],
    // The core's rule (the realm on the trust server's host, or allowed) also applies; the
    // registry's host counts as allowed, checked above.
    allowedRealmHosts: registryHost === undefined ? allowed : [...allowed, registryHost],
    // The CA and timeouts of the server's connection: a token service behind the same private
    // CA is reached as the server is (core never sends the server's headers to it).
    http: fetcherOptions,
    signal,
  };
  try {
    const t = await requestBearerToken(
      credentials === undefined
        ? request
        : {
            ...request,
            credentials:
              'identityToken' in credentials
                ? { identityToken: credentials.identityToken }
                : { username: credentials.username, password: credentials.password },
          },
    );
    return t.token;
  } catch (e) {
    throw withRegistryHint(e);
  }
}

/**
 * A reader's fetcher for a trust server: requests go out as given (anonymous reads cost nothing
 * extra); the first 401 runs the token flow for `pull` once, and that request and every later
 * one carry the token. Only when neither `TUFA_AUTH_TOKEN` nor an `Authorization` header was
 * given (those are the user's choice, kept as they are).
 */
export class TokenOnChallengeFetcher implements Fetcher {
  private current: HttpFetcher;
  private tried = false;

  constructor(
    private readonly server: string,
    private readonly gun: string,
    private readonly options: HttpFetcherOptions,
    private readonly tokenRealmHosts: readonly string[] = [],
  ) {
    this.current = new HttpFetcher(options);
  }

  async *fetch(url: string, request: FetchRequest): AsyncGenerator<Uint8Array> {
    let first = true;
    try {
      for await (const chunk of this.current.fetch(url, request)) {
        first = false;
        yield chunk;
      }
    } catch (e) {
      if (!first || this.tried || !(e instanceof FetchError) || e.status !== 401) throw e;
      this.tried = true;
      const token = await serverToken(this.server, this.gun, 'pull', this.options, this.tokenRealmHosts);
      if (token === undefined) throw e;
      this.current = new HttpFetcher({
        ...this.options,
        headers: { ...(this.options.headers ?? {}), Authorization: `Bearer ${token}` },
      });
      yield* this.current.fetch(url, request);
    }
  }
}
