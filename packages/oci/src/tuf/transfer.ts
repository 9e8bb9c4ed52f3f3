/**
 * Export and import (issue 14: "nobody is locked in"): copy a repository published to a
 * directory (the layout `FsRepositoryStorage` writes: `metadata/N.ROLE.json`, `root.json`,
 * `timestamp.json`) into a registry, and what a registry holds back into such a directory, which
 * any TUF client (tuf-js, python-tuf, go-tuf) can then be pointed at.
 *
 * Both copy metadata only, every versioned file first and `timestamp.json` last, so an
 * interrupted copy leaves the destination's previous repository (or none) visible. Target files
 * are not copied: in a registry the images are the targets.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConflictError,
  Metadata,
  NotFoundError,
  type RepositoryStorage,
  UnsafeNameError,
  UsageError,
} from '@tufa/core';
import { FsRepositoryStorage } from '@tufa/core/node';
import type { OciRepositoryStorage } from './storage.js';
import { type MetadataFile, parseMetadataFileName, parseMetadataTag } from './tags.js';

/** What a copy did, as repository paths (`metadata/1.root.json`). */
export interface TransferResult {
  /** Written to the destination, in the order written. */
  copied: string[];
  /** Present in the source, not copied, each with why. */
  skipped: { path: string; reason: string }[];
}

const pathOf = (f: MetadataFile) =>
  f.version === undefined ? 'metadata/timestamp.json' : `metadata/${f.version}.${f.role}.json`;

/** Roots first (ascending), then the other versioned files, timestamp last: the publish order. */
function publishOrder(files: MetadataFile[]): MetadataFile[] {
  const rank = (f: MetadataFile) => (f.version === undefined ? 2 : f.role === 'root' ? 0 : 1);
  return [...files].sort((a, b) => rank(a) - rank(b) || (a.version ?? 0) - (b.version ?? 0));
}

function timestampVersion(bytes: Uint8Array): number {
  return Metadata.fromBytes(bytes, 'timestamp').signed.version;
}

/**
 * Copies the repository published in directory `dir` into the registry behind `to` (under its
 * publish lease). Refuses a repository without consistent snapshots (UsageError), and one older
 * than what the registry already serves (ConflictError: clients would see a rollback).
 */
export async function importRepository(dir: string, to: OciRepositoryStorage): Promise<TransferResult> {
  const from = new FsRepositoryStorage(dir);
  const result: TransferResult = { copied: [], skipped: [] };
  const timestamp = await from.read('metadata/timestamp.json');
  if (timestamp === undefined)
    throw new NotFoundError(`${dir}: no metadata/timestamp.json (not a published repository)`);
  const latestRoot = await from.read('metadata/root.json');
  if (latestRoot === undefined) throw new NotFoundError(`${dir}: no metadata/root.json`);
  if (!Metadata.fromBytes(latestRoot, 'root').signed.consistentSnapshot) {
    throw new UsageError(
      `${dir}: the repository does not use consistent snapshots; a registry stores only repositories whose versioned files never change`,
    );
  }
  const files: MetadataFile[] = [];
  for (const name of (await readdir(join(dir, 'metadata'))).sort()) {
    const path = `metadata/${name}`;
    const info = await lstat(join(dir, 'metadata', name));
    if (info.isSymbolicLink())
      throw new UnsafeNameError(`${dir}/${path} is a symbolic link: refusing to follow it`);
    if (!info.isFile()) {
      result.skipped.push({ path, reason: 'not a regular file' });
      continue;
    }
    if (name === 'root.json') {
      result.skipped.push({ path, reason: 'the newest N.root.json stands for it in a registry' });
      continue;
    }
    if (name === 'timestamp.json') continue;
    try {
      files.push(parseMetadataFileName(name, (raw) => raw));
    } catch {
      result.skipped.push({
        path,
        reason: 'not a versioned metadata file (unversioned copies are not used with consistent snapshots)',
      });
    }
  }
  try {
    if ((await readdir(join(dir, 'targets'))).length > 0) {
      result.skipped.push({ path: 'targets/', reason: 'target files are not stored in a registry' });
    }
  } catch {
    // No targets directory.
  }
  checkNotOlder(await to.read('metadata/timestamp.json'), timestamp, to.tags.repository.name);
  await copyUnderLock(to, from, publishOrder([...files, { role: 'timestamp', version: undefined }]), result);
  return result;
}

/**
 * Copies every metadata file the registry behind `from` holds (found by listing its tags under
 * the prefix) into directory `dir`, as a file-published repository: `N.ROLE.json` files,
 * `root.json` (the newest root) and `timestamp.json` last.
 */
export async function exportRepository(from: OciRepositoryStorage, dir: string): Promise<TransferResult> {
  const to = new FsRepositoryStorage(dir);
  const result: TransferResult = { copied: [], skipped: [] };
  const files: MetadataFile[] = [];
  for (const tag of await from.tags.client.listTags(from.tags.repository)) {
    const file = parseMetadataTag(tag);
    if (file !== undefined) files.push(file);
  }
  if (!files.some((f) => f.version === undefined)) {
    throw new NotFoundError(`${from.tags.repository.name}: no TUF repository here (no _tufa.timestamp tag)`);
  }
  const timestamp = await from.read('metadata/timestamp.json');
  if (timestamp === undefined)
    throw new NotFoundError(`${from.tags.repository.name}: _tufa.timestamp disappeared`);
  checkNotOlder(await to.read('metadata/timestamp.json'), timestamp, dir);
  await copyUnderLock(to, from, publishOrder(files), result, true);
  return result;
}

async function copyUnderLock(
  to: RepositoryStorage,
  from: RepositoryStorage,
  files: MetadataFile[],
  result: TransferResult,
  writeLatestRoot = false,
): Promise<void> {
  const release = await to.lock();
  try {
    let latestRoot: Uint8Array | undefined;
    for (const f of files) {
      const path = pathOf(f);
      if (f.version === undefined && writeLatestRoot && latestRoot !== undefined) {
        await to.write('metadata/root.json', latestRoot);
        result.copied.push('metadata/root.json');
      }
      const bytes = await from.read(path);
      if (bytes === undefined) throw new NotFoundError(`${path} disappeared during the copy`);
      await to.write(path, bytes);
      result.copied.push(path);
      if (f.role === 'root') latestRoot = bytes;
    }
  } finally {
    await release();
  }
}

/**
 * A destination that already serves another timestamp of the same or a higher version would roll
 * its clients back (TUF 5.4.3 would refuse it, as an outage): refused before anything is copied.
 */
function checkNotOlder(served: Uint8Array | undefined, copied: Uint8Array, where: string): void {
  if (served === undefined || sameBytes(served, copied)) return;
  const [had, got] = [timestampVersion(served), timestampVersion(copied)];
  if (had >= got) {
    throw new ConflictError(
      `${where} already serves timestamp version ${had}; copying version ${got} there would roll its clients back`,
    );
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
