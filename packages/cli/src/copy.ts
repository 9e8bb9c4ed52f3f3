/**
 * `tufa publish --to`: a GUN's published repository copied, byte for byte, from one place to
 * another (a directory, a registry, a trust server as a source). What is copied is what a TUF
 * client can reach from the source's timestamp (docs/publishing.md, "Copying a repository"):
 *
 * - every root version, 1 to the newest (a client that trusts an old one walks the chain);
 * - the snapshot the timestamp names, and every targets and delegated role at the version that
 *   snapshot names;
 * - the timestamp, last: until it is written the destination's clients see what they saw before
 *   (DESIGN rule 10); a directory also gets `root.json`, the newest root, just before it.
 *
 * Older versions of the other roles are not copied: no client can reach them. Target files are
 * not copied either (in a registry the images are the targets; tufa signs image digests).
 *
 * Before anything is written the source is checked as a client would check it (TrustedMetadataSet:
 * the root chain from version 1, then timestamp, snapshot and targets, each signed, unexpired and
 * at the version named), so that a copy never spreads something clients would refuse; and the
 * destination is checked not to hold another repository, nor a newer state of this one (its
 * clients would see a rollback).
 */
import {
  ConflictError,
  Metadata,
  NotFoundError,
  type RepositoryStorage,
  TrustedMetadataSet,
  UsageError,
} from '@tufa/core';

export interface CopyResult {
  /** Repository paths written to the destination, in the order written. */
  copied: string[];
  /** Versions copied: every root, and the current version of every other role. */
  versions: Map<string, number>;
  /** Whether the destination served these very bytes already (nothing needed writing). */
  upToDate: boolean;
}

export interface CopyOptions {
  /** Names the source and destination in messages. */
  from: string;
  to: string;
  /** Whether the destination is a directory: it also gets `metadata/root.json`. */
  latestRootFile: boolean;
  /** Called after each file written (`done` of `total`). */
  onProgress?: (done: number, total: number, path: string) => void;
  /** The time expiry is checked against (default now). */
  now?: Date;
}

const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
  a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

/** Copies the repository at `from` to `to`, writing under `to`'s publish lock. */
export async function copyRepository(
  from: RepositoryStorage,
  to: RepositoryStorage,
  options: CopyOptions,
): Promise<CopyResult> {
  const read = async (path: string): Promise<Uint8Array> => {
    const bytes = await from.read(path);
    if (bytes === undefined) throw new NotFoundError(`${options.from}: ${path} is missing`);
    return bytes;
  };
  const timestamp = await from.read('metadata/timestamp.json');
  if (timestamp === undefined) {
    throw new NotFoundError(`no repository is published at ${options.from} (no metadata/timestamp.json)`);
  }

  // The root chain, from version 1 to the newest: each checked against the one before it.
  const files: { path: string; bytes: Uint8Array }[] = [];
  const firstRoot = await read('metadata/1.root.json');
  const trusted = await TrustedMetadataSet.create(firstRoot, options.now ?? new Date());
  files.push({ path: 'metadata/1.root.json', bytes: firstRoot });
  for (let v = 2; ; v++) {
    const bytes = await from.read(`metadata/${v}.root.json`);
    if (bytes === undefined) break;
    await trusted.updateRoot(bytes);
    files.push({ path: `metadata/${v}.root.json`, bytes });
  }
  const root = trusted.root.signed;
  if (!root.consistentSnapshot) {
    throw new UsageError(
      `${options.from}: the repository does not use consistent snapshots; only repositories whose versioned files never change are copied`,
    );
  }
  const latestRoot = files[files.length - 1]?.bytes as Uint8Array;
  await trusted.updateTimestamp(timestamp);
  const snapshotVersion = Metadata.fromBytes(timestamp, 'timestamp').signed.snapshotMeta.version;
  const snapshotPath = `metadata/${snapshotVersion}.snapshot.json`;
  const snapshotBytes = await read(snapshotPath);
  const snapshot = await trusted.updateSnapshot(snapshotBytes);
  const versions = new Map<string, number>([
    ['root', root.version],
    ['timestamp', Metadata.fromBytes(timestamp, 'timestamp').signed.version],
    ['snapshot', snapshotVersion],
  ]);
  const roleFiles: { path: string; bytes: Uint8Array }[] = [];
  for (const [name, meta] of [...snapshot.signed.meta].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const role = name.replace(/\.json$/, '');
    const path = `metadata/${meta.version}.${name}`;
    const bytes = await read(path);
    if (role === 'targets') await trusted.updateTargets(bytes);
    // Delegated roles are checked by clients against their delegator on every refresh; here
    // they must at least be the version the snapshot names.
    else if (Metadata.fromBytes(bytes, 'targets').signed.version !== meta.version) {
      throw new ConflictError(`${options.from}: ${path} is not version ${meta.version} of ${role}`);
    }
    roleFiles.push({ path, bytes });
    versions.set(role, meta.version);
  }
  files.push(...roleFiles, { path: snapshotPath, bytes: snapshotBytes });
  if (options.latestRootFile) files.push({ path: 'metadata/root.json', bytes: latestRoot });
  files.push({ path: 'metadata/timestamp.json', bytes: timestamp });

  // The destination: nothing, the same repository at an older state, or these very bytes.
  const served = await to.read('metadata/timestamp.json');
  if (same(served, timestamp)) return { copied: [], versions, upToDate: true };
  const theirFirstRoot = await to.read('metadata/1.root.json');
  if (theirFirstRoot !== undefined && !same(theirFirstRoot, firstRoot)) {
    throw new ConflictError(
      `${options.to} holds another repository (its root version 1 differs from the one at ${options.from})`,
    );
  }
  if (served !== undefined) {
    const had = Metadata.fromBytes(served, 'timestamp').signed.version;
    const got = versions.get('timestamp') as number;
    if (had >= got) {
      throw new ConflictError(
        `${options.to} already serves timestamp version ${had}; copying version ${got} there would roll its clients back`,
      );
    }
  }

  const copied: string[] = [];
  const release = await to.lock();
  try {
    for (const f of files) {
      await to.write(f.path, f.bytes);
      copied.push(f.path);
      options.onProgress?.(copied.length, files.length, f.path);
    }
  } finally {
    await release();
  }
  return { copied, versions, upToDate: false };
}
