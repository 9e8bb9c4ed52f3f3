/** The token-realm credential policy (DESIGN rule 12), as tables. */
import { describe, expect, it } from 'vitest';
import {
  type CredentialPolicyInput,
  isLoopbackUrl,
  mayReceiveCredentials,
  normalizeRealmHost,
} from '../../src/auth/credential-policy.js';

type Row = [
  description: string,
  server: string,
  challengeUrl: string,
  realm: string,
  expected: string,
  extra?: Partial<CredentialPolicyInput>,
];

const NOTARY = 'https://notary.example.com';
const at = (server: string) => `${server}/v2/example.com/app/_trust/tuf/root.json`;

const rows: Row[] = [
  // Allowed: the server's own host, a built-in pair, a host the user allowed.
  ['same host', NOTARY, at(NOTARY), 'https://notary.example.com/token', 'same-host'],
  ['same host, another port', NOTARY, at(NOTARY), 'https://notary.example.com:5001/auth', 'same-host'],
  ['same host, upper case', NOTARY, at(NOTARY), 'HTTPS://NOTARY.Example.COM/token', 'same-host'],
  ['same host, trailing dot', NOTARY, at(NOTARY), 'https://notary.example.com./token', 'same-host'],
  ['explicit default port', `${NOTARY}:443`, at(NOTARY), 'https://notary.example.com/token', 'same-host'],
  [
    'Docker Hub notary',
    'https://notary.docker.io',
    at('https://notary.docker.io'),
    'https://auth.docker.io/token',
    'built-in',
  ],
  [
    'Docker Hub registry',
    'https://registry-1.docker.io',
    at('https://registry-1.docker.io'),
    'https://auth.docker.io/token',
    'built-in',
  ],
  [
    'Docker Hub index',
    'https://index.docker.io/',
    at('https://index.docker.io'),
    'https://auth.docker.io/token',
    'built-in',
  ],
  [
    'a host the user allowed',
    NOTARY,
    at(NOTARY),
    'https://auth.example.com/token',
    'user-allowed',
    { allowedRealmHosts: ['other.example.org', 'auth.example.com'] },
  ],
  [
    'a host the user allowed, spelt differently',
    NOTARY,
    at(NOTARY),
    'https://auth.example.com./token',
    'user-allowed',
    { allowedRealmHosts: ['AUTH.Example.com.'] },
  ],
  // Loopback: plain http is fine (nobody is on the path), on 127.0.0.0/8, ::1 and localhost.
  [
    'loopback, another port',
    'http://127.0.0.1:4443',
    at('http://127.0.0.1:4443'),
    'http://127.0.0.1:5001/t',
    'same-host',
  ],
  ['all of 127/8', 'http://127.9.8.7:1', at('http://127.9.8.7:1'), 'http://127.9.8.7:2/t', 'same-host'],
  ['127.1 spelling', 'http://127.1:1', at('http://127.0.0.1:1'), 'http://0x7f.0.0.1:2/t', 'same-host'],
  ['IPv6 loopback', 'http://[::1]:4443', at('http://[::1]:4443'), 'http://[::1]:5001/t', 'same-host'],
  [
    'IPv6 loopback, long form',
    'http://[::1]:1',
    at('http://[0:0:0:0:0:0:0:1]:1'),
    'http://[0::1]:2/t',
    'same-host',
  ],
  ['localhost', 'http://localhost:4443', at('http://localhost:4443'), 'http://localhost:5001/t', 'same-host'],
  [
    'https challenge, loopback realm',
    'https://127.0.0.1:1',
    at('https://127.0.0.1:1'),
    'http://127.0.0.1:2/t',
    'same-host',
  ],
  [
    'loopback challenge, allowed https realm',
    'http://127.0.0.1:1',
    at('http://127.0.0.1:1'),
    'https://auth.example.com/t',
    'user-allowed',
    { allowedRealmHosts: ['auth.example.com'] },
  ],

  // (c) the realm's host.
  ['another host', NOTARY, at(NOTARY), 'https://evil.example.net/token', 'realm-host'],
  ['a sibling host', NOTARY, at(NOTARY), 'https://auth.example.com/token', 'realm-host'],
  ['a parent host', NOTARY, at(NOTARY), 'https://example.com/token', 'realm-host'],
  ['a suffix of the server', NOTARY, at(NOTARY), 'https://notary.example.com.evil.net/t', 'realm-host'],
  [
    'a built-in pair for another server',
    'https://registry.example.com',
    at('https://registry.example.com'),
    'https://auth.docker.io/token',
    'realm-host',
  ],
  [
    'a built-in pair backwards',
    'https://auth.docker.io',
    at('https://auth.docker.io'),
    'https://notary.docker.io/token',
    'realm-host',
  ],
  [
    'docker.io is not a pair',
    'https://docker.io',
    at('https://docker.io'),
    'https://auth.docker.io/t',
    'realm-host',
  ],
  [
    'look-alike of auth.docker.io',
    'https://notary.docker.io',
    at('https://notary.docker.io'),
    'https://auth.docker.io.evil.net/token',
    'realm-host',
  ],
  [
    'localhost.evil.com is not loopback and not the server',
    'http://localhost:1',
    at('http://localhost:1'),
    'https://localhost.evil.com/t',
    'realm-host',
  ],
  [
    'another loopback spelling is another host',
    'http://localhost:1',
    at('http://localhost:1'),
    'http://127.0.0.1:2/t',
    'realm-host',
  ],
  [
    'allowed entries with a port, scheme or wildcard allow nothing',
    NOTARY,
    at(NOTARY),
    'https://auth.example.com/token',
    'realm-host',
    {
      allowedRealmHosts: [
        'auth.example.com:443',
        'https://auth.example.com',
        '*.example.com',
        '.example.com',
      ],
    },
  ],

  // (a) where the challenge came from.
  [
    'plain http challenge',
    'http://notary.example.com',
    at('http://notary.example.com'),
    'https://notary.example.com/t',
    'insecure-challenge',
  ],
  [
    'plain http challenge, even with the realm allowed',
    'http://notary.example.com',
    at('http://notary.example.com'),
    'https://auth.example.com/t',
    'insecure-challenge',
    { allowedRealmHosts: ['auth.example.com'] },
  ],
  [
    'localhost.evil.com over http',
    'http://localhost.evil.com',
    at('http://localhost.evil.com'),
    'https://localhost.evil.com/t',
    'insecure-challenge',
  ],
  [
    'localhost. is not loopback',
    'http://localhost.:1',
    at('http://localhost.:1'),
    'http://localhost.:2/t',
    'insecure-challenge',
  ],
  [
    '*.localhost is not loopback',
    'http://a.localhost:1',
    at('http://a.localhost:1'),
    'http://a.localhost:2/t',
    'insecure-challenge',
  ],
  [
    '128.0.0.1 is not loopback',
    'http://128.0.0.1:1',
    at('http://128.0.0.1:1'),
    'http://128.0.0.1:2/t',
    'insecure-challenge',
  ],
  [
    '126.255.255.255 is not loopback',
    'http://126.255.255.255',
    at('http://126.255.255.255'),
    'https://126.255.255.255/t',
    'insecure-challenge',
  ],
  [
    '0.0.0.0 is not loopback',
    'http://0.0.0.0:1',
    at('http://0.0.0.0:1'),
    'http://0.0.0.0:2/t',
    'insecure-challenge',
  ],
  [
    'IPv4-mapped ::1 is not loopback',
    'http://[::ffff:127.0.0.1]:1',
    at('http://[::ffff:127.0.0.1]:1'),
    'http://[::ffff:127.0.0.1]:2/t',
    'insecure-challenge',
  ],
  ['::2 is not loopback', 'http://[::2]:1', at('http://[::2]:1'), 'http://[::2]:2/t', 'insecure-challenge'],
  [
    'loopback through a proxy is not loopback',
    'http://127.0.0.1:1',
    at('http://127.0.0.1:1'),
    'https://127.0.0.1:2/t',
    'insecure-challenge',
    { viaProxy: () => true },
  ],

  // (b) the realm's scheme.
  [
    'plain http realm on the same host',
    NOTARY,
    at(NOTARY),
    'http://notary.example.com/token',
    'insecure-realm',
  ],
  [
    'plain http realm on an allowed host',
    NOTARY,
    at(NOTARY),
    'http://auth.example.com/token',
    'insecure-realm',
    { allowedRealmHosts: ['auth.example.com'] },
  ],
  [
    'plain http realm off loopback',
    'http://127.0.0.1:1',
    at('http://127.0.0.1:1'),
    'http://evil.example.net/t',
    'insecure-realm',
  ],
  [
    'loopback realm through a proxy',
    'https://127.0.0.1:1',
    at('https://127.0.0.1:1'),
    'http://127.0.0.1:2/t',
    'insecure-realm',
    { viaProxy: (u) => u.protocol === 'http:' },
  ],

  // Redirects: never after one to another origin, even back to the server.
  [
    'a redirect left the origin',
    NOTARY,
    at(NOTARY),
    'https://notary.example.com/token',
    'cross-origin-redirect',
    { crossOriginRedirect: true },
  ],
  [
    'challenge from another host',
    NOTARY,
    at('https://mirror.example.com'),
    'https://mirror.example.com/t',
    'cross-origin-redirect',
  ],
  [
    'challenge from another port',
    NOTARY,
    at('https://notary.example.com:8443'),
    'https://notary.example.com/t',
    'cross-origin-redirect',
  ],
  [
    'challenge from another scheme',
    'http://127.0.0.1:1',
    at('https://127.0.0.1:1'),
    'https://127.0.0.1/t',
    'cross-origin-redirect',
  ],
  [
    'loopback 127.0.0.1 vs localhost',
    'http://127.0.0.1:1',
    at('http://localhost:1'),
    'http://localhost:1/t',
    'cross-origin-redirect',
  ],

  // User information and URLs another parser could read differently.
  ['credentials in the realm', NOTARY, at(NOTARY), 'https://user:pw@notary.example.com/token', 'userinfo'],
  [
    'the server name as realm user',
    NOTARY,
    at(NOTARY),
    'https://notary.example.com@evil.example.net/t',
    'userinfo',
  ],
  [
    'credentials in the server URL',
    'https://u:p@notary.example.com',
    at(NOTARY),
    'https://notary.example.com/t',
    'userinfo',
  ],
  [
    'backslash in the realm',
    NOTARY,
    at(NOTARY),
    'https://evil.example.net\\@notary.example.com/t',
    'invalid-url',
  ],
  ['a tab in the realm', NOTARY, at(NOTARY), 'https://notary.exa\tmple.com/t', 'invalid-url'],
  ['a newline in the realm', NOTARY, at(NOTARY), 'https://notary.example.com\n.evil.net/t', 'invalid-url'],
  ['a relative realm', NOTARY, at(NOTARY), '/token', 'invalid-url'],
  ['another scheme', NOTARY, at(NOTARY), 'ftp://notary.example.com/token', 'invalid-url'],
  ['an empty realm', NOTARY, at(NOTARY), '', 'invalid-url'],
  ['a non-ASCII realm', NOTARY, at(NOTARY), 'https://nοtary.example.com/token', 'invalid-url'],
  ['a bad server URL', 'notary.example.com', at(NOTARY), 'https://notary.example.com/token', 'invalid-url'],
];

describe('mayReceiveCredentials', () => {
  it.each(rows)('%s', (_d, server, challengeUrl, realm, expected, extra) => {
    const d = mayReceiveCredentials({ server, challengeUrl, realm, crossOriginRedirect: false, ...extra });
    if (d.allowed) expect(d.grant).toBe(expected);
    else expect(d.refusal, d.reason).toBe(expected);
  });

  it('names the realm and server hosts in a refusal, never the whole realm URL', () => {
    const d = mayReceiveCredentials({
      server: NOTARY,
      challengeUrl: at(NOTARY),
      crossOriginRedirect: false,
      realm: 'https://evil.example.net/token?secret=abc',
    });
    expect(d).toMatchObject({
      allowed: false,
      refusal: 'realm-host',
      serverHost: 'notary.example.com',
      realmHost: 'evil.example.net',
    });
    if (d.allowed) throw new Error('unreachable');
    expect(d.reason).toContain('evil.example.net');
    expect(d.reason).toContain('notary.example.com');
    expect(d.reason).not.toContain('secret');
  });

  it('asks about a proxy only for plain http to loopback, with the parsed URL', () => {
    const asked: string[] = [];
    const viaProxy = (u: URL) => {
      asked.push(u.href);
      return false;
    };
    mayReceiveCredentials({
      server: 'http://127.0.0.1:1',
      challengeUrl: 'http://127.0.0.1:1/x',
      crossOriginRedirect: false,
      realm: 'http://127.0.0.1:2/t',
      viaProxy,
    });
    expect(asked).toEqual(['http://127.0.0.1:1/x', 'http://127.0.0.1:2/t']);
    asked.length = 0;
    mayReceiveCredentials({
      server: NOTARY,
      challengeUrl: at(NOTARY),
      crossOriginRedirect: false,
      realm: 'https://notary.example.com/t',
      viaProxy,
    });
    expect(asked).toEqual([]);
  });
});

describe('isLoopbackUrl', () => {
  it.each([
    ['http://localhost/', true],
    ['http://LOCALHOST:80/', true],
    ['http://127.0.0.1/', true],
    ['http://127.255.255.255/', true],
    ['http://127.1/', true],
    ['http://2130706433/', true],
    ['http://0177.0.0.1/', true],
    ['http://[::1]/', true],
    ['http://[0:0:0:0:0:0:0:1]/', true],
    ['http://localhost./', false],
    ['http://localhost.evil.com/', false],
    ['http://evil.localhost/', false],
    ['http://127.0.0.1.evil.com/', false],
    ['http://128.0.0.1/', false],
    ['http://0.0.0.0/', false],
    ['http://[::ffff:127.0.0.1]/', false],
    ['http://[::]/', false],
    ['http://10.0.0.1/', false],
  ])('%s → %s', (url, expected) => {
    expect(isLoopbackUrl(new URL(url))).toBe(expected);
  });
});

describe('normalizeRealmHost', () => {
  it.each([
    ['auth.example.com', 'auth.example.com'],
    ['AUTH.Example.COM', 'auth.example.com'],
    ['auth.example.com.', 'auth.example.com'],
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['[::1]', '[::1]'],
    ['[0:0::1]', '[::1]'],
    ['localhost', 'localhost'],
  ])('%s → %s', (entry, expected) => {
    expect(normalizeRealmHost(entry)).toBe(expected);
  });

  it.each([
    '',
    '.',
    'https://auth.example.com',
    'auth.example.com:443',
    'auth.example.com:5001',
    'auth.example.com/token',
    'user@auth.example.com',
    '*.example.com',
    'auth example.com',
    '::1',
    '[::1]:443',
    'auth.example.com\\',
    'äuth.example.com',
    'auth..example.com',
    'a'.repeat(300),
  ])('refuses %j', (entry) => {
    expect(normalizeRealmHost(entry)).toBeUndefined();
  });
});
