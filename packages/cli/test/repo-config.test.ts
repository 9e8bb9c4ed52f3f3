/**
 * The per-repository configuration, `$TUFA_HOME/repos/GUN/config.json`, as data: every field
 * checked when read, role names that are Object.prototype members or integer-like are names like
 * any other, and what is written reads back the same. (End to end: cli-config.test.ts.)
 */
import { CorruptStateError } from '@tufa/core';
import { describe, expect, it } from 'vitest';
import { parseRepoConfig, type RepoConfig, repoConfigToBytes, signerRefFor } from '../src/repo-config.js';

const FILE = '/home/me/.tufa/repos/example.com%2Fapp/config.json';
const GUN = 'example.com/app';
const KEYS = { targets: 'file:/k/t.json', snapshot: 'file:/k/s.json', timestamp: 'env:TS_KEY' };
const PROTO_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
const INTEGER_NAMES = ['0', '1', '17', '4294967295'];

const enc = (text: string) => new TextEncoder().encode(text);
const good = () => ({ gun: GUN, publishRoot: '/srv/tuf', keys: { ...KEYS }, delegations: {} });
const parse = (doc: unknown) =>
  parseRepoConfig(enc(typeof doc === 'string' ? doc : JSON.stringify(doc)), FILE, GUN);

function corrupt(doc: unknown): CorruptStateError {
  try {
    parse(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(CorruptStateError);
    return e as CorruptStateError;
  }
  throw new Error(`accepted: ${JSON.stringify(doc)}`);
}

describe('parseRepoConfig accepts', () => {
  it('what tufa writes, delegations in a Map', () => {
    const c = parse({ ...good(), delegations: { releases: 'file:/k/r.json' } });
    expect(c).toEqual({
      gun: GUN,
      publishTo: { kind: 'dir', dir: '/srv/tuf' },
      keys: KEYS,
      delegations: new Map([['releases', 'file:/k/r.json']]),
    });
  });

  it('a registry or a trust server in publishTo; a server holds snapshot and timestamp keys itself', () => {
    const { publishRoot: _, ...rest } = good();
    const oci = parse({ ...rest, publishTo: 'oci://registry.example.com:5000/team/app' });
    expect(oci.publishTo).toEqual({ kind: 'oci', location: 'oci://registry.example.com:5000/team/app' });
    const server = parse({
      ...rest,
      publishTo: 'https://trust.example.com/',
      keys: { targets: KEYS.targets },
    });
    expect(server.publishTo).toEqual({ kind: 'http', url: 'https://trust.example.com' });
    expect(server.keys).toEqual({ targets: KEYS.targets });
    expect(signerRefFor(server, 'snapshot')).toBeUndefined();
    const loopback = parse({ ...rest, publishTo: 'http://127.0.0.1:8080', keys: { targets: 'x' } });
    expect(loopback.publishTo).toEqual({ kind: 'http', url: 'http://127.0.0.1:8080' });
    // Each round-trips through the file form, and a directory keeps the old field.
    for (const c of [oci, server, loopback, parse(good())]) {
      expect(parseRepoConfig(repoConfigToBytes(c), FILE, GUN)).toEqual(c);
    }
    expect(JSON.parse(new TextDecoder().decode(repoConfigToBytes(parse(good()))))).toEqual(good());
  });

  it('the CA file of a registry or a trust server, as a path, round-tripping', () => {
    const { publishRoot: _, ...rest } = good();
    const c = parse({ ...rest, publishTo: 'oci://registry.example.com/team/app', ca: '/etc/tufa/ca.pem' });
    expect(c.ca).toBe('/etc/tufa/ca.pem');
    expect(parseRepoConfig(repoConfigToBytes(c), FILE, GUN)).toEqual(c);
    expect(parse({ ...rest, publishTo: 'oci://registry.example.com/team/app' }).ca).toBeUndefined();
  });

  it('a configuration written before delegations existed', () => {
    const { delegations: _, ...old } = good();
    expect(parse(old).delegations).toEqual(new Map());
  });

  it.each([...PROTO_NAMES, ...INTEGER_NAMES])(
    'a delegated role named %j, as a name like any other',
    (role) => {
      // Built as text: an object literal with `__proto__` would set a prototype, not a field.
      const text = `{"gun":"${GUN}","publishRoot":"/srv/tuf","keys":${JSON.stringify(KEYS)},"delegations":{"${role}":"file:/k/${role}.json","other":"file:/k/o.json"}}`;
      const c = parse(text);
      expect([...c.delegations]).toEqual(
        expect.arrayContaining([
          [role, `file:/k/${role}.json`],
          ['other', 'file:/k/o.json'],
        ]),
      );
      expect(c.delegations.size).toBe(2);
      expect(signerRefFor(c, role)).toBe(`file:/k/${role}.json`);
      expect(Object.getPrototypeOf(c)).toBe(Object.prototype); // nothing was polluted
      // …and it round-trips through the file form.
      expect(parseRepoConfig(repoConfigToBytes(c), FILE, GUN)).toEqual(c);
    },
  );
});

describe('signerRefFor', () => {
  it('finds online roles in keys and delegated roles in delegations, and nothing on Object.prototype', () => {
    const c: RepoConfig = { ...parse(good()), delegations: new Map([['releases', 'file:/k/r.json']]) };
    expect(signerRefFor(c, 'targets')).toBe(KEYS.targets);
    expect(signerRefFor(c, 'timestamp')).toBe(KEYS.timestamp);
    expect(signerRefFor(c, 'releases')).toBe('file:/k/r.json');
    for (const role of [...PROTO_NAMES, ...INTEGER_NAMES, 'root', 'unknown']) {
      expect([role, signerRefFor(c, role)]).toEqual([role, undefined]);
    }
  });
});

describe('parseRepoConfig refuses, naming the file, the field, what was expected and found', () => {
  const doc = (change: Record<string, unknown>) => ({ ...good(), ...change });
  const text = (delegations: string) =>
    `{"gun":"${GUN}","publishRoot":"/srv/tuf","keys":${JSON.stringify(KEYS)},"delegations":${delegations}}`;
  const CASES: [string, unknown, string, RegExp][] = [
    ['not JSON', '{"gun":', '', /not valid JSON/],
    ['a duplicate key', text('{"a":"file:/x","a":"file:/y"}'), '', /not valid JSON .*duplicate/i],
    ['an array', [good()], '', /expected a JSON object, found an array/],
    ['null', 'null', '', /expected a JSON object, found null/],
    [
      'an unknown field',
      doc({ extra: 1 }),
      '"extra"',
      /unknown field \(expected only gun, publishRoot, publishTo, ca, keys, delegations\)/,
    ],
    [
      'an unknown __proto__ field',
      `{"__proto__":{"gun":"x"},${JSON.stringify(good()).slice(1)}`,
      '"__proto__"',
      /unknown field/,
    ],
    ['no gun', doc({ gun: undefined }), 'gun', /expected the GUN "example.com\/app", found nothing/],
    [
      'another gun',
      doc({ gun: 'example.com/other' }),
      'gun',
      /expected the GUN "example.com\/app", found the string "example.com\/other"/,
    ],
    ['a numeric gun', doc({ gun: 7 }), 'gun', /found number 7/],
    [
      'no publishRoot',
      doc({ publishRoot: undefined }),
      'publishRoot',
      /expected an absolute directory path, found nothing/,
    ],
    ['a relative publishRoot', doc({ publishRoot: 'pub' }), 'publishRoot', /found the string "pub"/],
    [
      'publishRoot and publishTo',
      doc({ publishTo: 'oci://r.example.com/a' }),
      'publishTo',
      /expected no publishTo beside publishRoot/,
    ],
    [
      'a CA beside a directory (no TLS there)',
      doc({ ca: '/etc/ca.pem' }),
      'ca',
      /expected no ca beside publishRoot \(a directory has no TLS\)/,
    ],
    [
      'a relative CA path',
      doc({ publishRoot: undefined, publishTo: 'oci://r.example.com/a', ca: 'ca.pem' }),
      'ca',
      /expected the absolute path of a PEM file of CA certificates, found the string "ca.pem"/,
    ],
    [
      'a CA that is not a string',
      doc({ publishRoot: undefined, publishTo: 'oci://r.example.com/a', ca: ['/etc/ca.pem'] }),
      'ca',
      /found an array/,
    ],
    [
      'a directory in publishTo',
      doc({ publishRoot: undefined, publishTo: '/srv/tuf' }),
      'publishTo',
      /expected oci:\/\/REGISTRY\/REPOSITORY or https:\/\/TRUST-SERVER, found the string "\/srv\/tuf"/,
    ],
    [
      'a registry without a repository',
      doc({ publishRoot: undefined, publishTo: 'oci://justahost' }),
      'publishTo',
      /expected oci:\/\/REGISTRY\/REPOSITORY/,
    ],
    [
      'plain http off loopback',
      doc({ publishRoot: undefined, publishTo: 'http://trust.example.com', keys: { targets: 'x' } }),
      'publishTo',
      /plain http is allowed for loopback servers only/,
    ],
    [
      'a snapshot key for a trust server',
      doc({ publishRoot: undefined, publishTo: 'https://trust.example.com' }),
      'keys.snapshot',
      /expected no key \(the trust server holds it\)/,
    ],
    [
      'keys missing',
      doc({ keys: undefined }),
      'keys',
      /expected an object with targets, snapshot, timestamp, found nothing/,
    ],
    ['keys an array', doc({ keys: ['a'] }), 'keys', /found an array/],
    [
      'a key missing',
      doc({ keys: { targets: 'a', snapshot: 'b' } }),
      'keys.timestamp',
      /expected a key reference \(a string\), found nothing/,
    ],
    [
      'a key not a string',
      doc({ keys: { ...KEYS, snapshot: { uri: 'x' } } }),
      'keys.snapshot',
      /found an object/,
    ],
    [
      'an empty key reference',
      doc({ keys: { ...KEYS, targets: '' } }),
      'keys.targets',
      /found the string ""/,
    ],
    ['root in keys', doc({ keys: { ...KEYS, root: 'file:/r' } }), 'keys."root"', /unknown role/],
    [
      'constructor in keys',
      doc({ keys: { ...KEYS, constructor: 'file:/r' } }),
      'keys."constructor"',
      /unknown role/,
    ],
    ['delegations an array', doc({ delegations: ['a'] }), 'delegations', /found an array/],
    ['delegations a string', doc({ delegations: 'releases' }), 'delegations', /found the string "releases"/],
    [
      'a delegation reference not a string',
      doc({ delegations: { releases: 1 } }),
      'delegations."releases"',
      /expected a key reference \(a string\), found number 1/,
    ],
    [
      'a constructor reference that is an object',
      text('{"constructor":{}}'),
      'delegations."constructor"',
      /found an object/,
    ],
    [
      'a __proto__ reference that is null',
      text('{"__proto__":null}'),
      'delegations."__proto__"',
      /found null/,
    ],
    [
      'a top-level role in delegations',
      doc({ delegations: { targets: 'file:/t' } }),
      'delegations."targets"',
      /not a top-level role/,
    ],
    [
      'an unpublishable role name',
      doc({ delegations: { '../x': 'file:/t' } }),
      'delegations."../x"',
      /a role name tufa can publish/,
    ],
    [
      'a role name with a control character',
      doc({ delegations: { 'a\u001bb': 'file:/t' } }),
      'delegations."a\\x1bb"',
      /found the string "a\\x1bb"/,
    ],
  ];

  it.each(CASES)('%s', (_, input, field, message) => {
    const e = corrupt(input);
    expect(e.code).toBe('STORAGE');
    expect(e.file).toBe(FILE);
    expect(e.field).toBe(field);
    expect(e.message.startsWith(`${FILE}${field ? ` (${field})` : ''}: `)).toBe(true);
    expect(e.message).toMatch(message);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not appear
    expect(e.message).not.toMatch(/[\u0000-\u001f\p{Cf}]/u);
  });
});
