/**
 * Trust pinning (ADR 0009) against the in-memory repository: first use, the recorded chain,
 * roots given later, a failed first use, unsafe first use, and nothing to trust.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ed from '@noble/ed25519';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { hexDigest } from '../../src/crypto/hash.js';
import { ed25519KnownUsable, forgetEd25519Checks, Key } from '../../src/crypto/key.js';
import { FsMetadataStore } from '../../src/node/fs-store.js';
import { PinnedTrust } from '../../src/node/pinned-trust.js';
import { METADATA_URL, newSigner, Simulator, TARGETS_URL } from '../helpers/simulator.js';
import { useTempDir } from '../helpers/temp-dir.js';

let dir: string;
let sim: Simulator;

useTempDir('each', (d) => {
  dir = d;
});
beforeEach(async () => {
  sim = new Simulator();
  await sim.publishRoot();
  await sim.addTarget('app/1.0', 'one');
  await sim.publish();
});

const sha = (b: Uint8Array) => hexDigest('sha256', b);
const readRole = FsMetadataStore.prototype.read;

async function refresh(options: { root?: Uint8Array; unsafeTrustOnFirstUse?: boolean } = {}) {
  const trust = await PinnedTrust.open(dir);
  return {
    trust,
    result: await trust.refresh({
      metadataBaseUrl: METADATA_URL,
      targetBaseUrl: TARGETS_URL,
      fetcher: sim,
      ...options,
    }),
  };
}

/** Publishes root version N+1 with the same keys. */
async function rotateRoot(): Promise<Uint8Array> {
  sim.root.version += 1;
  return sim.publishRoot();
}

/**
 * Every file under the trust directory → its inode: a write (always atomic: a new file made
 * while the old one still exists, then renamed over it) gives a file a new inode.
 */
function filesOnDisk(): Map<string, number> {
  const files = new Map<string, number>();
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const st = statSync(join(dir, name));
    if (st.isFile()) files.set(name, st.ino);
  }
  return files;
}

function chainOnDisk(): Record<string, string> {
  return JSON.parse(readFileSync(join(dir, 'chain.json'), 'utf8'));
}

describe('first use', () => {
  it('pins a given root, refreshes and records it', async () => {
    const { trust, result } = await refresh({ root: sim.rootBytes(1) });
    expect(result.firstUse).toBe(true);
    expect(result.rootSource).toBe('given');
    expect(await result.updater.getTargetInfo('app/1.0')).toBeDefined();
    expect([...trust.chain]).toEqual([[1, sha(sim.rootBytes(1))]]);
    expect(chainOnDisk()).toEqual({ 1: sha(sim.rootBytes(1)) });
  });

  it('refuses a root that is not signed by its own keys, and writes nothing', async () => {
    const forged = await sim.sign(sim.root, [newSigner()]);
    await expect(refresh({ root: forged })).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(existsSync(join(dir, 'chain.json'))).toBe(false);
    expect(existsSync(join(dir, 'metadata'))).toBe(false);
  });

  it('leaves nothing pinned when the first refresh fails, so the right root works next', async () => {
    const other = new Simulator();
    const foreign = await other.publishRoot(); // a valid root of another repository
    await expect(refresh({ root: foreign })).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(existsSync(join(dir, 'chain.json'))).toBe(false);
    expect(existsSync(join(dir, 'metadata', 'root.json'))).toBe(false);
    const { result } = await refresh({ root: sim.rootBytes(1) });
    expect(result.firstUse).toBe(true);
  });

  it('needs a root: a UsageError before any request', async () => {
    await expect(refresh()).rejects.toMatchObject({ code: 'USAGE' });
    expect(sim.requests).toEqual([]);
  });

  it('trusts the served 1.root.json only when asked to, and says so', async () => {
    const { result } = await refresh({ unsafeTrustOnFirstUse: true });
    expect(result.rootSource).toBe('unsafe-first-use');
    expect(sim.requests[0]).toBe('metadata/1.root.json');
    expect(chainOnDisk()).toEqual({ 1: sha(sim.rootBytes(1)) });
  });

  it('clears an unfinished first use (metadata without a chain) before pinning again', async () => {
    await refresh({ root: sim.rootBytes(1) });
    rmSync(join(dir, 'chain.json'));
    // Without a chain the directory is not pinned: a root is needed again …
    await expect(refresh()).rejects.toMatchObject({ code: 'USAGE' });
    expect(existsSync(join(dir, 'metadata', 'timestamp.json'))).toBe(false);
    // … and the one given now is pinned afresh.
    const { result } = await refresh({ root: sim.rootBytes(1) });
    expect(result.rootSource).toBe('given');
  });
});

describe('later uses', () => {
  beforeEach(async () => {
    await refresh({ root: sim.rootBytes(1) });
  });

  it('refresh without a root, and record each root the update accepts', async () => {
    const v2 = await rotateRoot();
    const v3 = await rotateRoot();
    await sim.publish();
    const { trust, result } = await refresh();
    expect(result).toMatchObject({ firstUse: false, rootSource: 'pinned' });
    expect([...trust.chain]).toEqual([
      [1, sha(sim.rootBytes(1))],
      [2, sha(v2)],
      [3, sha(v3)],
    ]);
    expect(Object.keys(chainOnDisk())).toEqual(['1', '2', '3']);
  });

  it('write nothing when the repository is unchanged (a warm CI verify makes no write, no fsync)', async () => {
    const before = filesOnDisk();
    expect([...before.keys()].sort()).toEqual(
      [
        'chain.json',
        'checked-keys.json',
        ...['root', 'snapshot', 'targets', 'timestamp'].map((r) => join('metadata', `${r}.json`)),
      ].sort(),
    );
    // One refresh between looks: a file replaced twice could get its first inode back.
    await refresh();
    expect(filesOnDisk()).toEqual(before);
    await refresh({ root: sim.rootBytes(1) });
    expect(filesOnDisk()).toEqual(before);
  });

  it('read the stored root once in a refresh (the updater gets the bytes already read)', async () => {
    const reads: string[] = [];
    const spy = vi.spyOn(FsMetadataStore.prototype, 'read').mockImplementation(async function (
      this: FsMetadataStore,
      role: string,
    ) {
      reads.push(role);
      return readRole.call(this, role);
    });
    try {
      const { result } = await refresh();
      expect(await result.updater.getTargetInfo('app/1.0')).toBeDefined();
    } finally {
      spy.mockRestore();
    }
    expect(reads.filter((r) => r === 'root')).toEqual(['root']);
    expect(reads).toEqual(expect.arrayContaining(['timestamp', 'snapshot', 'targets']));
  });

  it('rewrite chain.json when a refresh accepts a new root, and only then', async () => {
    const before = filesOnDisk();
    const v2 = await rotateRoot();
    await sim.publish();
    await refresh();
    const after = filesOnDisk();
    expect(after.get('chain.json')).not.toBe(before.get('chain.json'));
    expect(chainOnDisk()).toEqual({ 1: sha(sim.rootBytes(1)), 2: sha(v2) });
    await refresh();
    expect(filesOnDisk()).toEqual(after);
  });

  it('accept a given root that is in the chain', async () => {
    const { result } = await refresh({ root: sim.rootBytes(1) });
    expect(result.rootSource).toBe('pinned');
  });

  it('refuse a foreign root of a version already reached, before any request', async () => {
    const other = new Simulator();
    const foreign = await other.publishRoot();
    sim.requests.length = 0;
    await expect(refresh({ root: foreign })).rejects.toMatchObject({
      code: 'ROOT_NOT_IN_CHAIN',
      message: expect.stringContaining(`found sha256 ${sha(foreign)}`),
    });
    expect(sim.requests).toEqual([]);
  });

  it('accept a newer given root once the refresh has walked the chain to it', async () => {
    const v2 = await rotateRoot();
    await sim.publish();
    const { trust } = await refresh({ root: v2 });
    expect(trust.chain.get(2)).toBe(sha(v2));
  });

  it('refuse a newer given root that the chain does not reach', async () => {
    await rotateRoot();
    await sim.publish();
    const fork = structuredClone(sim.root);
    fork.expires = '2099-01-01T00:00:00Z';
    const forged = await sim.sign(fork, sim.signers.get('root') ?? []);
    // version 2 exists in the chain after the refresh, with other bytes
    await expect(refresh({ root: forged })).rejects.toMatchObject({ code: 'ROOT_NOT_IN_CHAIN' });
    expect(Object.keys(chainOnDisk())).toEqual(['1', '2']);
  });

  it('keep what a failed refresh verified (the chain is saved), and keep the pin', async () => {
    const v2 = await rotateRoot();
    sim.files.set('metadata/timestamp.json', new TextEncoder().encode('{"garbage":'));
    await expect(refresh()).rejects.toMatchObject({ code: 'FORMAT' });
    expect(chainOnDisk()).toEqual({ 1: sha(sim.rootBytes(1)), 2: sha(v2) });
    expect(existsSync(join(dir, 'metadata', 'root.json'))).toBe(true);
  });

  it('ignore the unsafe first-use option', async () => {
    const { result } = await refresh({ unsafeTrustOnFirstUse: true });
    expect(result.rootSource).toBe('pinned');
  });
});

describe('corrupt local state', () => {
  it.each([
    ['chain.json', '{"1":"not a hash"}', /chain\.json \(1\): expected the sha256/],
    ['chain.json', '{"__proto__":"x"}', /expected a root version/],
    ['metadata/root.json', '{"signed":{}}', /root\.json: not root metadata/],
  ])('%s holding %s is a CorruptStateError, never an empty pin', async (file, content, message) => {
    await refresh({ root: sim.rootBytes(1) });
    writeFileSync(join(dir, file), content);
    await expect(refresh({ root: sim.rootBytes(1) })).rejects.toMatchObject({ code: 'STORAGE', message });
    expect(readFileSync(join(dir, file), 'utf8')).toBe(content);
  });
});

describe('the Ed25519 key check, remembered for the pinned root (checked-keys.json)', () => {
  const checkedOnDisk = (): string[] => JSON.parse(readFileSync(join(dir, 'checked-keys.json'), 'utf8'));
  const rootEd25519Keys = (): string[] =>
    Object.values(sim.root.keys as Record<string, { keyval: { public: string } }>)
      .map((k) => k.keyval.public)
      .sort();
  // A small-order point (DESIGN rule 5): the check refuses it, whatever the file says.
  const SMALL_ORDER = 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f';

  /** Runs a warm refresh as a new process would (nothing checked yet), counting point decodings. */
  async function warmRefreshCountingChecks(): Promise<Map<string, number>> {
    forgetEd25519Checks();
    const decoded = new Map<string, number>();
    const original = ed.Point.fromHex;
    const spy = vi.spyOn(ed.Point, 'fromHex').mockImplementation((hex, zip215) => {
      const h = typeof hex === 'string' ? hex : Buffer.from(hex).toString('hex');
      decoded.set(h, (decoded.get(h) ?? 0) + 1);
      return original.call(ed.Point, hex, zip215);
    });
    try {
      await refresh();
    } finally {
      spy.mockRestore();
    }
    return decoded;
  }

  it('a first use records the keys of the trusted root that passed; a warm run writes nothing', async () => {
    await refresh({ root: sim.rootBytes(1) });
    expect(checkedOnDisk()).toEqual(rootEd25519Keys());
    const before = statSync(join(dir, 'checked-keys.json')).mtimeMs;
    const bytes = readFileSync(join(dir, 'checked-keys.json'));
    await refresh();
    expect(readFileSync(join(dir, 'checked-keys.json'))).toEqual(bytes);
    expect(statSync(join(dir, 'checked-keys.json')).mtimeMs).toBe(before);
  });

  it('a warm run in a new process does not decode the remembered keys again; without the file it does', async () => {
    await refresh({ root: sim.rootBytes(1) });
    const remembered = await warmRefreshCountingChecks();
    for (const k of rootEd25519Keys()) expect(remembered.get(k) ?? 0, k).toBe(0);
    rmSync(join(dir, 'checked-keys.json'));
    const checked = await warmRefreshCountingChecks();
    expect(rootEd25519Keys().some((k) => (checked.get(k) ?? 0) > 0)).toBe(true);
    expect(checkedOnDisk()).toEqual(rootEd25519Keys()); // written again
  });

  it('never records a key that failed the check', async () => {
    // Root lists a small-order key for targets beside the real one (threshold 1: the real key
    // signs). The check refuses it (here, before the refresh, as a key's first use would), and
    // what the check refused is never written as passed, so every run checks it again.
    sim.root.keys[SMALL_ORDER] = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: SMALL_ORDER } };
    sim.root.roles.targets.keyids.push(SMALL_ORDER);
    await sim.publishRoot();
    await sim.publish();
    forgetEd25519Checks();
    expect(
      Key.fromJSON({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: SMALL_ORDER } }, 'k').supported,
    ).toBe(false);
    await refresh({ root: sim.rootBytes(1) });
    expect(rootEd25519Keys()).toContain(SMALL_ORDER);
    expect(checkedOnDisk()).toEqual(rootEd25519Keys().filter((k) => k !== SMALL_ORDER));
    expect(ed25519KnownUsable(SMALL_ORDER)).toBe(false);
  });

  it('ignores keys the pinned root does not list, and a malformed file', async () => {
    await refresh({ root: sim.rootBytes(1) });
    const stranger = ed.Point.BASE.multiply(424242n).toHex();
    writeFileSync(join(dir, 'checked-keys.json'), JSON.stringify([stranger]));
    forgetEd25519Checks();
    await refresh();
    expect(ed25519KnownUsable(stranger)).toBe(false);
    expect(checkedOnDisk()).toEqual(rootEd25519Keys());
    for (const content of ['{"a":1}', 'not json', '[1,2]']) {
      writeFileSync(join(dir, 'checked-keys.json'), content);
      await expect(refresh()).resolves.toBeDefined();
      expect(checkedOnDisk()).toEqual(rootEd25519Keys());
    }
  });
});
