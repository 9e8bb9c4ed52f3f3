import { describe, expect, it } from 'vitest';
import { Key } from '../../src/crypto/key.js';
import { Signature } from '../../src/crypto/signature.js';
import { FormatError, TufError, UsageError } from '../../src/errors.js';
import { canonicalBytes } from '../../src/json/canonical.js';
import { MetaFile, TargetFile } from '../../src/metadata/files.js';
import { Metadata, verifyThreshold } from '../../src/metadata/metadata.js';
import { DelegatedRole, Delegations, Role, SuccinctRoles } from '../../src/metadata/roles.js';
import {
  type RoleType,
  Root,
  Snapshot,
  SPECIFICATION_VERSION,
  Targets,
  Timestamp,
} from '../../src/metadata/signed.js';
import { formatExpires, parseExpires } from '../../src/metadata/time.js';
import {
  bytesOf,
  clone,
  DELETE,
  EXPIRES,
  H1,
  type Json,
  obj,
  type PathStep,
  rootSigned,
  SIGNED_BUILDERS,
  setAt,
  sha256Hex,
  signDoc,
  signer,
  snapshotSigned,
  succinctTargetsSigned,
  targetsSigned,
  text,
  thrown,
  timestampSigned,
} from './fixtures.js';

const S4 = signer(4);
const S5 = signer(5);

function parse(doc: unknown, type?: RoleType): Metadata {
  return type === undefined ? Metadata.fromBytes(bytesOf(doc)) : Metadata.fromBytes(bytesOf(doc), type);
}

/** An unsigned envelope (shape tests need no signature). */
function envelope(signed: Json, signatures: Json[] = []): Json {
  return { signatures, signed };
}

/** Asserts a FormatError naming `path` (or, for the strict JSON reader, no path and a JSON message). */
function expectFormatError(f: () => unknown, path: string | null, message?: RegExp): FormatError {
  const e = thrown(f);
  expect(e).toBeInstanceOf(FormatError);
  const fe = e as FormatError;
  expect(fe.code).toBe('FORMAT');
  expect(fe.name).toBe('FormatError');
  if (path === null) {
    expect(fe.path).toBeUndefined();
    expect(fe.message).toMatch(/^invalid JSON( at byte \d+)?: /);
  } else {
    expect(fe.path).toBe(path);
    expect(fe.message.startsWith(`${path}: `)).toBe(true);
  }
  if (message) expect(fe.message).toMatch(message);
  return fe;
}

describe('valid documents', () => {
  it('parses a root', async () => {
    const doc = await signDoc(rootSigned(), [signer(1)]);
    const md = Metadata.fromBytes(bytesOf(doc), 'root');
    expect(md.signed).toBeInstanceOf(Root);
    const root = md.signed;
    expect(root.type).toBe('root');
    expect(root.version).toBe(1);
    expect(root.specVersion).toBe('1.0.31');
    expect(root.expires.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(root.consistentSnapshot).toBe(true);
    expect([...root.roles.keys()]).toEqual(['root', 'timestamp', 'snapshot', 'targets']);
    expect(root.roles.get('targets')?.keyids).toEqual([S4.keyid]);
    expect(root.keys.get(S4.keyid)?.keyval.public).toBe(S4.key.keyval.public);
    expect(md.signatures.get(signer(1).keyid)).toBeInstanceOf(Signature);
    await md.verifyDelegate('root', md);
    // Without a requested type, `_type` chooses the class.
    expect(Metadata.fromBytes(bytesOf(doc)).signed).toBeInstanceOf(Root);
  });

  it('parses a timestamp', () => {
    const md = Metadata.fromBytes(bytesOf(envelope(timestampSigned())), 'timestamp');
    expect(md.signed).toBeInstanceOf(Timestamp);
    expect(md.signed.snapshotMeta).toBeInstanceOf(MetaFile);
    expect(md.signed.snapshotMeta.version).toBe(2);
    expect(md.signed.snapshotMeta.length).toBe(515);
    expect(md.signed.snapshotMeta.hashes?.get('sha256')).toBe(H1);
    expect(md.signatures.size).toBe(0);
  });

  it('parses a snapshot', () => {
    const md = Metadata.fromBytes(bytesOf(envelope(snapshotSigned())), 'snapshot');
    expect(md.signed).toBeInstanceOf(Snapshot);
    expect([...md.signed.meta.keys()]).toEqual(['targets.json', 'role-a.json']);
    expect(md.signed.roleMeta('role-a')?.version).toBe(4);
    expect(md.signed.roleMeta('role-a')?.length).toBeUndefined();
    expect(md.signed.roleMeta('role-a')?.hashes).toBeUndefined();
    expect(md.signed.roleMeta('nope')).toBeUndefined();
  });

  it('parses a targets with a delegation', () => {
    const md = Metadata.fromBytes(bytesOf(envelope(targetsSigned())), 'targets');
    expect(md.signed).toBeInstanceOf(Targets);
    const t = md.signed;
    expect([...t.targets.keys()]).toEqual(['a.txt', 'dir/b.bin']);
    expect(t.targets.get('dir/b.bin')?.length).toBe(0);
    expect(t.targets.get('dir/b.bin')?.custom).toEqual({ k: 'v' });
    expect(t.targets.get('a.txt')?.path).toBe('a.txt');
    const d = t.delegations;
    expect(d).toBeInstanceOf(Delegations);
    expect(d?.roles?.map((r) => r.name)).toEqual(['role-a', 'role-b']);
    expect(d?.roles?.[0]?.paths).toEqual(['a/*', 'b/*.tgz']);
    expect(d?.roles?.[1]?.pathHashPrefixes).toEqual(['ab', '0']);
    expect(d?.roles?.[1]?.terminating).toBe(true);
    expect(d?.succinctRoles).toBeUndefined();
  });

  it('accepts the 1.x specification versions python-tuf accepts', () => {
    for (const v of ['1.0', '1.0.0', '1.0.31', '1.99.7', '1.10']) {
      const s = timestampSigned();
      s['spec_version'] = v;
      expect(parse(envelope(s), 'timestamp').signed.specVersion).toBe(v);
    }
  });

  it('accepts a delegated role with neither paths nor path_hash_prefixes (optional in spec 1.0.34), trusted for nothing', () => {
    const s = targetsSigned();
    setAt(s, ['delegations', 'roles', 0, 'paths'], DELETE);
    const role = (parse(envelope(s), 'targets').signed as Targets).delegations?.roles?.[0];
    expect(role?.paths).toBeUndefined();
    expect(role?.pathHashPrefixes).toBeUndefined();
    expect(role?.isDelegatedPath('a/x')).toBe(false);
  });

  it('accepts an empty targets map, an empty paths list and length 0', () => {
    const s = targetsSigned();
    s['targets'] = {};
    setAt(s, ['delegations', 'roles', 0, 'paths'], []);
    const t = parse(envelope(s), 'targets').signed as Targets;
    expect(t.targets.size).toBe(0);
    expect(t.delegations?.roles?.[0]?.isDelegatedPath('a/x')).toBe(false);
  });
});

interface Bad {
  name: string;
  role: RoleType;
  /** The mutations of `signed` (paths relative to `signed`), or of the envelope with `envelope`. */
  set: [readonly PathStep[], unknown][];
  /** The FormatError path, or null for an error from the strict JSON reader. */
  path: string | null;
  message?: RegExp;
  /** The type passed to fromBytes: the document's own role by default, `null` for none. */
  request?: RoleType | null;
  envelope?: boolean;
}

const K4 = S4.keyid;
const K5 = S5.keyid;
const DR0 = ['delegations', 'roles', 0] as const;
const DR1 = ['delegations', 'roles', 1] as const;
const TMETA = ['meta', 'targets.json'] as const;

const BAD: Bad[] = [
  // _type
  { name: '_type missing (type requested)', role: 'root', set: [[['_type'], DELETE]], path: 'signed._type' },
  {
    name: '_type missing (no type requested)',
    role: 'root',
    set: [[['_type'], DELETE]],
    path: 'signed._type',
    request: null,
    message: /unknown role type/,
  },
  {
    name: '_type unknown',
    role: 'root',
    set: [[['_type'], 'mirror']],
    path: 'signed._type',
    request: null,
    message: /"mirror"/,
  },
  { name: '_type wrong case', role: 'root', set: [[['_type'], 'Root']], path: 'signed._type', request: null },
  { name: '_type a number', role: 'timestamp', set: [[['_type'], 7]], path: 'signed._type' },
  { name: '_type null', role: 'timestamp', set: [[['_type'], null]], path: 'signed._type', request: null },
  {
    name: 'a timestamp where a root is requested',
    role: 'timestamp',
    set: [],
    path: 'signed._type',
    request: 'root',
    message: /expected _type "root", found "timestamp"/,
  },
  {
    name: 'a targets where a snapshot is requested',
    role: 'targets',
    set: [],
    path: 'signed._type',
    request: 'snapshot',
  },
  {
    name: 'a root where targets is requested',
    role: 'root',
    set: [],
    path: 'signed._type',
    request: 'targets',
  },
  // spec_version
  ...['2.0.0', '1', '1.0.x', 'v1.0.0', '', '1.0.0.0', '0.9', '1..0', '1.0.', ' 1.0.0', '1.0.0-rc1'].map(
    (v): Bad => ({
      name: `spec_version ${JSON.stringify(v)}`,
      role: 'snapshot',
      set: [[['spec_version'], v]],
      path: 'signed.spec_version',
    }),
  ),
  {
    name: 'spec_version a number',
    role: 'snapshot',
    set: [[['spec_version'], 1]],
    path: 'signed.spec_version',
  },
  {
    name: 'spec_version missing',
    role: 'snapshot',
    set: [[['spec_version'], DELETE]],
    path: 'signed.spec_version',
    message: /missing/,
  },
  // version
  {
    name: 'version 0',
    role: 'targets',
    set: [[['version'], 0]],
    path: 'signed.version',
    message: />= 1, found 0/,
  },
  { name: 'version -1', role: 'targets', set: [[['version'], -1]], path: 'signed.version' },
  {
    name: 'version "1"',
    role: 'targets',
    set: [[['version'], '1']],
    path: 'signed.version',
    message: /the string "1"/,
  },
  { name: 'version 1.5', role: 'targets', set: [[['version'], 1.5]], path: null, message: /only integers/ },
  { name: 'version 2^53', role: 'targets', set: [[['version'], 2 ** 53]], path: null, message: /outside/ },
  { name: 'version null', role: 'targets', set: [[['version'], null]], path: 'signed.version' },
  { name: 'version true', role: 'targets', set: [[['version'], true]], path: 'signed.version' },
  {
    name: 'version missing',
    role: 'targets',
    set: [[['version'], DELETE]],
    path: 'signed.version',
    message: /missing/,
  },
  // expires
  ...[
    '2030-01-01T00:00:00',
    '2030-01-01 00:00:00Z',
    '2030-02-30T00:00:00Z',
    '2030-13-01T00:00:00Z',
    '2030-00-10T00:00:00Z',
    '2030-01-00T00:00:00Z',
    '2029-02-29T00:00:00Z',
    '2030-01-01T24:00:00Z',
    '2030-01-01T23:60:00Z',
    '2030-01-01T23:59:60Z',
    'garbage',
    '',
    '2030-01-01T00:00:00.000Z',
    '2030-01-01T00:00:00+00:00',
    '2030-01-01T00:00:00z',
    '2030-1-01T00:00:00Z',
    ' 2030-01-01T00:00:00Z',
    '2030-01-01T00:00:00Z ',
    '+02030-01-01T00:00:00Z',
  ].map(
    (v): Bad => ({
      name: `expires ${JSON.stringify(v)}`,
      role: 'root',
      set: [[['expires'], v]],
      path: 'signed.expires',
    }),
  ),
  {
    name: 'expires a number',
    role: 'root',
    set: [[['expires'], 1893456000]],
    path: 'signed.expires',
    message: /expected a string/,
  },
  { name: 'expires missing', role: 'root', set: [[['expires'], DELETE]], path: 'signed.expires' },
  // MetaFile
  {
    name: 'meta version 0',
    role: 'snapshot',
    set: [[[...TMETA, 'version'], 0]],
    path: 'signed.meta.targets.json.version',
  },
  {
    name: 'meta version missing',
    role: 'snapshot',
    set: [[[...TMETA, 'version'], DELETE]],
    path: 'signed.meta.targets.json.version',
  },
  {
    name: 'meta length -1',
    role: 'snapshot',
    set: [[[...TMETA, 'length'], -1]],
    path: 'signed.meta.targets.json.length',
    message: />= 0/,
  },
  {
    name: 'meta length "1024"',
    role: 'snapshot',
    set: [[[...TMETA, 'length'], '1024']],
    path: 'signed.meta.targets.json.length',
  },
  {
    name: 'meta hashes {}',
    role: 'snapshot',
    set: [[[...TMETA, 'hashes'], {}]],
    path: 'signed.meta.targets.json.hashes',
    message: /at least one hash/,
  },
  {
    name: 'meta hashes an array',
    role: 'snapshot',
    set: [[[...TMETA, 'hashes'], [H1]]],
    path: 'signed.meta.targets.json.hashes',
  },
  {
    name: 'meta hash upper-case hex',
    role: 'snapshot',
    set: [[[...TMETA, 'hashes', 'sha256'], H1.toUpperCase()]],
    path: 'signed.meta.targets.json.hashes.sha256',
    message: /lower-case hex/,
  },
  {
    name: 'meta hash not hex',
    role: 'snapshot',
    set: [[[...TMETA, 'hashes', 'sha256'], 'xyz']],
    path: 'signed.meta.targets.json.hashes.sha256',
  },
  {
    name: 'meta hash empty',
    role: 'snapshot',
    set: [[[...TMETA, 'hashes', 'sha256'], '']],
    path: 'signed.meta.targets.json.hashes.sha256',
  },
  {
    name: 'meta hash not a string',
    role: 'snapshot',
    set: [[[...TMETA, 'hashes', 'sha256'], 5]],
    path: 'signed.meta.targets.json.hashes.sha256',
    message: /expected a string/,
  },
  {
    name: 'meta hash of an unknown algorithm not hex',
    role: 'snapshot',
    set: [[[...TMETA, 'hashes', 'blake2b'], 'Z']],
    path: 'signed.meta.targets.json.hashes.blake2b',
  },
  {
    name: 'meta entry not an object',
    role: 'snapshot',
    set: [[[...TMETA], 1]],
    path: 'signed.meta.targets.json',
  },
  { name: 'snapshot meta missing', role: 'snapshot', set: [[['meta'], DELETE]], path: 'signed.meta' },
  {
    name: 'timestamp without snapshot.json',
    role: 'timestamp',
    set: [[['meta', 'snapshot.json'], DELETE]],
    path: 'signed.meta.snapshot.json',
  },
  {
    name: 'timestamp snapshot version 0',
    role: 'timestamp',
    set: [[['meta', 'snapshot.json', 'version'], 0]],
    path: 'signed.meta.snapshot.json.version',
  },
  { name: 'timestamp meta an array', role: 'timestamp', set: [[['meta'], []]], path: 'signed.meta' },
  // TargetFile
  {
    name: 'target length missing',
    role: 'targets',
    set: [[['targets', 'a.txt', 'length'], DELETE]],
    path: 'signed.targets.a.txt.length',
  },
  {
    name: 'target hashes missing',
    role: 'targets',
    set: [[['targets', 'a.txt', 'hashes'], DELETE]],
    path: 'signed.targets.a.txt.hashes',
  },
  {
    name: 'target length -1',
    role: 'targets',
    set: [[['targets', 'a.txt', 'length'], -1]],
    path: 'signed.targets.a.txt.length',
  },
  {
    name: 'target length "3"',
    role: 'targets',
    set: [[['targets', 'a.txt', 'length'], '3']],
    path: 'signed.targets.a.txt.length',
  },
  {
    name: 'target hashes {}',
    role: 'targets',
    set: [[['targets', 'a.txt', 'hashes'], {}]],
    path: 'signed.targets.a.txt.hashes',
  },
  {
    name: 'target hash upper-case',
    role: 'targets',
    set: [[['targets', 'a.txt', 'hashes', 'sha256'], H1.toUpperCase()]],
    path: 'signed.targets.a.txt.hashes.sha256',
  },
  {
    name: 'target entry null',
    role: 'targets',
    set: [[['targets', 'a.txt'], null]],
    path: 'signed.targets.a.txt',
  },
  { name: 'targets missing', role: 'targets', set: [[['targets'], DELETE]], path: 'signed.targets' },
  { name: 'targets an array', role: 'targets', set: [[['targets'], []]], path: 'signed.targets' },
  // Root
  {
    name: 'root without the timestamp role',
    role: 'root',
    set: [[['roles', 'timestamp'], DELETE]],
    path: 'signed.roles',
    message: /timestamp/,
  },
  {
    name: 'root without the root role',
    role: 'root',
    set: [[['roles', 'root'], DELETE]],
    path: 'signed.roles',
    message: /root/,
  },
  {
    name: 'root with an extra role "mirror"',
    role: 'root',
    set: [[['roles', 'mirror'], { keyids: [], threshold: 1 }]],
    path: 'signed.roles',
    message: /"mirror"/,
  },
  {
    name: 'root role threshold 0',
    role: 'root',
    set: [[['roles', 'root', 'threshold'], 0]],
    path: 'signed.roles.root.threshold',
  },
  {
    name: 'root role threshold -1',
    role: 'root',
    set: [[['roles', 'snapshot', 'threshold'], -1]],
    path: 'signed.roles.snapshot.threshold',
  },
  {
    name: 'root role threshold missing',
    role: 'root',
    set: [[['roles', 'targets', 'threshold'], DELETE]],
    path: 'signed.roles.targets.threshold',
  },
  {
    name: 'root role keyids not an array',
    role: 'root',
    set: [[['roles', 'root', 'keyids'], 'abc']],
    path: 'signed.roles.root.keyids',
  },
  {
    name: 'root role keyids holding a number',
    role: 'root',
    set: [
      [
        ['roles', 'root', 'keyids'],
        ['x', 1],
      ],
    ],
    path: 'signed.roles.root.keyids[1]',
  },
  {
    name: 'root role keyids missing',
    role: 'root',
    set: [[['roles', 'timestamp', 'keyids'], DELETE]],
    path: 'signed.roles.timestamp.keyids',
  },
  { name: 'root role an array', role: 'root', set: [[['roles', 'root'], []]], path: 'signed.roles.root' },
  { name: 'root roles missing', role: 'root', set: [[['roles'], DELETE]], path: 'signed.roles' },
  { name: 'root keys missing', role: 'root', set: [[['keys'], DELETE]], path: 'signed.keys' },
  {
    name: 'root key without keyval',
    role: 'root',
    set: [[['keys', K4, 'keyval'], DELETE]],
    path: `signed.keys.${K4}.keyval`,
  },
  {
    name: 'root key public not a string',
    role: 'root',
    set: [[['keys', K4, 'keyval', 'public'], 5]],
    path: `signed.keys.${K4}.keyval.public`,
  },
  {
    name: 'root key keytype not a string',
    role: 'root',
    set: [[['keys', K4, 'keytype'], null]],
    path: `signed.keys.${K4}.keytype`,
  },
  {
    name: 'root key scheme missing',
    role: 'root',
    set: [[['keys', K4, 'scheme'], DELETE]],
    path: `signed.keys.${K4}.scheme`,
  },
  { name: 'root key not an object', role: 'root', set: [[['keys', K4], 'abc']], path: `signed.keys.${K4}` },
  {
    name: 'consistent_snapshot a string',
    role: 'root',
    set: [[['consistent_snapshot'], 'yes']],
    path: 'signed.consistent_snapshot',
  },
  // Delegations
  {
    name: 'delegations with both roles and succinct_roles',
    role: 'targets',
    set: [
      [['delegations', 'succinct_roles'], { keyids: [K5], threshold: 1, bit_length: 2, name_prefix: 'b' }],
    ],
    path: 'signed.delegations',
    message: /exactly one/,
  },
  {
    name: 'delegations with neither roles nor succinct_roles',
    role: 'targets',
    set: [[['delegations', 'roles'], DELETE]],
    path: 'signed.delegations',
    message: /exactly one/,
  },
  {
    name: 'delegations with a duplicate role name',
    role: 'targets',
    set: [[[...DR1, 'name'], 'role-a']],
    path: 'signed.delegations',
    message: /"role-a" is listed twice/,
  },
  ...['root', 'targets', 'snapshot', 'timestamp'].map(
    (n): Bad => ({
      name: `a delegated role named ${n}`,
      role: 'targets',
      set: [[[...DR0, 'name'], n]],
      path: 'signed.delegations',
      message: /reserved/,
    }),
  ),
  {
    name: 'a role with both paths and path_hash_prefixes',
    role: 'targets',
    set: [[[...DR0, 'path_hash_prefixes'], ['ab']]],
    path: 'signed.delegations.roles[0]',
    message: /both/,
  },
  {
    name: 'a non-hex path hash prefix',
    role: 'targets',
    set: [
      [
        [...DR1, 'path_hash_prefixes'],
        ['ab', 'xy'],
      ],
    ],
    path: 'signed.delegations.roles[1].path_hash_prefixes[1]',
  },
  {
    name: 'an upper-case path hash prefix',
    role: 'targets',
    set: [[[...DR1, 'path_hash_prefixes'], ['AB']]],
    path: 'signed.delegations.roles[1].path_hash_prefixes[0]',
  },
  {
    name: 'a path hash prefix not a string',
    role: 'targets',
    set: [[[...DR1, 'path_hash_prefixes'], [12]]],
    path: 'signed.delegations.roles[1].path_hash_prefixes[0]',
  },
  {
    name: 'terminating missing',
    role: 'targets',
    set: [[[...DR0, 'terminating'], DELETE]],
    path: 'signed.delegations.roles[0].terminating',
  },
  {
    name: 'terminating a string',
    role: 'targets',
    set: [[[...DR1, 'terminating'], 'false']],
    path: 'signed.delegations.roles[1].terminating',
  },
  {
    name: 'delegated role name missing',
    role: 'targets',
    set: [[[...DR1, 'name'], DELETE]],
    path: 'signed.delegations.roles[1].name',
  },
  {
    name: 'delegated role name a number',
    role: 'targets',
    set: [[[...DR0, 'name'], 3]],
    path: 'signed.delegations.roles[0].name',
  },
  {
    name: 'delegated role threshold 0',
    role: 'targets',
    set: [[[...DR0, 'threshold'], 0]],
    path: 'signed.delegations.roles[0].threshold',
  },
  {
    name: 'delegated role keyids not an array',
    role: 'targets',
    set: [[[...DR0, 'keyids'], K5]],
    path: 'signed.delegations.roles[0].keyids',
  },
  {
    name: 'paths not an array',
    role: 'targets',
    set: [[[...DR0, 'paths'], 'a/*']],
    path: 'signed.delegations.roles[0].paths',
  },
  {
    name: 'paths holding a number',
    role: 'targets',
    set: [
      [
        [...DR0, 'paths'],
        ['a', 1],
      ],
    ],
    path: 'signed.delegations.roles[0].paths[1]',
  },
  {
    name: 'delegations roles not an array',
    role: 'targets',
    set: [[['delegations', 'roles'], {}]],
    path: 'signed.delegations.roles',
  },
  {
    name: 'delegated role not an object',
    role: 'targets',
    set: [[[...DR1], 'role-b']],
    path: 'signed.delegations.roles[1]',
  },
  {
    name: 'delegations keys missing',
    role: 'targets',
    set: [[['delegations', 'keys'], DELETE]],
    path: 'signed.delegations.keys',
  },
  {
    name: 'delegations key malformed',
    role: 'targets',
    set: [[['delegations', 'keys', K5, 'keyval'], 'x']],
    path: `signed.delegations.keys.${K5}.keyval`,
  },
  {
    name: 'delegations not an object',
    role: 'targets',
    set: [[['delegations'], []]],
    path: 'signed.delegations',
  },
  // Succinct roles (on top of a targets whose delegations use `roles`, replaced)
  ...[0, 33, -1].map(
    (b): Bad => ({
      name: `succinct bit_length ${b}`,
      role: 'targets',
      set: [
        [['delegations', 'roles'], DELETE],
        [
          ['delegations', 'succinct_roles'],
          { keyids: [K5], threshold: 1, bit_length: b, name_prefix: 'bin' },
        ],
      ],
      path: 'signed.delegations.succinct_roles.bit_length',
    }),
  ),
  {
    name: 'succinct bit_length "5"',
    role: 'targets',
    set: [
      [['delegations', 'roles'], DELETE],
      [
        ['delegations', 'succinct_roles'],
        { keyids: [K5], threshold: 1, bit_length: '5', name_prefix: 'bin' },
      ],
    ],
    path: 'signed.delegations.succinct_roles.bit_length',
  },
  {
    name: 'succinct name_prefix missing',
    role: 'targets',
    set: [
      [['delegations', 'roles'], DELETE],
      [['delegations', 'succinct_roles'], { keyids: [K5], threshold: 1, bit_length: 3 }],
    ],
    path: 'signed.delegations.succinct_roles.name_prefix',
  },
  {
    name: 'succinct threshold 0',
    role: 'targets',
    set: [
      [['delegations', 'roles'], DELETE],
      [['delegations', 'succinct_roles'], { keyids: [K5], threshold: 0, bit_length: 3, name_prefix: 'bin' }],
    ],
    path: 'signed.delegations.succinct_roles.threshold',
  },
  // The envelope
  {
    name: 'signatures listing one keyid twice',
    role: 'targets',
    envelope: true,
    set: [
      [
        ['signatures'],
        [
          { keyid: K4, sig: 'aa' },
          { keyid: K4, sig: 'bb' },
        ],
      ],
    ],
    path: 'signatures',
    message: /signs more than once/,
  },
  {
    name: 'signatures not an array',
    role: 'targets',
    envelope: true,
    set: [[['signatures'], {}]],
    path: 'signatures',
  },
  {
    name: 'a signature without keyid',
    role: 'targets',
    envelope: true,
    set: [[['signatures'], [{ sig: 'aa' }]]],
    path: 'signatures[0].keyid',
  },
  {
    name: 'a signature whose sig is a number',
    role: 'targets',
    envelope: true,
    set: [
      [
        ['signatures'],
        [
          { keyid: K4, sig: 'aa' },
          { keyid: K5, sig: 12 },
        ],
      ],
    ],
    path: 'signatures[1].sig',
  },
  {
    name: 'a signature not an object',
    role: 'targets',
    envelope: true,
    set: [[['signatures'], ['aa']]],
    path: 'signatures[0]',
  },
  {
    name: 'signatures missing',
    role: 'targets',
    envelope: true,
    set: [[['signatures'], DELETE]],
    path: '$.signatures',
  },
  { name: 'signed missing', role: 'targets', envelope: true, set: [[['signed'], DELETE]], path: '$.signed' },
  { name: 'signed an array', role: 'targets', envelope: true, set: [[['signed'], []]], path: 'signed' },
  {
    name: 'signed a string',
    role: 'targets',
    envelope: true,
    set: [[['signed'], 'x']],
    path: 'signed',
    request: null,
  },
];

describe('invalid documents: one mutation each', () => {
  it.each(BAD.map((b) => [b.name, b] as const))('%s', (_name, bad) => {
    const signed = SIGNED_BUILDERS[bad.role]();
    const doc = envelope(signed);
    for (const [path, value] of bad.set) setAt(bad.envelope ? doc : signed, path, value);
    const request = bad.request === undefined ? bad.role : bad.request;
    expectFormatError(() => parse(doc, request ?? undefined), bad.path, bad.message);
  });

  it('the unmutated documents all parse (so each row tests exactly its mutation)', () => {
    for (const role of ['root', 'timestamp', 'snapshot', 'targets'] as const) {
      expect(parse(envelope(SIGNED_BUILDERS[role]()), role).signed.type).toBe(role);
    }
  });

  it('refuses a document that is not an object, and JSON the strict reader refuses', () => {
    expectFormatError(() => Metadata.fromBytes(bytesOf([])), '$');
    expectFormatError(() => Metadata.fromBytes(bytesOf('x')), '$');
    expectFormatError(
      () => Metadata.fromBytes(new TextEncoder().encode('{"signed": {}, "signed": {}}')),
      null,
      /duplicate/,
    );
    expectFormatError(() => Metadata.fromBytes(new TextEncoder().encode('')), null);
    const utf = thrown(() => Metadata.fromBytes(new Uint8Array([0x7b, 0xff, 0x7d])));
    expect(utf).toBeInstanceOf(FormatError);
    expect((utf as FormatError).message).toMatch(/UTF-8/);
  });

  it('constructors check the same invariants as the parser', () => {
    const common = {
      version: 1,
      specVersion: SPECIFICATION_VERSION,
      expires: new Date(Date.UTC(2030, 0, 1)),
    };
    const codeOf = (f: () => unknown) => (thrown(f) as TufError).code;
    expect(codeOf(() => new Role(['a'], 0))).toBe('FORMAT');
    expect(codeOf(() => new Role(['a'], 1.5))).toBe('FORMAT');
    expect(codeOf(() => new SuccinctRoles(['a'], 1, 0, 'bin'))).toBe('FORMAT');
    expect(codeOf(() => new SuccinctRoles(['a'], 1, 33, 'bin'))).toBe('FORMAT');
    expect(codeOf(() => new MetaFile(0))).toBe('FORMAT');
    expect(codeOf(() => new MetaFile(1, -1))).toBe('FORMAT');
    expect(codeOf(() => new MetaFile(1, undefined, new Map()))).toBe('FORMAT');
    expect(codeOf(() => new TargetFile('p', -1, new Map([['sha256', H1]])))).toBe('FORMAT');
    expect(codeOf(() => new TargetFile('p', 1, new Map()))).toBe('FORMAT');
    expect(codeOf(() => new Targets({ ...common, version: 0, targets: new Map() }))).toBe('FORMAT');
    expect(codeOf(() => new Targets({ ...common, expires: new Date(Number.NaN), targets: new Map() }))).toBe(
      'FORMAT',
    );
    expect(
      codeOf(
        () =>
          new Root({ ...common, keys: new Map(), roles: new Map<'root', Role>([['root', new Role([], 1)]]) }),
      ),
    ).toBe('FORMAT');
    const dr = (name: string) =>
      new DelegatedRole({ name, keyids: [], threshold: 1, terminating: false, paths: ['*'] });
    expect(codeOf(() => new Delegations({ keys: new Map(), roles: [dr('a'), dr('a')] }))).toBe('FORMAT');
    expect(codeOf(() => new Delegations({ keys: new Map(), roles: [dr('root')] }))).toBe('FORMAT');
    expect(codeOf(() => new Delegations({ keys: new Map() }))).toBe('FORMAT');
    expect(
      codeOf(
        () =>
          new DelegatedRole({
            name: 'x',
            keyids: [],
            threshold: 1,
            terminating: false,
            paths: [],
            pathHashPrefixes: [],
          }),
      ),
    ).toBe('FORMAT');
  });
});

describe('a key of unknown type', () => {
  const odd = {
    keytype: 'x-quantum',
    scheme: 'x-quantum-sig',
    keyval: { public: 'not a key', extra: [1, { a: null }] },
    note: 'kept',
  };

  it('parses, round-trips and never counts toward a threshold', async () => {
    const s = rootSigned();
    setAt(s, ['keys', 'odd'], odd);
    setAt(s, ['roles', 'targets'], { keyids: ['odd'], threshold: 1 });
    const rootDoc = await signDoc(s, [signer(1)]);
    const root = Metadata.fromBytes(bytesOf(rootDoc), 'root');
    const key = root.signed.keys.get('odd');
    expect(key).toBeInstanceOf(Key);
    expect(key?.keytype).toBe('x-quantum');
    expect(key?.supported).toBe(false);
    expect(key?.materialId()).toBeUndefined();
    expect(key?.toJSON()).toEqual(odd);
    expect(root.toBytes('canonical')).toEqual(canonicalBytes(rootDoc));
    expect(text(root.toBytes('pretty'))).toBe(JSON.stringify(sortDeep(rootDoc), null, 1));
    await root.verifyDelegate('root', root);

    const t = await signDoc(targetsSigned(), []);
    (t['signatures'] as Json[]).push({ keyid: 'odd', sig: 'abcd' }, { keyid: 'odd2', sig: '' });
    const targets = Metadata.fromBytes(bytesOf(t), 'targets');
    const status = await root.delegateStatus('targets', targets);
    expect(status).toEqual({ role: 'targets', threshold: 1, signed: [], unsigned: ['odd'], verified: false });
    await expect(root.verifyDelegate('targets', targets)).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(await key?.verify(targets.signedBytes(), 'abcd')).toBe(false);
  });

  it('beside a usable key, only the usable key counts', async () => {
    const s = rootSigned();
    setAt(s, ['keys', 'odd'], odd);
    setAt(s, ['roles', 'targets'], { keyids: ['odd', S4.keyid], threshold: 2 });
    const root = Metadata.fromBytes(bytesOf(await signDoc(s, [])), 'root');
    const t = await signDoc(targetsSigned(), [S4]);
    (t['signatures'] as Json[]).push({ keyid: 'odd', sig: 'abcd' });
    const status = await root.delegateStatus('targets', Metadata.fromBytes(bytesOf(t), 'targets'));
    expect(status.signed).toEqual([S4.keyid]);
    expect(status.unsigned).toEqual(['odd']);
    expect(status.verified).toBe(false);
  });
});

/** A copy with object keys sorted by code point at every level (how python-tuf writes files). */
function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Json;
  const keys = Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return obj(keys.map((k) => [k, sortDeep(o[k])] as const));
}

describe('unknown fields at every level', () => {
  function targetsWithExtras(): Json {
    const s = targetsSigned();
    s['x-signed'] = { nested: [1, 'two', null, true, { deep: {} }] };
    setAt(s, ['targets', 'a.txt', 'x-target'], 'beside length and hashes');
    setAt(s, ['targets', 'a.txt', 'hashes', 'blake3'], 'abcdef');
    setAt(s, ['targets', 'dir/b.bin', 'custom', 'nested'], { z: 1 });
    setAt(s, ['delegations', 'x-delegations'], [[]]);
    setAt(s, ['delegations', 'keys', K5, 'x-key'], 'k');
    setAt(s, ['delegations', 'keys', K5, 'keyval', 'x-keyval'], { a: 1 });
    setAt(s, [...DR0, 'x-role'], 0);
    setAt(s, [...DR1, 'x-role'], -5);
    return s;
  }

  async function check(signed: Json, parent: Metadata | undefined, role: string, type: RoleType) {
    const doc = await signDoc(
      signed,
      type === 'root' ? [signer(1)] : [type === 'targets' ? S4 : type === 'snapshot' ? signer(3) : signer(2)],
    );
    doc['x-envelope'] = { any: ['thing'] };
    (doc['signatures'] as Json[])[0]!['x-sig'] = 'kept';
    const md = Metadata.fromBytes(bytesOf(doc), type);
    // Re-emitted by toJSON / toBytes (every form) …
    expect(JSON.parse(text(md.toBytes('pretty')))).toEqual(doc);
    expect(JSON.parse(text(md.toBytes('compact')))).toEqual(doc);
    expect(md.toBytes('canonical')).toEqual(canonicalBytes(doc));
    expect(canonicalBytes(md.toJSON())).toEqual(canonicalBytes(doc));
    // … and covered by the signature: the received bytes and the re-built model agree.
    expect(md.signedBytes()).toEqual(canonicalBytes(signed));
    const rebuilt = new Metadata(md.signed, md.signatures.values(), md.unrecognized);
    expect(rebuilt.signedBytes()).toEqual(canonicalBytes(signed));
    await (parent ?? md).verifyDelegate(role, md);
    await (parent ?? md).verifyDelegate(role, rebuilt);
    return md;
  }

  let root: Metadata;
  const rootReady = (async () => {
    root = Metadata.fromBytes(bytesOf(await signDoc(rootSigned(), [signer(1)])), 'root');
  })();

  it('targets: signed, targets, hashes siblings, delegations, keys, keyval, delegated roles, signatures, envelope', async () => {
    await rootReady;
    const s = targetsWithExtras();
    const md = await check(s, root, 'targets', 'targets');
    const t = md.signed as Targets;
    expect(t.unrecognized['x-signed']).toEqual(s['x-signed']);
    expect(t.targets.get('a.txt')?.unrecognized['x-target']).toBe('beside length and hashes');
    expect(t.targets.get('a.txt')?.hashes.get('blake3')).toBe('abcdef');
    expect(t.delegations?.unrecognized['x-delegations']).toEqual([[]]);
    expect(t.delegations?.keys.get(K5)?.unrecognized['x-key']).toBe('k');
    expect(t.delegations?.keys.get(K5)?.keyval['x-keyval']).toEqual({ a: 1 });
    expect(t.delegations?.roles?.[1]?.unrecognized['x-role']).toBe(-5);
    expect(md.unrecognized['x-envelope']).toEqual({ any: ['thing'] });
    expect(md.signatures.get(K4)?.unrecognized['x-sig']).toBe('kept');
    // A signature over the document without one of the unknown fields does not cover it.
    const stripped = clone(s);
    delete stripped['x-signed'];
    const forged = bytesOf({ signatures: [(await S4.sign(canonicalBytes(stripped))).toJSON()], signed: s });
    await expect(root.verifyDelegate('targets', Metadata.fromBytes(forged, 'targets'))).rejects.toMatchObject(
      {
        code: 'THRESHOLD',
      },
    );
  });

  it('root: signed, keys, roles', async () => {
    const s = rootSigned();
    s['x-root'] = 1;
    setAt(s, ['keys', signer(1).keyid, 'x-key'], true);
    setAt(s, ['roles', 'root', 'x-role'], { a: 'b' });
    const md = await check(s, undefined, 'root', 'root');
    const root = md.signed as Root;
    expect(root.roles.get('root')?.unrecognized['x-role']).toEqual({ a: 'b' });
    expect(root.keys.get(signer(1).keyid)?.unrecognized['x-key']).toBe(true);
  });

  it('root without consistent_snapshot re-emits none', async () => {
    const s = rootSigned();
    delete s['consistent_snapshot'];
    const md = await check(s, undefined, 'root', 'root');
    expect((md.signed as Root).consistentSnapshot).toBe(false);
    expect('consistent_snapshot' in md.signed.toJSON()).toBe(false);
  });

  it('snapshot and timestamp: meta entries and other meta files', async () => {
    await rootReady;
    const sn = snapshotSigned();
    setAt(sn, ['meta', 'targets.json', 'x-meta'], 'm');
    setAt(sn, ['meta', 'targets.json', 'hashes', 'md5'], 'abcd');
    sn['x-snap'] = null;
    const snMd = await check(sn, root, 'snapshot', 'snapshot');
    expect((snMd.signed as Snapshot).roleMeta('targets')?.unrecognized['x-meta']).toBe('m');
    const ts = timestampSigned();
    setAt(ts, ['meta', 'snapshot.json', 'x-meta'], 'm');
    setAt(ts, ['meta', 'other.json'], { version: 9, anything: 'goes' });
    await check(ts, root, 'timestamp', 'timestamp');
  });

  it('succinct roles', async () => {
    await rootReady;
    const s = succinctTargetsSigned();
    setAt(s, ['delegations', 'succinct_roles', 'x-succinct'], [1]);
    const md = await check(s, root, 'targets', 'targets');
    expect((md.signed as Targets).delegations?.succinctRoles?.unrecognized['x-succinct']).toEqual([1]);
  });
});

describe('__proto__, constructor and integer-like names', () => {
  const NAMES = ['zeta', '10', '__proto__', '2', 'constructor', 'toString', 'alpha', 'hasOwnProperty'];

  function snapshotOfPrototype(): string[] {
    return Object.getOwnPropertyNames(Object.prototype).sort();
  }

  it('as target paths, role names and keyids: round-trip, keep the roles order, verify, and never pollute', async () => {
    const before = snapshotOfPrototype();
    const s = targetsSigned();
    s['targets'] = obj(NAMES.map((n, i) => [n, { length: i, hashes: obj([['sha256', H1]]) }] as const));
    const keys = obj(NAMES.map((n) => [n, S5.key.toJSON()] as const));
    setAt(s, ['delegations', 'keys'], keys);
    setAt(
      s,
      ['delegations', 'roles'],
      NAMES.map((name) => ({ name, keyids: [name], threshold: 1, terminating: false, paths: ['*'] })),
    );
    const doc = await signDoc(s, [S4]);
    const bytes = bytesOf(doc);
    expect(text(bytes)).toContain('"__proto__"');
    const md = Metadata.fromBytes(bytes, 'targets');
    const t = md.signed as Targets;

    expect(new Set(t.targets.keys())).toEqual(new Set(NAMES));
    expect(t.targets.get('__proto__')).toBeInstanceOf(TargetFile);
    expect(t.targets.get('__proto__')?.length).toBe(2);
    expect(t.targets.get('constructor')?.path).toBe('constructor');
    expect(t.targets.get('10')?.length).toBe(1);
    expect(new Set(t.delegations?.keys.keys())).toEqual(new Set(NAMES));
    expect(t.delegations?.keys.get('__proto__')).toBeInstanceOf(Key);
    // The delegation search order is exactly the listed order.
    expect(t.delegations?.roles?.map((r) => r.name)).toEqual(NAMES);
    expect([...(t.delegations?.rolesForTarget('x') ?? [])].map((r) => r.name)).toEqual(NAMES);
    const json = md.toJSON();
    const roles = (json['signed'] as Json)['delegations'] as Json;
    expect((roles['roles'] as Json[]).map((r) => r['name'])).toEqual(NAMES);
    expect(t.delegations?.getRole('__proto__')?.keyids).toEqual(['__proto__']);
    expect(t.delegations?.getRole('valueOf')).toBeUndefined();

    // Bytes round-trip in every form, and the signature still covers the model's output.
    expect(md.toBytes('canonical')).toEqual(canonicalBytes(doc));
    expect(JSON.parse(text(md.toBytes('pretty')))).toEqual(JSON.parse(text(bytes)));
    expect(text(md.toBytes('pretty'))).toContain('"__proto__": {');
    expect(new Metadata(md.signed, md.signatures.values()).signedBytes()).toEqual(canonicalBytes(s));
    const root = Metadata.fromBytes(bytesOf(await signDoc(rootSigned(), [])), 'root');
    await root.verifyDelegate('targets', md);

    // The role named __proto__ (keyid __proto__) verifies a delegate signed under that keyid.
    const delegate = Metadata.fromBytes(
      bytesOf(await signDoc(targetsSigned(), [S5], ['__proto__'])),
      'targets',
    );
    await md.verifyDelegate('__proto__', delegate);
    await md.verifyDelegate(
      '10',
      Metadata.fromBytes(bytesOf(await signDoc(targetsSigned(), [S5], ['10'])), 'targets'),
    );
    await expect(md.verifyDelegate('2', delegate)).rejects.toMatchObject({ code: 'THRESHOLD' });

    // No prototype was touched, and model objects expose no inherited surprises.
    expect(snapshotOfPrototype()).toEqual(before);
    expect(({} as Json)['length']).toBeUndefined();
    expect(Object.getPrototypeOf(t.targets.get('__proto__'))).toBe(TargetFile.prototype);
    expect(Object.getPrototypeOf(md.toJSON()['signed'])).toBe(null);
  });

  it('as root keyids and as unknown field names', async () => {
    const before = snapshotOfPrototype();
    const s1 = signer(1);
    const s = rootSigned();
    setAt(s, ['keys', '__proto__'], s1.key.toJSON());
    setAt(s, ['keys', '10'], s1.key.toJSON());
    setAt(s, ['roles', 'root', 'keyids'], ['__proto__', '10']);
    setAt(s, ['__proto__'], { polluted: true });
    setAt(s, ['constructor'], 'c');
    setAt(s, ['roles', 'root', '__proto__'], { polluted: true });
    const doc = await signDoc(s, [s1], ['__proto__']);
    setAt(doc, ['__proto__'], { polluted: true });
    const md = Metadata.fromBytes(bytesOf(doc), 'root');
    const r = md.signed as Root;
    expect(r.keys.get('__proto__')?.keyval.public).toBe(s1.key.keyval.public);
    expect(Object.getOwnPropertyDescriptor(r.unrecognized, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.getPrototypeOf(r.unrecognized)).toBe(null);
    expect(Object.getOwnPropertyDescriptor(md.unrecognized, '__proto__')?.value).toEqual({ polluted: true });
    expect(md.toBytes('canonical')).toEqual(canonicalBytes(doc));
    const status = await md.delegateStatus('root', md);
    // One key under two keyids counts once.
    expect(status).toEqual({
      role: 'root',
      threshold: 1,
      signed: ['__proto__'],
      unsigned: [],
      verified: true,
    });
    expect(({} as Json)['polluted']).toBeUndefined();
    expect(snapshotOfPrototype()).toEqual(before);
  });
});

describe('expiry', () => {
  it('is expired at exactly `expires`, not one millisecond before', () => {
    const md = parse(envelope(timestampSigned()), 'timestamp');
    const t = Date.UTC(2030, 0, 1, 0, 0, 0);
    expect(md.signed.expires.getTime()).toBe(t);
    expect(md.signed.isExpired(new Date(t))).toBe(true);
    expect(md.signed.isExpired(new Date(t - 1))).toBe(false);
    expect(md.signed.isExpired(new Date(t + 1))).toBe(true);
    expect(md.signed.isExpired(new Date(0))).toBe(false);
  });

  it('an Invalid Date reference time does not make metadata count as unexpired', () => {
    const md = parse(envelope(timestampSigned()), 'timestamp');
    let expired: boolean;
    try {
      expired = md.signed.isExpired(new Date(Number.NaN));
    } catch (e) {
      expired = e instanceof TufError;
    }
    expect(expired).toBe(true);
  });

  it.each([
    ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
    ['2030-12-31T23:59:59Z', Date.UTC(2030, 11, 31, 23, 59, 59)],
    ['1970-01-01T00:00:00Z', 0],
    ['9999-12-31T23:59:59Z', Date.UTC(9999, 11, 31, 23, 59, 59)],
    ['0099-06-15T12:00:00Z', Date.parse('0099-06-15T12:00:00Z')],
  ])('reads and writes %s exactly', (s, ms) => {
    const d = parseExpires(s, 'x');
    expect(d.getTime()).toBe(ms);
    expect(formatExpires(d)).toBe(s);
    const signed = timestampSigned();
    signed['expires'] = s;
    const md = parse(envelope(signed), 'timestamp');
    expect(md.signed.expires.getTime()).toBe(ms);
    expect((md.signed.toJSON() as Json)['expires']).toBe(s);
  });

  it('refuses to write a date that cannot be written as YYYY-MM-DDTHH:MM:SSZ', () => {
    expect((thrown(() => formatExpires(new Date(Number.NaN))) as TufError).code).toBe('FORMAT');
    expect((thrown(() => formatExpires(new Date(Date.UTC(10000, 0, 1)))) as TufError).code).toBe('FORMAT');
    // Milliseconds are not representable; they are dropped on write.
    expect(formatExpires(new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 999)))).toBe(EXPIRES);
  });
});

describe('SuccinctRoles', () => {
  function succinct(bitLength: number, prefix = 'bin'): SuccinctRoles {
    const md = parse(envelope(succinctTargetsSigned(bitLength, prefix)), 'targets');
    const s = (md.signed as Targets).delegations?.succinctRoles;
    if (!s) throw new Error('no succinct roles');
    return s;
  }

  it.each([
    [1, 2, ['bin-0', 'bin-1']],
    [2, 4, ['bin-0', 'bin-3']],
    [4, 16, ['bin-0', 'bin-f']],
    [5, 32, ['bin-00', 'bin-1f']],
    [8, 256, ['bin-00', 'bin-ff']],
    [9, 512, ['bin-000', 'bin-1ff']],
    [16, 65536, ['bin-0000', 'bin-ffff']],
  ] as const)('bit_length %i: %i bins named with zero-padded lower-case hex', (bits, n, [first, last]) => {
    const s = succinct(bits);
    expect(s.numberOfBins).toBe(n);
    const names = [...s.getRoles()];
    expect(names.length).toBe(n);
    expect(names[0]).toBe(first);
    expect(names[n - 1]).toBe(last);
    expect(new Set(names).size).toBe(n);
    for (const name of names.slice(0, 40)) expect(s.isDelegatedRole(name)).toBe(true);
  });

  it('bit_length 32: the widest names', () => {
    const s = succinct(32);
    expect(s.numberOfBins).toBe(2 ** 32);
    expect(s.roleName(0)).toBe('bin-00000000');
    expect(s.roleName(2 ** 32 - 1)).toBe('bin-ffffffff');
    expect(s.isDelegatedRole('bin-ffffffff')).toBe(true);
    expect(s.isDelegatedRole('bin-100000000')).toBe(false);
  });

  /** The TAP 15 computation, written independently: the first 4 bytes of sha256, shifted right. */
  function manualBin(path: string, bits: number, prefix = 'bin'): string {
    const h = Buffer.from(sha256Hex(path), 'hex');
    const first32 = h.readUInt32BE(0);
    const bin = Math.floor(first32 / 2 ** (32 - bits));
    return `${prefix}-${bin.toString(16).padStart(Math.ceil(bits / 4), '0')}`;
  }

  it('getRoleForTarget agrees with a manual computation', () => {
    const paths = ['a.txt', 'dir/b.bin', '', 'é', '😀/x', '__proto__', '10', 'file-with-dash.tgz'];
    for (let i = 0; i < 40; i++) paths.push(`generated/${i}.bin`);
    for (const bits of [1, 3, 4, 5, 8, 13, 16, 31, 32]) {
      const s = succinct(bits, 'p-x');
      for (const p of paths) {
        const name = s.getRoleForTarget(p);
        expect(name).toBe(manualBin(p, bits, 'p-x'));
        expect(s.isDelegatedRole(name)).toBe(true);
      }
    }
    // Known values: sha256("a.txt") = 18b7cb09…: 0x18 = 0b00011000.
    expect(sha256Hex('a.txt').slice(0, 8)).toBe('18b7cb09');
    expect(succinct(8).getRoleForTarget('a.txt')).toBe('bin-18');
    expect(succinct(1).getRoleForTarget('a.txt')).toBe('bin-0');
    expect(succinct(4).getRoleForTarget('a.txt')).toBe('bin-1');
    expect(succinct(5).getRoleForTarget('a.txt')).toBe('bin-03');
    expect(succinct(12).getRoleForTarget('a.txt')).toBe('bin-18b');
  });

  it('the delegation yields exactly the bin role, non-terminating, and getRole finds only bins', () => {
    const md = parse(envelope(succinctTargetsSigned(5)), 'targets');
    const d = (md.signed as Targets).delegations;
    expect([...(d?.rolesForTarget('a.txt') ?? [])]).toEqual([
      { name: manualBin('a.txt', 5), terminating: false },
    ]);
    expect(d?.getRole('bin-1f')).toBe(d?.succinctRoles);
    expect(d?.getRole('bin-20')).toBeUndefined();
    expect(d?.getRole('role-a')).toBeUndefined();
  });

  it.each([
    ['bin-00', true],
    ['bin-1f', true],
    ['bin-20', false], // out of range for 5 bits
    ['bin-ff', false],
    ['bin-1F', false], // upper-case hex
    ['bin-0', false], // too narrow
    ['bin-000', false], // too wide
    ['bin-', false],
    ['bin', false],
    ['bin00', false],
    ['bins-00', false], // other prefix
    ['bi-00', false],
    ['other-00', false],
    ['-00', false],
    ['BIN-00', false],
    ['bin--0', false],
    ['bin-+1', false],
    ['bin- 1', false],
    ['bin-0x', false],
    ['bin-1g', false],
    ['bin-٠١', false], // Arabic-Indic digits
    [' bin-00', false],
    ['bin-00 ', false],
    ['bin-00/..', false],
  ])('isDelegatedRole(%j) with bit_length 5 and prefix "bin" is %s', (name, expected) => {
    expect(succinct(5).isDelegatedRole(name)).toBe(expected);
  });

  it('isDelegatedRole with a prefix containing "-" and an empty prefix', () => {
    const s = succinct(3, 'a-b');
    expect(s.isDelegatedRole('a-b-7')).toBe(true);
    expect(s.isDelegatedRole('a-b-8')).toBe(false);
    expect(s.isDelegatedRole('a-7')).toBe(false);
    const e = succinct(4, '');
    expect(e.roleName(10)).toBe('-a');
    expect(e.isDelegatedRole('-a')).toBe(true);
    expect(e.isDelegatedRole('a')).toBe(false);
  });
});

describe('signatures', () => {
  it('one keyid signing twice is a FormatError naming signatures (also when built in code)', () => {
    const e = thrown(
      () =>
        new Metadata(parse(envelope(timestampSigned())).signed, [
          new Signature('k', 'aa'),
          new Signature('k', 'bb'),
        ]),
    );
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).path).toBe('signatures');
  });

  it('sign() appends, replaces a signature by the same keyid, and with append:false replaces all', async () => {
    const md = parse(envelope(timestampSigned()), 'timestamp');
    await md.sign(signer(2));
    await md.sign(signer(3));
    await md.sign(signer(2));
    expect([...md.signatures.keys()]).toEqual([signer(2).keyid, signer(3).keyid]);
    await md.sign(signer(3), { append: false });
    expect([...md.signatures.keys()]).toEqual([signer(3).keyid]);
    const root = parse(await signDoc(rootSigned(), []), 'root');
    await expect(root.verifyDelegate('timestamp', md)).rejects.toMatchObject({ code: 'THRESHOLD' });
    await md.sign(signer(2));
    await root.verifyDelegate('timestamp', md);
  });

  it('verifying with a role the delegator does not define is a UsageError', async () => {
    const ts = parse(envelope(timestampSigned()), 'timestamp');
    const e = await ts.verifyDelegate('snapshot', ts).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as TufError).code).toBe('USAGE');
  });
});

describe('targets are validated when parsed, built when read', () => {
  it('rejects a bad entry at parse time even if it is never read', async () => {
    const { Targets } = await import('../../src/metadata/signed.js');
    const base = { _type: 'targets', spec_version: '1.0.31', version: 1, expires: '2030-01-01T00:00:00Z' };
    const good = { length: 1, hashes: { sha256: 'ab' } };
    expect(() =>
      Targets.fromJSON({ ...base, targets: { a: good, z: { length: -1, hashes: { sha256: 'ab' } } } }),
    ).toThrow(/signed\.targets\.z\.length/);
    expect(() => Targets.fromJSON({ ...base, targets: { a: good, z: { length: 1, hashes: {} } } })).toThrow(
      /hashes/,
    );
    expect(() =>
      Targets.fromJSON({ ...base, targets: { a: good, z: { length: 1, hashes: { sha256: 'AB' } } } }),
    ).toThrow(/lower-case hex/);
    const t = Targets.fromJSON({ ...base, targets: { a: good, __proto__x: good } });
    expect(t.targets.size).toBe(2);
    expect(t.targets.get('a')?.length).toBe(1);
    expect(t.targets.get('a')).toBe(t.targets.get('a'));
    expect(t.targets.get('constructor')).toBeUndefined();
    expect(t.targets.has('toString')).toBe(false);
    expect([...t.targets.keys()]).toEqual(['a', '__proto__x']);
  });
});

describe('Root.role', () => {
  it('gives each top-level role, and refuses a name that is not one with a FormatError', async () => {
    const keyOf = { root: [signer(1)], timestamp: [signer(2)], snapshot: [signer(3)], targets: [S4, S5] };
    const root = Metadata.fromBytes(bytesOf(await signDoc(rootSigned(keyOf), [signer(1)])), 'root').signed;
    for (const [name, ss] of Object.entries(keyOf)) {
      const role = root.role(name as keyof typeof keyOf);
      expect(role).toBeInstanceOf(Role);
      expect(role.keyids).toEqual(ss.map((s) => s.keyid));
    }
    // An untyped caller (plain JavaScript, a name read from a file) can pass any string.
    const e = thrown(() => root.role('mirror' as 'root'));
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).code).toBe('FORMAT');
    expect((e as FormatError).message).toBe(
      'root version 1 has no role "mirror" (expected one of root, timestamp, snapshot, targets)',
    );
  });
});

describe('models keep their own copies of what they are given (ADR 0012)', () => {
  const common = () => ({
    version: 1,
    specVersion: SPECIFICATION_VERSION,
    expires: new Date(Date.UTC(2030, 0, 1)),
  });

  it('Role, DelegatedRole and SuccinctRoles: lists copied and frozen', () => {
    const keyids = ['a', 'b'];
    const paths = ['x/*'];
    const prefixes = ['ab'];
    const role = new Role(keyids, 1);
    const delegated = new DelegatedRole({ name: 'd', keyids, threshold: 1, terminating: false, paths });
    const hashed = new DelegatedRole({
      name: 'h',
      keyids,
      threshold: 1,
      terminating: false,
      pathHashPrefixes: prefixes,
    });
    const bins = new SuccinctRoles(keyids, 1, 4, 'bin');
    keyids.push('c');
    paths.push('*');
    prefixes[0] = '';
    for (const r of [role, delegated, hashed, bins]) {
      expect(r.keyids).toEqual(['a', 'b']);
      expect(Object.isFrozen(r.keyids)).toBe(true);
    }
    expect(delegated.paths).toEqual(['x/*']);
    expect(delegated.isDelegatedPath('y/z')).toBe(false);
    expect(hashed.pathHashPrefixes).toEqual(['ab']);
    expect(Object.isFrozen(delegated.paths)).toBe(true);
    expect(Object.isFrozen(hashed.pathHashPrefixes)).toBe(true);
  });

  it('Delegations: keys and roles copied', () => {
    const keys = new Map([[S4.keyid, S4.key]]);
    const roles = [
      new DelegatedRole({ name: 'd', keyids: [S4.keyid], threshold: 1, terminating: false, paths: ['*'] }),
    ];
    const d = new Delegations({ keys, roles });
    keys.clear();
    roles.push(new DelegatedRole({ name: 'e', keyids: [], threshold: 1, terminating: false, paths: ['*'] }));
    expect([...d.keys.keys()]).toEqual([S4.keyid]);
    expect(d.roles?.map((r) => r.name)).toEqual(['d']);
    expect(d.getRole('e')).toBeUndefined();
    expect(Object.isFrozen(d.roles)).toBe(true);
  });

  it('Root: keys and roles copied, so role() always finds the four', () => {
    const keys = new Map([[S4.keyid, S4.key]]);
    const roles = new Map<'root' | 'timestamp' | 'snapshot' | 'targets', Role>(
      (['root', 'timestamp', 'snapshot', 'targets'] as const).map((n) => [n, new Role([S4.keyid], 1)]),
    );
    const root = new Root({ ...common(), keys, roles });
    keys.clear();
    roles.delete('targets');
    roles.set('root', new Role(['other'], 1));
    expect([...root.keys.keys()]).toEqual([S4.keyid]);
    expect(root.role('targets').keyids).toEqual([S4.keyid]);
    expect(root.role('root').keyids).toEqual([S4.keyid]);
  });

  it('Snapshot, MetaFile and Timestamp: meta, hashes and other meta files copied', () => {
    const hashes = new Map([['sha256', H1]]);
    const file = new MetaFile(1, 10, hashes);
    const meta = new Map([['targets.json', file]]);
    const snapshot = new Snapshot({ ...common(), meta });
    const otherMeta: Record<string, unknown> = { 'extra.json': { version: 2 } };
    const timestamp = new Timestamp({ ...common(), snapshotMeta: file, otherMeta });
    hashes.set('sha256', 'ff');
    meta.delete('targets.json');
    (otherMeta['extra.json'] as { version: number }).version = 3;
    otherMeta['more.json'] = {};
    expect(file.hashes?.get('sha256')).toBe(H1);
    expect(snapshot.roleMeta('targets')).toBe(file);
    expect(timestamp.toJSON()['meta']).toEqual({
      'snapshot.json': file.toJSON(),
      'extra.json': { version: 2 },
    });
  });

  it('TargetFile: hashes and unknown fields copied deeply and frozen; only JSON values accepted', () => {
    const hashes = new Map([['sha256', H1]]);
    const custom = { nested: { tags: ['a'] } };
    const t = new TargetFile('app', 1, hashes, { custom });
    hashes.delete('sha256');
    custom.nested.tags.push('b');
    custom.nested = { tags: [] };
    expect(t.hashes.get('sha256')).toBe(H1);
    expect(t.custom).toEqual({ nested: { tags: ['a'] } });
    expect(Object.isFrozen(t.unrecognized)).toBe(true);
    expect(Object.isFrozen((t.custom as { nested: object }).nested)).toBe(true);
    const e = thrown(() => new TargetFile('app', 1, hashes.set('sha256', H1), { custom: { size: 1.5 } }));
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).message).toMatch(/^target "app"\.custom\.size: expected an integer/);
  });

  it('Targets: a map given is copied; a parsed lazy map is kept as it is, never built eagerly', () => {
    const targets = new Map([['a', new TargetFile('a', 1, new Map([['sha256', H1]]))]]);
    const t = new Targets({ ...common(), targets });
    targets.clear();
    expect([...t.targets.keys()]).toEqual(['a']);
    const parsed = parse(envelope(targetsSigned()), 'targets').signed as Targets;
    const again = new Targets({ ...common(), targets: parsed.targets });
    expect(again.targets).toBe(parsed.targets);
  });

  it('a model built from another model’s collections shares them instead of copying', () => {
    const t = new Targets({
      ...common(),
      targets: new Map([['a', new TargetFile('a', 1, new Map([['sha256', H1]]))]]),
      unrecognized: { note: { deep: 1 } },
    });
    const next = new Targets({ ...common(), version: 2, targets: t.targets, unrecognized: t.unrecognized });
    expect(next.targets).toBe(t.targets);
    expect(next.unrecognized).toBe(t.unrecognized);
    const role = new Role(['a'], 1);
    expect(new Role(role.keyids, 2).keyids).toBe(role.keyids);
    // A list frozen by the caller cannot change either; a merely shallow-frozen field object could.
    const frozen = Object.freeze(['x']);
    expect(new Role(frozen, 1).keyids).toBe(frozen);
    const shallow = Object.freeze({ custom: { tags: ['a'] } });
    const target = new TargetFile('p', 1, new Map([['sha256', H1]]), shallow);
    shallow.custom.tags.push('b');
    expect(target.custom).toEqual({ tags: ['a'] });
  });

  it('expires: neither the Date given nor the Date read changes the model', () => {
    const expires = new Date(Date.UTC(2030, 0, 1));
    const t = new Targets({ ...common(), expires, targets: new Map() });
    expires.setTime(0);
    t.expires.setTime(0);
    expect(t.expires.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(t.isExpired(new Date(Date.UTC(2029, 0, 1)))).toBe(false);
  });

  it('signed bytes stay those of the model: metadata signed, then its inputs changed, still verifies', async () => {
    const keys = new Map([[S4.keyid, S4.key]]);
    const roles = [
      new DelegatedRole({ name: 'd', keyids: [S4.keyid], threshold: 1, terminating: false, paths: ['*'] }),
    ];
    const targets = new Map([['a', new TargetFile('a', 1, new Map([['sha256', H1]]))]]);
    const extra: Record<string, unknown> = { note: 'kept' };
    const md = new Metadata(
      new Targets({
        ...common(),
        targets,
        delegations: new Delegations({ keys, roles }),
        unrecognized: extra,
      }),
    );
    await md.sign(S5);
    targets.set('b', new TargetFile('b', 2, new Map([['sha256', H1]])));
    roles.length = 0;
    keys.clear();
    extra['note'] = 'changed';
    const back = Metadata.fromBytes(md.toBytes(), 'targets');
    expect([...back.signed.targets.keys()]).toEqual(['a']);
    expect(back.signed.unrecognized['note']).toBe('kept');
    const verifier = new Role([S5.keyid], 1);
    const result = await verifyThreshold('targets', verifier, new Map([[S5.keyid, S5.key]]), back);
    expect(result.verified).toBe(true);
  });

  it('Metadata: unknown envelope fields copied and frozen', () => {
    const extra: Record<string, unknown> = { x: { y: 1 } };
    const md = new Metadata(new Targets({ ...common(), targets: new Map() }), [], extra);
    (extra['x'] as { y: number }).y = 2;
    expect(md.unrecognized).toEqual({ x: { y: 1 } });
    expect(Object.isFrozen(md.unrecognized)).toBe(true);
  });
});
