/**
 * A repository whose root key lives on a token: created and published with the root signed by
 * an Ed25519 key on token "offline-a" (targets, snapshot and timestamp keys on disk); the root
 * rotated to two keys on token "offline-b" (ECDSA P-256 and RSA-PSS, threshold 2), signed by the
 * old and the new keys; then rotated once more to add a P-384 key from token "offline-a".
 * tufa's Updater, trusting only root v1, walks the rotations; tuf-js's models verify the
 * v1 -> v2 rotation and the top-level roles (not v3: tuf-js is known wrong on P-384).
 */
import {
  type Fetcher,
  type FetchRequest,
  generateKeyPair,
  MemoryMetadataStore,
  MemoryRepositoryStorage,
  Metadata,
  NotFoundError,
  Repository,
  TargetFile,
  Updater,
} from '@tufa/core';
import { Metadata as TufJsMetadata } from '@tufjs/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closePkcs11, type GeneratedTokenKey, generateKeyPairOnToken } from '../src/index.js';
import { createTokens, probeSoftHsm, required, type SoftHsm, USER_PIN } from './softhsm.js';

const hsm = await probeSoftHsm();
const run = hsm.available || required;
const NOW = new Date('2030-01-01T00:00:00Z');
const BASE = 'https://repo.test/';
const env = { TUFA_PIN: USER_PIN };

/** Serves the repository storage to the Updater (metadata/ and targets/ under BASE). */
class StorageFetcher implements Fetcher {
  constructor(private readonly storage: MemoryRepositoryStorage) {}
  async *fetch(url: string, _request: FetchRequest): AsyncIterable<Uint8Array> {
    const bytes = this.storage.files.get(decodeURIComponent(url.slice(BASE.length)));
    if (bytes === undefined) throw new NotFoundError(`${url}: 404`, { status: 404 });
    yield bytes;
  }
}

function target(path: string, n: number): TargetFile {
  return new TargetFile(path, 100 + n, new Map([['sha256', n.toString(16).padStart(64, '0')]]));
}

function file(storage: MemoryRepositoryStorage, name: string): Uint8Array {
  const b = storage.files.get(name);
  if (!b) throw new Error(`${name} was not published`);
  return b;
}

function tufJs(bytes: Uint8Array) {
  return JSON.parse(new TextDecoder().decode(bytes));
}

describe.skipIf(!run)('a repository with its root key on a token', () => {
  let t: SoftHsm;
  let rootA: GeneratedTokenKey;
  let rootB1: GeneratedTokenKey;
  let rootB2: GeneratedTokenKey;
  let rootA3: GeneratedTokenKey;
  const storage = new MemoryRepositoryStorage();

  beforeAll(async () => {
    if (!hsm.available) throw new Error(`SoftHSM2 tests are required under CI=true: ${hsm.reason}`);
    t = await createTokens(['offline-a', 'offline-b']);
    rootA = await generateKeyPairOnToken(t.uri('offline-a', ';object=root-1'), 'ed25519', { env });
    rootB1 = await generateKeyPairOnToken(t.uri('offline-b', ';object=root-2a'), 'ecdsa-p256', { env });
    rootB2 = await generateKeyPairOnToken(t.uri('offline-b', ';object=root-2b'), 'rsa', { env });
    rootA3 = await generateKeyPairOnToken(t.uri('offline-a', ';object=root-3'), 'ecdsa-p384', { env });
  });

  afterAll(async () => {
    await closePkcs11();
    await t?.cleanup();
  });

  it('creates, publishes, rotates the root twice, and clients follow', async () => {
    const [targets, snapshot, timestamp] = await Promise.all([
      generateKeyPair('ed25519'),
      generateKeyPair('ecdsa-p256'),
      generateKeyPair('ed25519'),
    ]);
    const online = [targets.signer, snapshot.signer, timestamp.signer];

    // v1: root on token A.
    const repo = await Repository.create(storage, {
      keys: {
        root: [rootA.key],
        targets: [targets.key],
        snapshot: [snapshot.key],
        timestamp: [timestamp.key],
      },
      signers: [rootA.signer, ...online],
      now: () => NOW,
    });
    await repo.addTargets([target('registry.example.com/app:1.0', 1)]);
    await repo.publish();
    const root1 = Metadata.fromBytes(file(storage, 'metadata/1.root.json'), 'root');
    expect([...root1.signatures.keys()]).toEqual([rootA.keyid]);

    const store = new MemoryMetadataStore();
    await store.write('root', file(storage, 'metadata/1.root.json'));
    const updater = () =>
      new Updater({
        metadataBaseUrl: `${BASE}metadata/`,
        targetBaseUrl: `${BASE}targets/`,
        fetcher: new StorageFetcher(storage),
        store,
        now: () => NOW,
      });
    await updater().refresh();
    expect(await updater().getTargetInfo('registry.example.com/app:1.0')).toBeDefined();

    // v2: root moves to two keys on token B, threshold 2; signed by v1's key and both new ones.
    const r2 = await Repository.open(storage, {
      signers: [rootA.signer, rootB1.signer, rootB2.signer, ...online],
      now: () => NOW,
    });
    r2.rotateKeys('root', { add: [rootB1.key, rootB2.key], remove: [rootA.keyid], threshold: 2 });
    await r2.addTargets([target('registry.example.com/app:2.0', 2)]);
    const published2 = await r2.publish();
    expect(published2.written).toContain('metadata/2.root.json');
    const root2 = Metadata.fromBytes(file(storage, 'metadata/2.root.json'), 'root');
    expect([...root2.signatures.keys()].sort()).toEqual([rootA.keyid, rootB1.keyid, rootB2.keyid].sort());
    expect(root2.signed.roles.get('root')?.threshold).toBe(2);

    // v3: a P-384 key from token A joins; signed by two v2 keys and two v3 keys.
    const r3 = await Repository.open(storage, {
      signers: [rootB1.signer, rootB2.signer, rootA3.signer, ...online],
      now: () => NOW,
    });
    r3.rotateKeys('root', { add: [rootA3.key], remove: [rootB2.keyid] });
    await r3.publish();
    const root3 = Metadata.fromBytes(file(storage, 'metadata/3.root.json'), 'root');
    expect([...root3.signatures.keys()].sort()).toEqual([rootB1.keyid, rootB2.keyid, rootA3.keyid].sort());

    // The client that trusted v1 walks 1 -> 2 -> 3.
    await updater().refresh();
    expect(Metadata.fromBytes((await store.read('root')) as Uint8Array, 'root').signed.version).toBe(3);
    expect(await updater().getTargetInfo('registry.example.com/app:2.0')).toBeDefined();

    // A new client, trusting only root v1, does too.
    const fresh = new MemoryMetadataStore();
    await fresh.write('root', file(storage, 'metadata/1.root.json'));
    await new Updater({
      metadataBaseUrl: `${BASE}metadata/`,
      fetcher: new StorageFetcher(storage),
      store: fresh,
      now: () => NOW,
    }).refresh();
    expect(Metadata.fromBytes((await fresh.read('root')) as Uint8Array, 'root').signed.version).toBe(3);
  });

  it('tuf-js verifies the token-signed root rotation and the roles (Ed25519, P-256, RSA-PSS)', () => {
    const v1 = TufJsMetadata.fromJSON('root' as never, tufJs(file(storage, 'metadata/1.root.json')));
    const v2 = TufJsMetadata.fromJSON('root' as never, tufJs(file(storage, 'metadata/2.root.json')));
    // 5.3.4: the new root is signed by a threshold of the old root's keys and of its own.
    expect(() => v1.verifyDelegate('root', v2)).not.toThrow();
    expect(() => v2.verifyDelegate('root', v2)).not.toThrow();
    // Tampering breaks it.
    const tampered = tufJs(file(storage, 'metadata/2.root.json'));
    tampered.signed.expires = '2099-01-01T00:00:00Z';
    expect(() => v1.verifyDelegate('root', TufJsMetadata.fromJSON('root' as never, tampered))).toThrow();
    for (const role of ['targets', 'snapshot', 'timestamp'] as const) {
      const name = role === 'timestamp' ? 'metadata/timestamp.json' : undefined;
      const bytes =
        name !== undefined
          ? file(storage, name)
          : file(
              storage,
              [...storage.files.keys()]
                .filter((k) => k.endsWith(`.${role}.json`))
                .sort()
                .at(-1) as string,
            );
      const md = TufJsMetadata.fromJSON(role as never, tufJs(bytes));
      expect(() => v2.verifyDelegate(role, md)).not.toThrow();
    }
  });
});

it('has SoftHSM2 and pkcs11js for the lifecycle (required under CI=true)', (ctx) => {
  ctx.skip(!hsm.available && !required, hsm.reason);
  expect(hsm.reason).toBeUndefined();
});
