/**
 * Publishing into hash bins bin by bin (`Repository.publish` with targets staged into bins):
 * each bin is merged, signed, written and let go before the next, then targets, snapshot and
 * timestamp; every bin is verified as a client would, read back after it was written. Small N
 * here: bench/scale.mjs does the million.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryMetadataStore } from '../../src/client/store.js';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { TargetFile } from '../../src/metadata/files.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { Targets } from '../../src/metadata/signed.js';
import { applyHashBinPolicy, rebinBitLength } from '../../src/repository/hash-bins.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');

/** Records every path read and written, in order. */
class RecordingStorage extends MemoryRepositoryStorage {
  reads: string[] = [];
  writes: string[] = [];
  /** Test hook: what a read of `path` returns instead of the stored bytes. */
  tamper: ((path: string, bytes: Uint8Array) => Uint8Array) | undefined;

  override async read(path: string): Promise<Uint8Array | undefined> {
    this.reads.push(path);
    const b = await super.read(path);
    return b && this.tamper ? this.tamper(path, b) : b;
  }

  override async write(path: string, bytes: Uint8Array): Promise<void> {
    this.writes.push(path);
    return super.write(path, bytes);
  }

  reset(): void {
    this.reads = [];
    this.writes = [];
  }
}

let storage: RecordingStorage;
let keys: Record<'root' | 'targets' | 'snapshot' | 'timestamp', PrivateKeySigner>;

function target(path: string, n = 1): TargetFile {
  return new TargetFile(path, 100 + n, new Map([['sha256', n.toString(16).padStart(64, '0')]]));
}

const tags = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => target(`app:v${from + i}`, from + i));

async function open(signers: PrivateKeySigner[] = Object.values(keys)): Promise<Repository> {
  return Repository.open(storage, { signers, now: () => NOW });
}

beforeEach(async () => {
  storage = new RecordingStorage();
  keys = {
    root: fixedSigner(111),
    targets: fixedSigner(112),
    snapshot: fixedSigner(113),
    timestamp: fixedSigner(114),
  };
  const repo = await Repository.create(storage, {
    keys: {
      root: [keys.root.key],
      targets: [keys.targets.key],
      snapshot: [keys.snapshot.key],
      timestamp: [keys.timestamp.key],
    },
    signers: Object.values(keys),
    now: () => NOW,
  });
  await repo.publish();
  storage.reset();
});

/** Moves an empty targets into `bits` bits of bins, publishes, and returns the bins. */
async function binned(bits: number): Promise<string[]> {
  const repo = await open();
  const bins = await repo.useHashBins({ keys: [keys.targets.key], bitLength: bits });
  await repo.publish();
  storage.reset();
  return bins;
}

describe('a bulk into hash bins', () => {
  it('moves an empty targets into bins first, for the count after the bulk, and the bulk goes straight into them', async () => {
    const repo = await open();
    const decision = await applyHashBinPolicy(repo, 100, { expected: 1000 });
    expect(decision.action).toBe('move');
    expect(decision.bins).toHaveLength(32); // about √1000 bins: defaultBitLength(1000) = 5
    await repo.addTargets(tags(1000));
    expect((await repo.getTargets('targets')).targets.size).toBe(0);
    const result = await repo.publish();
    // Every bin, sorted, then targets (its new delegation), snapshot, timestamp last.
    const binFiles = decision.bins.map((b) => `metadata/1.${b}.json`).sort();
    expect(result.written).toEqual([
      ...binFiles,
      'metadata/2.targets.json',
      'metadata/2.snapshot.json',
      'metadata/timestamp.json',
    ]);
    expect(storage.writes).toEqual(result.written);
    const { updater } = await client(storage, { now: NOW });
    for (const i of [0, 1, 500, 999]) {
      expect(await updater.getTargetInfo(`app:v${i}`)).toMatchObject({
        role: expect.stringMatching(/^bins-/),
        target: { length: 100 + i },
      });
    }
  });

  it('verifies more bins than one trusted set holds (batches), and every bin is read back once', async () => {
    const bins = await binned(7); // 128 bins: two batches of the self-check
    const repo = await open();
    await repo.addTargets(tags(2000));
    const result = await repo.publish();
    expect(result.written).toHaveLength(128 + 2);
    expect(result.versions.get('bins-00')).toBe(2);
    // The self-check read each new bin back after writing it, and no old bin: the bulk added to
    // bins that were empty in memory-free form (the published empty bins are read to merge).
    const newBins = bins.map((b) => `metadata/2.${b}.json`);
    for (const f of newBins) expect(storage.reads.filter((r) => r === f)).toHaveLength(1);
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('app:v1999')).toBeDefined();
  });

  it('a second bulk replaces the digests of tags already signed', async () => {
    await binned(3);
    let repo = await open();
    await repo.addTargets(tags(200));
    await repo.publish();
    repo = await open();
    await repo.addTargets(Array.from({ length: 200 }, (_, i) => target(`app:v${i}`, 5000 + i)));
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('app:v7')).toMatchObject({ target: { length: 5107 } });
    let total = 0;
    for await (const { role } of (await open()).walkTargets()) if (role.startsWith('bins-')) total++;
    expect(total).toBe(200);
  });

  it('refuses a bin that storage gives back changed: nothing that lists it is written', async () => {
    const bins = await binned(2);
    const repo = await open();
    await repo.addTargets(tags(40));
    const changed = `metadata/2.${bins[1]}.json`;
    storage.tamper = (path, bytes) => {
      if (path !== changed) return bytes;
      const copy = bytes.slice();
      const at = copy.length - 3;
      copy[at] = (copy[at] as number) ^ 1;
      return copy;
    };
    await expect(repo.publish()).rejects.toMatchObject({
      code: expect.stringMatching(/HASH|LENGTH|FORMAT|SIGNATURE/),
    });
    storage.tamper = undefined;
    // The bins were written (new files no snapshot lists); snapshot and timestamp were not.
    expect(storage.writes.every((w) => /^metadata\/2\.bins-.\.json$/.test(w))).toBe(true);
    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    expect(await updater.getTargetInfo('app:v1')).toBeUndefined();
  });

  it('a bin that fails to be written stops the publish before snapshot and timestamp', async () => {
    const bins = await binned(3);
    const repo = await open();
    await repo.addTargets(tags(80));
    const failing = `metadata/2.${bins[5]}.json`;
    storage.beforeWrite = (path) => {
      if (path === failing) throw new Error('disk full');
    };
    await expect(repo.publish()).rejects.toThrow('disk full');
    storage.beforeWrite = undefined;
    expect(storage.writes.filter((w) => !w.includes('bins-'))).toEqual([]);
    // The writes overlap: all eight bins were started; no snapshot or timestamp lists them.
    expect(storage.writes).toHaveLength(8);
  });

  it('a store that does not say it takes parallel writes gets one bin write at a time', async () => {
    class OneAtATime extends RecordingStorage {
      override readonly parallelWrites = 1;
    }
    const bins = await binned(3);
    const one = new OneAtATime();
    for (const [path, bytes] of storage.files) one.files.set(path, bytes);
    const repo = await Repository.open(one, { signers: Object.values(keys), now: () => NOW });
    await repo.addTargets(tags(80));
    one.beforeWrite = (path) => {
      if (path === `metadata/2.${bins[5]}.json`) throw new Error('disk full');
    };
    await expect(repo.publish()).rejects.toThrow('disk full');
    expect(one.writes).toEqual(bins.slice(0, 6).map((b) => `metadata/2.${b}.json`));
  });

  it('without the key of the bins, writes nothing', async () => {
    await binned(2);
    const repo = await open([keys.snapshot, keys.timestamp]);
    await repo.addTargets(tags(10));
    await expect(repo.publish()).rejects.toMatchObject({ code: 'USAGE' });
    expect(storage.writes).toEqual([]);
  });

  it('writes each bin as the model path would, byte for byte, whatever its entries hold', async () => {
    const bins = await binned(2);
    let repo = await open();
    await repo.addTargets(tags(40));
    await repo.publish();
    // Replacements of published tags, new compact tags, and entries that are not compact.
    const mixed = [
      ...tags(10, 35),
      new TargetFile('app:custom', 5, new Map([['sha256', 'a'.repeat(64)]]), { custom: { ci: 'run-7' } }),
      new TargetFile('app:sha512', 6, new Map([['sha512', 'b'.repeat(128)]])),
      new TargetFile(
        'app:two',
        7,
        new Map([
          ['sha256', 'c'.repeat(64)],
          ['sha512', 'e'.repeat(128)],
        ]),
      ),
      new TargetFile('app:"quoted"', 8, new Map([['sha256', 'd'.repeat(64)]])),
    ];
    repo = await open();
    await repo.addTargets(mixed);
    storage.reset();
    await repo.publish();
    // What the bins held before, and what was staged, merged the way staging always has.
    const model = await open();
    for (const bin of bins) {
      const file = storage.files.get(`metadata/3.${bin}.json`) as Uint8Array;
      const written = Metadata.fromBytes(file, 'targets');
      const before = Metadata.fromBytes(storage.files.get(`metadata/2.${bin}.json`) as Uint8Array, 'targets');
      const next = new Map(before.signed.targets);
      for (const t of mixed) if ((await model.roleForTarget(t.path)) === bin) next.set(t.path, t);
      const signed = new Targets({
        version: 3,
        specVersion: before.signed.specVersion,
        expires: written.signed.expires,
        targets: next,
      });
      const expected = new Metadata(signed, written.signatures.values());
      expect(Buffer.from(file).toString()).toBe(Buffer.from(expected.toBytes('canonical')).toString());
    }
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('app:custom')).toMatchObject({ target: { custom: { ci: 'run-7' } } });
    expect(await updater.getTargetInfo('app:v36')).toMatchObject({ target: { length: 136 } });
    expect(await updater.getTargetInfo('app:v2')).toMatchObject({ target: { length: 102 } });
    const two = await updater.getTargetInfo('app:two');
    expect(two?.target.hashes.get('sha512')).toBe('e'.repeat(128));
  });

  it('a bin holding a control character in custom is written in the compact JSON form', async () => {
    const bins = await binned(1);
    const repo = await open();
    const note = new TargetFile('app:note', 9, new Map([['sha256', 'f'.repeat(64)]]), {
      custom: { note: 'line one\nline two\t' },
    });
    await repo.addTargets([note, ...tags(5)]);
    await repo.publish();
    const bin = await repo.roleForTarget('app:note');
    const file = storage.files.get(`metadata/2.${bin}.json`) as Uint8Array;
    // Canonical JSON would carry the newline raw, which is not JSON: python-tuf's compact form.
    expect(file.includes(0x0a)).toBe(false);
    expect(JSON.parse(Buffer.from(file).toString()).signed.targets['app:note'].custom.note).toBe(
      'line one\nline two\t',
    );
    const other = bins.find((b) => b !== bin) as string;
    const plain = Buffer.from(storage.files.get(`metadata/2.${other}.json`) as Uint8Array).toString();
    expect(plain.startsWith('{"signatures":[')).toBe(true); // canonical, spliced
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('app:note')).toMatchObject({
      target: { custom: { note: 'line one\nline two\t' } },
    });
  });

  it('a bin read before publishing holds what was staged for it', async () => {
    const bins = await binned(1);
    const repo = await open();
    await repo.addTargets(tags(10));
    const all = [
      ...(await repo.getTargets(bins[0])).targets.keys(),
      ...(await repo.getTargets(bins[1])).targets.keys(),
    ];
    expect(all.sort()).toEqual(
      tags(10)
        .map((t) => t.path)
        .sort(),
    );
    await repo.removeTarget('app:v3');
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('app:v3')).toBeUndefined();
    expect(await updater.getTargetInfo('app:v4')).toBeDefined();
  });
});

describe('adding one tag to a binned repository', () => {
  it('reads timestamp, root, snapshot, targets and its one bin; writes its bin, snapshot and timestamp', async () => {
    const bins = await binned(4);
    let repo = await open();
    await repo.addTargets(tags(300));
    await repo.publish();
    storage.reset();

    repo = await open();
    await repo.addTargets([target('app:new', 7)]);
    const bin = await repo.roleForTarget('app:new');
    const result = await repo.publish();
    expect(result.written).toEqual([
      `metadata/3.${bin}.json`,
      'metadata/4.snapshot.json',
      'metadata/timestamp.json',
    ]);
    expect(storage.writes).toEqual(result.written);
    const binsRead = new Set(storage.reads.filter((r) => /bins-/.test(r)));
    // Its published version (to merge) and its new one (the self-check): no other bin.
    expect([...binsRead].sort()).toEqual([`metadata/2.${bin}.json`, `metadata/3.${bin}.json`]);
    const others = storage.reads.filter((r) => !/bins-/.test(r));
    expect(new Set(others)).toEqual(
      new Set([
        'metadata/timestamp.json',
        'metadata/root.json',
        'metadata/2.root.json',
        'metadata/3.snapshot.json',
        'metadata/2.targets.json',
      ]),
    );
    expect(bins).toContain(bin);
    const { updater } = await client(storage, { now: NOW });
    expect(await updater.getTargetInfo('app:new')).toMatchObject({ role: bin });
  });
});

describe('without consistent snapshots', () => {
  it('signs the whole edit before writing a byte (a bin file is replaced in place)', async () => {
    const flat = new RecordingStorage();
    const repo = await Repository.create(flat, {
      keys: {
        root: [keys.root.key],
        targets: [keys.targets.key],
        snapshot: [keys.snapshot.key],
        timestamp: [keys.timestamp.key],
      },
      signers: Object.values(keys),
      now: () => NOW,
      consistentSnapshot: false,
    });
    await repo.useHashBins({ keys: [keys.targets.key], bitLength: 2 });
    await repo.addTargets(tags(20));
    await repo.publish();
    const again = await Repository.open(flat, { signers: [keys.targets, keys.snapshot], now: () => NOW });
    await again.addTargets(tags(1, 100));
    flat.reset();
    // The timestamp key is missing: refused before any bin is replaced.
    await expect(again.publish()).rejects.toMatchObject({ code: 'USAGE' });
    expect(flat.writes).toEqual([]);
  });
});

describe('re-binning (ADR 0031)', () => {
  it('waits until √N calls for four times the bins', () => {
    expect(rebinBitLength(7, 100_000)).toBeUndefined(); // 8 bits wanted: one more
    expect(rebinBitLength(7, 1_000_000)).toBe(10);
    expect(rebinBitLength(10, 100)).toBeUndefined(); // never fewer bins
  });

  it('moves every tag into more bins; a client holding the old state updates cleanly', async () => {
    const old = await binned(2); // bins-0 … bins-3
    let repo = await open();
    await repo.addTargets(tags(800));
    await repo.publish();
    const store = new MemoryMetadataStore();
    const before = await client(storage, { now: NOW, store });
    expect(old).toContain((await before.updater.getTargetInfo('app:v5'))?.role);

    repo = await open();
    const decision = await applyHashBinPolicy(repo, 100, { expected: 800 });
    expect(decision).toMatchObject({ action: 'rebin' });
    expect(decision.bins).toHaveLength(32); // defaultBitLength(800) = 5: bins-00 … bins-1f
    storage.reset();
    const result = await repo.publish();
    expect(result.written).toEqual([
      ...decision.bins.map((b) => `metadata/1.${b}.json`).sort(),
      'metadata/3.targets.json',
      'metadata/4.snapshot.json',
      'metadata/timestamp.json',
    ]);
    // The old bins stay listed at their last version, delegated by nobody (TUF 5.5.5).
    const snapshot = (await open()).snapshotMetadata?.signed;
    for (const b of old) expect(snapshot?.roleMeta(b)?.version).toBe(2);
    const after = await client(storage, { now: NOW, store });
    for (const i of [0, 5, 799]) {
      expect(decision.bins).toContain((await after.updater.getTargetInfo(`app:v${i}`))?.role);
    }
    let total = 0;
    for await (const { role } of (await open()).walkTargets()) if (decision.bins.includes(role)) total++;
    expect(total).toBe(800);
  });

  it('a bin name both layouts have starts empty and continues its version', async () => {
    await binned(1); // bins-0, bins-1
    let repo = await open();
    await repo.addTargets(tags(100));
    await repo.publish();
    const store = new MemoryMetadataStore();
    await (await client(storage, { now: NOW, store })).updater.getTargetInfo('app:v1');
    repo = await open();
    const bins = await repo.rebinHashBins(3); // bins-0 … bins-7: one hex digit, as before
    expect(bins.slice(0, 2)).toEqual(['bins-0', 'bins-1']);
    const { versions } = await repo.publish();
    expect(versions.get('bins-0')).toBe(3);
    expect(versions.get('bins-7')).toBe(1);
    const fresh = await open();
    for (const b of bins) {
      for (const path of (await fresh.getTargets(b)).targets.keys())
        expect(await fresh.roleForTarget(path)).toBe(b);
    }
    const after = await client(storage, { now: NOW, store });
    for (let i = 0; i < 100; i += 9) {
      expect(await after.updater.getTargetInfo(`app:v${i}`), `app:v${i}`).toMatchObject({
        target: { length: 100 + i },
      });
    }
  });

  it('refuses without bins, or a bit length out of range', async () => {
    await expect((await open()).rebinHashBins(3)).rejects.toMatchObject({ code: 'USAGE' });
    await binned(1);
    await expect((await open()).rebinHashBins(17)).rejects.toMatchObject({ code: 'USAGE' });
    expect(await (await open()).rebinHashBins(1)).toEqual([]);
  });
});
