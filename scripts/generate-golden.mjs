#!/usr/bin/env node
/**
 * Generates the golden TUF repository in `test-vectors/golden/` with FIXED keys and dates.
 *
 * Regenerate (from the repository root):
 *
 *     npx tsc -b && node scripts/generate-golden.mjs
 *
 * Plain ESM on purpose: Node 20 cannot run TypeScript (`--experimental-strip-types` is Node 22+,
 * Node 20.20 answers "bad option"), so when run directly this script loads the compiled
 * library from `packages/core/dist/`. `buildGolden(tufa)` takes the @tufa/core module as a
 * parameter, so `packages/core/test/interop/golden.test.ts` rebuilds the same files in memory
 * from the TypeScript sources and compares them with the committed files byte for byte.
 *
 * What is written (all metadata with `toBytes('pretty')`, python-tuf's file layout):
 *   metadata/1.root.json, 2.root.json   root v1 (2 root keys, threshold 2, consistent_snapshot)
 *                                       and v2 (root key A rotated to C; signed by A, B and C,
 *                                       so both the old and the new threshold are met)
 *   metadata/1.targets.json             3 targets: one with `custom` (and sha256 + sha512), one
 *                                       with a non-ASCII path, one OCI-style digest entry; it
 *                                       delegates to releases (paths, terminating), prefixed
 *                                       (path_hash_prefixes), hashed (paths) and intl (paths)
 *   metadata/1.hashed.json              succinct hash bins, bit_length 2, name_prefix "bin"
 *   metadata/1.bin-0.json … 1.bin-3.json  the bins, each holding the hashed/ targets its hash names
 *   metadata/1.releases.json, 1.prefixed.json
 *   metadata/1.intl.json                target paths whose order differs between Unicode code
 *                                       points (TUF canonical JSON) and UTF-16 units (JS sort)
 *   metadata/1.snapshot.json            every targets role, with version, length and sha256
 *   metadata/timestamp.json             snapshot.json with version, length and sha256
 *   keys.json                           public keys, keyids and the private seeds (TEST ONLY)
 *   randomized/*.root.json              root v1 variants whose root key is ECDSA P-256, ECDSA
 *                                       P-384 or RSA-PSS: their signatures are randomised, so they
 *                                       are checked by verification; an existing file is kept
 *                                       when its `signed` part is unchanged and it still verifies.
 *
 * Ed25519 signatures are deterministic (RFC 8032), so everything outside randomized/ is
 * reproduced exactly by every run.
 *
 * THE PRIVATE KEYS BELOW ARE PUBLIC. TEST ONLY. Never use them for anything else.
 */
import { createECDH, createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Ed25519 seeds (RFC 8032 private keys): sha256 of `tufa golden TEST ONLY <name>`. TEST ONLY. */
export const ED25519_SEEDS = {
  'root-a': 'b9a462f812b13f7f5ed9b0804444d82d4fd9f6356dff09a83b212f0a4871eaab',
  'root-b': 'f6d364746d47eebec85b040718201b3ea3d3d28ebd5e2efc260e374e63bca9e0',
  'root-c': 'b4a84a170f0efe893ceca47514ab81f05adcc84143638178875e3fe50f24fbd1',
  timestamp: '2d40893c7cbe335c31b789c922c697e5966add7f1d90b121b754d566293fa84d',
  snapshot: '94c1839ceb5ba9d7f0ac0b9777f70ee9eed3779afc1b3ab2836e02c12f446598',
  targets: 'f31622d5d64ce61e1a8c09e4d8c1edaa22f4fd3fd2468997d6ca87bd7df989ee',
  releases: '0e47d539c8d47d2ad88c13abc3722107a88804d7ef5411bc3bc39f8e7cee9300',
  prefixed: '4e9c17a0d2f8f607254f9ad5b7da7a76e376f4bb008199f72e87ca65d6f74aad',
  hashed: '23b08fa66309d26f57a411ad2220a55a6f3ee0356dc2c5ed0b6cf39301841ec3',
  bins: '6f943bbff586ad6c631a4d54ddf9b353d19dbd42c8bfa5fe431739376c001d2b',
  intl: 'fe8cef1cfdc0b2865d10f265d0a84bf31d10ab2c8f9e4875c4e1a49fe6a6b3c8',
};

/** ECDSA private scalars (big-endian hex). TEST ONLY. */
export const ECDSA_SCALARS = {
  'ecdsa-p256': '1111111111111111111111111111111111111111111111111111111111111111',
  'ecdsa-p384':
    '222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222',
};

/** An RSA 2048 key made once with node:crypto (RSA key generation cannot be seeded). TEST ONLY. */
export const RSA_PKCS8_PEM = `-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCWwYd+Rlz6v7JS
ahnqtHKbvEozevVK/OgCUPe8uKSMg/5N6IxDhkvoteFAToSh46k7EGTyI6WNHkm/
3XHg8afzZ5cUhx+74OIrrucnOdukV0n9wPXQrGkTz2isf9cy8n0PM0jm7MZJA5cq
kLae01XrrluB8Rb93sUs7DVBjvIqaK0sIH7bgvnxD/GWDSKq8ZhoE0ZUHTwrpx+n
OKkqvggHgxJP4E1c/Eld1tglMuwO1LNuBvxO5MpTudUF+TmwtfZZ3Chwh/i8zxLG
G8uvwKIcHbZUzEpWdAdOUJe+2G+ucahJzqibfrQEehjjFh4UzPnxc+bz65uPCUCA
iBEiFgfLAgMBAAECggEACckBAEIVRJSka0iwwEplyqmo5U4yAA6KCVBzwWpOCpgs
raY4/c8IkU/GPEl8aWegszvoBCF/3Dje5Oxnjl1mdIbrnaz8SH0bIRERYZCWAETx
gV4rdm0icDiSXOlQBgy1mlgj/2fXTPjwhcDujEDqaZ71GJTrVEodNpe/CITR6iJX
W2aAEsaGjAIhYurvgF1q4JdJTN84h6N+XmZnYng3fwAhWfTN8alPqNjS4c50aO4v
PLOLY0YxjIqJDnEScNmHjF9YLOt+UYHttMUUkcBA6f/fxODSLOkawjEFsmcTaOEm
7jkx42PJc6R9D0bzfll+rzBw+qtccZ2peffzAD7ENQKBgQDOrK08vsjK/bqpZMwF
nH0dGWiWsswWcZJaVkFDjqjeTGgPTxuLUmu1ooNNXly1fnWAvvw9ZMG6CD95T5l4
1YY3dlByDrRnKvw1fLIjp6AdWUIdVX5NaafucsZerl4sDpQmM6cgUywQkM9nSpT0
Tta3RK112C3paszRaIu/vxk7vQKBgQC6vFysARFyT6Pf7QeiriuWf6JbhxY53aqw
9iB2nlLFNyvNFexAtEzLP85JnOaCWUpgE7976fi6F2qTLjyif+TJS8kk8ucVQXJ2
LLqwk9uhqbRxmolAxnHyH5FUu2pWZ1TeWf2uBVxjJxR60zXhaFdPcTfu3rePhM9p
Fnm8qu2GJwKBgGOZRbczfhKNKkp9//BoVMcUOpn9OmtKeiw8yyDifDD9A1z1U6HV
q4CR+9LqOaVhdwD/iRGRH+cmGGi+2ogn5pGN3ADLY1cgmQCxwit6mafrHviB/ecS
ltJLz5tLTqjOscijNdRXILIvBzSQ9a2y3LjfSPS0pJOLW39Dca2LS37FAoGAWV/k
HvMX7ZVOgtOIzwT7mbmW9KWwLpv4oV/746odRYUFctAmVkW1Z6YvTq5I6WRhI6Dw
ChfO0wp4GN+NZ908nFeoewXDMjoz1XnNFMx/111JHwJu5NDWIqOXRG27FIW6af26
W/r24AIJXEwQwsTU3RH8SljQlGFlgA+gznsk2gsCgYEAn0sn4vNWIkhc2jbotTxt
GpsKF4+P8dWLFEek7Fuq+zFl3RS3NiRbUCZnH7i92KO/mCduSWfQQXw97XgqudKb
zm6655BygL3j3mCXPyIfelMxSDtiBTOXINpEujPzSDngcdwU2c4rzYZYIFR1fNqX
9ncvPjWEUzmGbb2MAL5BpDQ=
-----END PRIVATE KEY-----
`;

/** Fixed dates: far in the future, so tests that use the golden files never depend on the clock. */
export const EXPIRES = {
  root1: '2100-01-01T00:00:00Z',
  root2: '2100-07-01T12:00:00Z',
  timestamp: '2099-12-31T23:59:59Z',
  snapshot: '2099-12-31T00:00:00Z',
  targets: '2099-06-30T06:30:00Z',
  delegated: '2099-01-01T00:00:00Z',
};

const enc = new TextEncoder();

/** Target contents, by target path. The OCI-style entry is named by its manifest's digest. */
function targetContents() {
  const manifest = enc.encode(
    `${JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: `sha256:${'44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'}`,
        size: 2,
      },
      layers: [],
    })}\n`,
  );
  const manifestDigest = createHash('sha256').update(manifest).digest('hex');
  const t = new Map();
  t.set('app/config.json', enc.encode('{"feature": true}\n'));
  t.set('docs/über.txt', enc.encode('Grüße aus tufa\n'));
  t.set(`oci/tufa/demo@sha256:${manifestDigest}`, manifest);
  t.set('releases/v1.0.0.tar.gz', enc.encode('release 1.0.0 (not really a tarball)\n'));
  t.set('prefixed/data.bin', new Uint8Array([0, 1, 2, 3, 254, 255]));
  for (let i = 0; i < 8; i++) t.set(`hashed/file-${i}.txt`, enc.encode(`hashed file ${i}\n`));
  // U+FF21 (FULLWIDTH A) sorts before U+1F600 by code point, after it by UTF-16 unit.
  t.set('intl/\uff21.txt', enc.encode('fullwidth A\n'));
  t.set('intl/\u{1f600}.txt', enc.encode('grinning face\n'));
  t.set('intl/plain.txt', enc.encode('plain\n'));
  return t;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The Ed25519 private KeyObject for a 32-byte seed (hex). */
export function ed25519PrivateKey(seedHex) {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seedHex, 'hex')]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/** The ECDSA private KeyObject for a private scalar (hex) on P-256 or P-384. */
export function ecdsaPrivateKey(curve, scalarHex) {
  const ecdh = createECDH(curve === 'P-256' ? 'prime256v1' : 'secp384r1');
  const d = Buffer.from(scalarHex, 'hex');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey(); // 04 || x || y
  const n = (point.length - 1) / 2;
  const jwk = {
    kty: 'EC',
    crv: curve,
    d: d.toString('base64url'),
    x: point.subarray(1, 1 + n).toString('base64url'),
    y: point.subarray(1 + n).toString('base64url'),
  };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

function signerFor(tufa, privateKey) {
  return new tufa.PrivateKeySigner(privateKey, tufa.Key.fromPublicKeyObject(createPublicKey(privateKey)));
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Builds the golden repository with the given @tufa/core module (the compiled package or its
 * sources) and two of its internals, `parseExpires` (metadata/time) and `pythonJson`
 * (metadata/serialize), which the public entry does not export. Resolves to:
 *   files       Map of path under test-vectors/golden/ -> bytes, for every deterministic file
 *   randomized  Map of path under test-vectors/golden/ -> freshly signed Metadata<Root>
 *   targets     Map of target path -> content (the bytes the targets metadata describes)
 *   signers     Map of key name -> PrivateKeySigner
 */
export async function buildGolden(tufa, internals) {
  const { Metadata, Root, Role, Timestamp, Snapshot, Targets, DelegatedRole, Delegations, SuccinctRoles } =
    tufa;
  const { MetaFile, TargetFile, SPECIFICATION_VERSION } = tufa;
  const { parseExpires, pythonJson } = internals;
  const date = (s) => parseExpires(s, 'expires');
  const common = (version, expires) => ({
    version,
    specVersion: SPECIFICATION_VERSION,
    expires: date(expires),
  });

  const signers = new Map();
  for (const [name, seed] of Object.entries(ED25519_SEEDS))
    signers.set(name, signerFor(tufa, ed25519PrivateKey(seed)));
  signers.set('ecdsa-p256', signerFor(tufa, ecdsaPrivateKey('P-256', ECDSA_SCALARS['ecdsa-p256'])));
  signers.set('ecdsa-p384', signerFor(tufa, ecdsaPrivateKey('P-384', ECDSA_SCALARS['ecdsa-p384'])));
  signers.set('rsa', signerFor(tufa, createPrivateKey(RSA_PKCS8_PEM)));
  const s = (name) => signers.get(name);
  const id = (name) => s(name).keyid;
  const keysOf = (...names) => new Map(names.map((n) => [id(n), s(n).key]));

  const contents = targetContents();
  const files = new Map();
  const put = (name, md) => {
    const bytes = md.toBytes('pretty');
    files.set(`metadata/${name}`, bytes);
    return bytes;
  };
  const signAll = async (md, names) => {
    for (const n of names) await md.sign(s(n));
    return md;
  };
  const targetFile = async (path, custom, algorithms = ['sha256']) =>
    TargetFile.fromData(path, contents.get(path), algorithms, custom);
  const targetMap = async (paths) => {
    const m = new Map();
    for (const p of paths) m.set(p, await targetFile(p));
    return m;
  };

  // Root v1: two root keys, threshold 2.
  const rootRoles = (rootKeys) =>
    new Map([
      ['root', new Role(rootKeys.map(id), 2)],
      ['timestamp', new Role([id('timestamp')], 1)],
      ['snapshot', new Role([id('snapshot')], 1)],
      ['targets', new Role([id('targets')], 1)],
    ]);
  const root1 = new Metadata(
    new Root({
      ...common(1, EXPIRES.root1),
      consistentSnapshot: true,
      keys: keysOf('root-a', 'root-b', 'timestamp', 'snapshot', 'targets'),
      roles: rootRoles(['root-a', 'root-b']),
    }),
  );
  put('1.root.json', await signAll(root1, ['root-a', 'root-b']));

  // Root v2: root-a is rotated out for root-c. Signed by the old threshold (a, b) and the new (b, c).
  const root2 = new Metadata(
    new Root({
      ...common(2, EXPIRES.root2),
      consistentSnapshot: true,
      keys: keysOf('root-b', 'root-c', 'timestamp', 'snapshot', 'targets'),
      roles: rootRoles(['root-b', 'root-c']),
    }),
  );
  put('2.root.json', await signAll(root2, ['root-a', 'root-b', 'root-c']));

  // Delegated roles.
  const prefixedPath = 'prefixed/data.bin';
  const hashedPaths = [...contents.keys()].filter((p) => p.startsWith('hashed/'));
  const succinct = new SuccinctRoles([id('bins')], 1, 2, 'bin');
  const delegated = new Map(); // role name -> Metadata, in publication order
  const delegatedTargets = (version, targets, delegations) =>
    new Metadata(new Targets({ ...common(version, EXPIRES.delegated), targets, delegations }));

  delegated.set('releases', delegatedTargets(1, await targetMap(['releases/v1.0.0.tar.gz'])));
  delegated.set('prefixed', delegatedTargets(1, await targetMap([prefixedPath])));
  delegated.set(
    'hashed',
    delegatedTargets(1, new Map(), new Delegations({ keys: keysOf('bins'), succinctRoles: succinct })),
  );
  for (const bin of succinct.getRoles()) {
    const mine = hashedPaths.filter((p) => succinct.getRoleForTarget(p) === bin);
    delegated.set(bin, delegatedTargets(1, await targetMap(mine)));
  }
  delegated.set(
    'intl',
    delegatedTargets(1, await targetMap([...contents.keys()].filter((p) => p.startsWith('intl/')))),
  );

  const roleSigner = (name) => (succinct.isDelegatedRole(name) ? 'bins' : name);
  const delegatedBytes = new Map();
  for (const [name, md] of delegated) {
    await md.sign(s(roleSigner(name)));
    delegatedBytes.set(name, put(`1.${name}.json`, md));
  }

  // Top-level targets: three targets and four delegations, in search order.
  const topTargets = new Map();
  topTargets.set(
    'app/config.json',
    await targetFile('app/config.json', { channel: 'stable', min_version: 3, notes: ['json', 'custom'] }, [
      'sha256',
      'sha512',
    ]),
  );
  topTargets.set('docs/über.txt', await targetFile('docs/über.txt'));
  const ociPath = [...contents.keys()].find((p) => p.startsWith('oci/'));
  topTargets.set(
    ociPath,
    await targetFile(ociPath, {
      oci: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        reference: 'registry.example/tufa/demo:1.0',
      },
    }),
  );
  const prefix = sha256(enc.encode(prefixedPath)).slice(0, 2);
  const targets = new Metadata(
    new Targets({
      ...common(1, EXPIRES.targets),
      targets: topTargets,
      delegations: new Delegations({
        keys: keysOf('releases', 'prefixed', 'hashed', 'intl'),
        roles: [
          new DelegatedRole({
            name: 'releases',
            keyids: [id('releases')],
            threshold: 1,
            terminating: true,
            paths: ['releases/*'],
          }),
          new DelegatedRole({
            name: 'prefixed',
            keyids: [id('prefixed')],
            threshold: 1,
            terminating: false,
            pathHashPrefixes: [prefix, 'ffff'],
          }),
          new DelegatedRole({
            name: 'hashed',
            keyids: [id('hashed')],
            threshold: 1,
            terminating: false,
            paths: ['hashed/*'],
          }),
          new DelegatedRole({
            name: 'intl',
            keyids: [id('intl')],
            threshold: 1,
            terminating: false,
            paths: ['intl/*'],
          }),
        ],
      }),
    }),
  );
  await targets.sign(s('targets'));
  const targetsBytes = put('1.targets.json', targets);

  // Snapshot: every targets role, with version, length and sha256 of the file as published.
  const describe = (bytes) => new MetaFile(1, bytes.length, new Map([['sha256', sha256(bytes)]]));
  const meta = new Map([['targets.json', describe(targetsBytes)]]);
  for (const [name, bytes] of delegatedBytes) meta.set(`${name}.json`, describe(bytes));
  const snapshot = new Metadata(new Snapshot({ ...common(1, EXPIRES.snapshot), meta }));
  await snapshot.sign(s('snapshot'));
  const snapshotBytes = put('1.snapshot.json', snapshot);

  const timestamp = new Metadata(
    new Timestamp({ ...common(1, EXPIRES.timestamp), snapshotMeta: describe(snapshotBytes) }),
  );
  await timestamp.sign(s('timestamp'));
  put('timestamp.json', timestamp);

  // Root variants whose root role is one ECDSA or RSA key (randomised signatures).
  const randomized = new Map();
  for (const kind of ['ecdsa-p256', 'ecdsa-p384', 'rsa']) {
    const md = new Metadata(
      new Root({
        ...common(1, EXPIRES.root1),
        consistentSnapshot: true,
        keys: keysOf(kind, 'timestamp', 'snapshot', 'targets'),
        roles: new Map([
          ['root', new Role([id(kind)], 1)],
          ['timestamp', new Role([id('timestamp')], 1)],
          ['snapshot', new Role([id('snapshot')], 1)],
          ['targets', new Role([id('targets')], 1)],
        ]),
      }),
    );
    await md.sign(s(kind));
    randomized.set(`randomized/${kind}.root.json`, md);
  }

  // keys.json: what each key is, and its private half (TEST ONLY).
  const keyEntry = (name, secret) => ({ keyid: id(name), key: s(name).key.toJSON(), ...secret });
  const keys = {
    WARNING:
      'TEST ONLY. These private keys are published on purpose so the golden files can be regenerated; never trust them for anything.',
    generator: 'node scripts/generate-golden.mjs (after npx tsc -b)',
    ed25519: Object.fromEntries(Object.entries(ED25519_SEEDS).map(([n, seed]) => [n, keyEntry(n, { seed })])),
    'ecdsa-p256': keyEntry('ecdsa-p256', { private_scalar: ECDSA_SCALARS['ecdsa-p256'] }),
    'ecdsa-p384': keyEntry('ecdsa-p384', { private_scalar: ECDSA_SCALARS['ecdsa-p384'] }),
    rsa: keyEntry('rsa', { private_pkcs8_pem: RSA_PKCS8_PEM }),
  };
  files.set('keys.json', enc.encode(`${pythonJson(keys, 1)}\n`));

  return { files, randomized, targets: contents, signers };
}

/** Whether a committed randomized file still holds exactly `fresh`'s signed part and verifies. */
async function stillValid(tufa, path, fresh) {
  let old;
  try {
    old = tufa.Metadata.fromBytes(new Uint8Array(readFileSync(path)), 'root');
  } catch {
    return false;
  }
  if (Buffer.compare(Buffer.from(old.signedBytes()), Buffer.from(fresh.signedBytes())) !== 0) return false;
  const status = await old.delegateStatus('root', old);
  return status.verified && status.unsigned.length === 0;
}

async function main() {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
  const dist = (f) => import(pathToFileURL(join(repo, 'packages/core/dist', f)).href);
  const tufa = await dist('index-node.js');
  const internals = { ...(await dist('metadata/time.js')), ...(await dist('metadata/serialize.js')) };
  const out = join(repo, 'test-vectors/golden');
  const { files, randomized } = await buildGolden(tufa, internals);
  // metadata/ is rebuilt from scratch, so a role that is no longer generated leaves no stale file.
  rmSync(join(out, 'metadata'), { recursive: true, force: true });
  for (const [rel, bytes] of files) {
    mkdirSync(dirname(join(out, rel)), { recursive: true });
    writeFileSync(join(out, rel), bytes);
  }
  mkdirSync(join(out, 'randomized'), { recursive: true });
  for (const name of readdirSync(join(out, 'randomized'))) {
    if (!randomized.has(`randomized/${name}`)) rmSync(join(out, 'randomized', name));
  }
  let kept = 0;
  for (const [rel, md] of randomized) {
    if (await stillValid(tufa, join(out, rel), md)) kept++;
    else writeFileSync(join(out, rel), md.toBytes('pretty'));
  }
  console.log(
    `wrote ${files.size} files to ${out}; randomized: ${randomized.size - kept} rewritten, ${kept} unchanged`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
