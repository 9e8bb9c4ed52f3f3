/**
 * What OciRepositoryStorage and OciFetcher refuse before any request: target files (the images
 * are the targets), writes outside the publish lease, non-consistent-snapshot names, paths that
 * could leave the metadata directory, and bad options. No registry needed: nothing is sent.
 */
import { describe, expect, it } from 'vitest';
import { OciFetcher } from '../src/tuf/fetcher.js';
import { parseOciLocation } from '../src/tuf/files.js';
import { OciRepositoryStorage } from '../src/tuf/storage.js';
import { failure } from './helpers/failure.js';

// Port 9 (discard) on loopback: any request would fail with FETCH, not with the codes expected here.
const LOCATION = '127.0.0.1:9/team/app';
const storage = () =>
  new OciRepositoryStorage(LOCATION, { clientOptions: { env: {}, homeDir: '/nonexistent' } });

async function* chunks(): AsyncGenerator<Uint8Array> {
  yield new Uint8Array([1, 2, 3]);
}

describe('OciRepositoryStorage refusals', () => {
  it('refuses to store target files, written or streamed, with a typed error saying why', async () => {
    for (const e of [
      await failure(storage().writeStream('targets/app/file.tar', chunks())),
      await failure(storage().write('targets/app/file.tar', new Uint8Array(1))),
    ]) {
      expect(e.code).toBe('USAGE');
      expect(e.message).toContain('target files are not stored in an OCI registry');
    }
    expect(await storage().read('targets/app/file.tar')).toBeUndefined();
    expect((await failure(storage().writeStream('metadata/1.root.json', chunks()))).code).toBe('USAGE');
  });

  it('writes metadata only under the publish lease', async () => {
    const e = await failure(storage().write('metadata/1.targets.json', new Uint8Array(1)));
    expect(e.code).toBe('STATE');
    expect(e.message).toContain('only under the publish lease');
  });

  it('refuses unversioned snapshot and targets files, and paths outside metadata/', async () => {
    const e = await failure(storage().read('metadata/snapshot.json'));
    expect(e.code).toBe('USAGE');
    expect(e.message).toContain('consistent-snapshot repositories only');
    for (const path of ['metadata/../1.root.json', 'other/1.root.json', 'metadata/a/1.root.json']) {
      expect((await failure(storage().read(path))).code, path).toBe('UNSAFE_NAME');
    }
  });

  it('checks its options', () => {
    expect(() => new OciRepositoryStorage(LOCATION, { leaseTtlMs: 100, settleMs: 50 })).toThrow(
      /more than twice settleMs/,
    );
    expect(() => new OciRepositoryStorage(LOCATION, { settleMs: -1 })).toThrow(/settleMs must be an integer/);
    expect(() => parseOciLocation('127.0.0.1:5000/team/app:1.0')).toThrow(/without a tag or digest/);
    expect(parseOciLocation('oci://127.0.0.1:5000/team/app/').name).toBe('127.0.0.1:5000/team/app');
  });
});

describe('OciFetcher refusals', () => {
  const fetcher = new OciFetcher(LOCATION, { clientOptions: { env: {}, homeDir: '/nonexistent' } });
  const fetch = (url: string) =>
    failure(
      (async () => {
        for await (const _ of fetcher.fetch(url, { signal: new AbortController().signal, maxLength: 100 })) {
          // drain
        }
      })(),
    );

  it('serves metadata under its base only; targets are the images', async () => {
    expect(fetcher.metadataBaseUrl).toBe('oci://127.0.0.1:9/team/app/');
    const e = await fetch('oci://127.0.0.1:9/team/app-targets/app.tar');
    expect(e.code).toBe('USAGE');
    expect(e.message).toContain('target files are not stored in the registry');
  });

  it('refuses names that are not one metadata file name', async () => {
    expect((await fetch(`${fetcher.metadataBaseUrl}1.a/b.json`)).code).toBe('UNSAFE_NAME');
    expect((await fetch(`${fetcher.metadataBaseUrl}1.%E0%A4%A.json`)).code).toBe('UNSAFE_NAME');
    expect((await fetch(`${fetcher.metadataBaseUrl}targets.json`)).code).toBe('USAGE');
  });
});
