/**
 * The client's trusted-metadata cache on disk. One file per role, `<stem>.json` directly in the
 * directory, where the stem is `roleNameToFileStem(role)`: top-level roles are exactly
 * `root.json`, `timestamp.json`, `snapshot.json` and `targets.json`, and no delegated role name
 * (`../x`, `/etc/passwd`, `CON`, …) can leave the directory or collide with another (DESIGN rule 9).
 */
import { lstat, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { roleNameToFileStem } from '../client/names.js';
import type { MetadataStore } from '../client/store.js';
import { StateError } from '../errors.js';
import { Metadata } from '../metadata/metadata.js';
import { ensureDir, errorCode, storageError, writeFileAtomic } from './atomic.js';

/** Options of `FsMetadataStore.initialize`. */
export interface InitializeOptions {
  /** Replace a trusted root that is already stored (default false: refuse). */
  overwrite?: boolean;
}

export class FsMetadataStore implements MetadataStore {
  /** The absolute directory the metadata lives in. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /**
   * Creates a store in `dir` (mode 0700 when created) holding `rootBytes` as the trusted root.
   * The bytes must parse as root metadata; their signatures are checked on the first refresh.
   * Refuses to replace an existing root unless `overwrite` is set.
   */
  static async initialize(
    dir: string,
    rootBytes: Uint8Array,
    options: InitializeOptions = {},
  ): Promise<FsMetadataStore> {
    Metadata.fromBytes(rootBytes, 'root');
    const store = new FsMetadataStore(dir);
    if (!options.overwrite && (await store.exists('root'))) {
      throw new StateError(
        `a trusted root is already stored in ${JSON.stringify(store.dir)} (expected none; pass overwrite to replace it)`,
      );
    }
    await store.write('root', rootBytes);
    return store;
  }

  /** The file that holds `role`'s metadata. Throws UnsafeNameError for names that cannot be stored. */
  pathFor(role: string): string {
    return join(this.dir, `${roleNameToFileStem(role)}.json`);
  }

  async read(role: string): Promise<Uint8Array | undefined> {
    const path = this.pathFor(role);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (e) {
      if (errorCode(e) === 'ENOENT') return undefined;
      throw storageError('read', path, e);
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  async write(role: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathFor(role);
    await ensureDir(this.dir, 0o700);
    await writeFileAtomic(path, bytes, { mode: 0o644 });
  }

  async remove(role: string): Promise<void> {
    const path = this.pathFor(role);
    try {
      await rm(path);
    } catch (e) {
      if (errorCode(e) === 'ENOENT') return;
      throw storageError('remove', path, e);
    }
  }

  private async exists(role: string): Promise<boolean> {
    const path = this.pathFor(role);
    try {
      await lstat(path);
      return true;
    } catch (e) {
      if (errorCode(e) === 'ENOENT') return false;
      throw storageError('inspect', path, e);
    }
  }
}
