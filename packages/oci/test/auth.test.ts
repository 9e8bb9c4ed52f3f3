/**
 * Answering a registry's 401 without a network: which challenge is answered how, and that Basic
 * credentials go to the registry only under core's credential policy (https, or http on
 * loopback; no cross-origin redirect on the way).
 */
import { describe, expect, it } from 'vitest';
import { answerChallenge } from '../src/auth.js';
import type { CredentialLookup } from '../src/credentials/lookup.js';
import { failure } from './helpers/failure.js';

const PASSWORD = 'pw-never-shown-8080';
const lookup = async (): Promise<CredentialLookup> => ({
  credentials: { username: 'u', password: PASSWORD, source: 'test' },
  searched: ['test'],
});

function input(
  url: string,
  challenge: string,
  extra: { answerUrl?: string; crossOriginRedirect?: boolean } = {},
) {
  return {
    url,
    answer: {
      url: extra.answerUrl ?? url,
      crossOriginRedirect: extra.crossOriginRedirect ?? false,
      headers: new Map([['www-authenticate', [challenge]]]),
    },
    repository: 'team/app',
    actions: ['pull'] as const,
    lookup,
    allowedRealmHosts: [],
    http: { env: {} },
    signal: new AbortController().signal,
  };
}

describe('answerChallenge: Basic', () => {
  it('sends the credentials to an https registry and to a loopback one over http', async () => {
    for (const url of ['https://reg.example.test/v2/team/app/manifests/1', 'http://127.0.0.1:5000/v2/x']) {
      const a = await answerChallenge(input(url, 'Basic realm="Registry"'));
      expect(a.header).toBe(`Basic ${Buffer.from(`u:${PASSWORD}`).toString('base64')}`);
    }
  });

  it('refuses plain http off loopback, even for a registry listed as insecure', async () => {
    const e = await failure(answerChallenge(input('http://reg.example.test/v2/x', 'Basic realm="Registry"')));
    expect(e.code).toBe('CREDENTIALS_REFUSED');
    expect(e.refusal).toBe('insecure-challenge');
    expect(e.message).not.toContain(PASSWORD);
  });

  it('refuses a challenge reached through a redirect to another origin', async () => {
    const e = await failure(
      answerChallenge(
        input('https://reg.example.test/v2/x', 'Basic realm="Registry"', {
          answerUrl: 'https://elsewhere.example.test/v2/x',
          crossOriginRedirect: true,
        }),
      ),
    );
    expect(e.refusal).toBe('cross-origin-redirect');
  });

  it('a 401 with neither Bearer nor Basic is FETCH 401', async () => {
    const e = await failure(answerChallenge(input('https://reg.example.test/v2/x', 'Negotiate')));
    expect(e).toMatchObject({ code: 'FETCH', status: 401 });
  });
});
