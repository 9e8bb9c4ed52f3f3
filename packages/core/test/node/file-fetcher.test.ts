import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { download } from '../../src/client/fetcher.js';
import { NotFoundError } from '../../src/errors.js';
import { FileFetcher, fileBaseUrl, fileUrlToLocalPath } from '../../src/node/index.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { collect, rejection, req, text } from './helpers.js';

let dir: string;
useTempDir('each', (d) => {
  dir = d;
});
beforeEach(async () => {
  await mkdir(join(dir, 'repo', 'sub'), { recursive: true });
  await writeFile(join(dir, 'repo', 'root.json'), '{"root": true}');
  await writeFile(join(dir, 'repo', 'a b.txt'), 'spaced');
  await writeFile(join(dir, 'repo', '..%2Fx'), 'literal name');
  await writeFile(join(dir, 'repo', 'sub', 'big.bin'), Buffer.alloc(1000, 7));
  await writeFile(join(dir, 'secret'), 'outside');
});

const fetcher = new FileFetcher();

describe('FileFetcher', () => {
  it('streams a file from a file: URL, in chunks', async () => {
    const small = new FileFetcher({ chunkSize: 300 });
    const chunks: Uint8Array[] = [];
    for await (const c of small.fetch(`${pathToFileURL(join(dir, 'repo', 'sub', 'big.bin')).href}`, req())) {
      chunks.push(c);
    }
    expect(chunks.map((c) => c.length)).toEqual([300, 300, 300, 100]);
    expect(chunks.every((c) => c.every((b) => b === 7))).toBe(true);
  });

  it('takes a plain absolute directory path as base, and decodes percent-escapes as in a file URL', async () => {
    const base = `${join(dir, 'repo')}/`;
    expect(text(await collect(fetcher.fetch(`${base}root.json`, req())))).toBe('{"root": true}');
    expect(text(await collect(fetcher.fetch(`${base}a%20b.txt`, req())))).toBe('spaced');
    const urlBase = fileBaseUrl(join(dir, 'repo'));
    expect(urlBase.endsWith('/')).toBe(true);
    expect(text(await collect(fetcher.fetch(`${urlBase}a%20b.txt`, req())))).toBe('spaced');
    // A literal "%" in a name is reached through its escape.
    expect(text(await collect(fetcher.fetch(`${urlBase}..%252Fx`, req())))).toBe('literal name');
  });

  it('fileBaseUrl escapes directory names that would read as escapes, query or fragment', async () => {
    const odd = join(dir, 'we%20ird #?dir');
    await mkdir(odd);
    await writeFile(join(odd, 'f'), 'odd');
    expect(text(await collect(fetcher.fetch(`${fileBaseUrl(odd)}f`, req())))).toBe('odd');
  });

  it('a missing file is a NotFoundError with status 404', async () => {
    for (const name of ['missing.json', 'root.json/child']) {
      const e = await rejection(collect(fetcher.fetch(`${fileBaseUrl(join(dir, 'repo'))}${name}`, req())));
      expect(e).toBeInstanceOf(NotFoundError);
      expect(e.code).toBe('NOT_FOUND');
      expect((e as { status?: number }).status).toBe(404);
    }
  });

  it('a directory is FETCH, not a file', async () => {
    const e = await rejection(collect(fetcher.fetch(fileBaseUrl(join(dir, 'repo', 'sub')), req())));
    expect(e.code).toBe('FETCH');
  });

  it('refuses dot segments, raw or encoded, encoded slashes and NUL (UNSAFE_NAME)', async () => {
    const base = fileBaseUrl(join(dir, 'repo'));
    for (const name of [
      '../secret',
      '%2e%2e/secret',
      '.%2E/secret',
      'sub/%2e/../../secret',
      '..%2Fsecret',
      'x%00y',
      './root.json',
    ]) {
      const e = await rejection(collect(fetcher.fetch(`${base}${name}`, req())));
      expect([name, e.code]).toEqual([name, 'UNSAFE_NAME']);
    }
    const plain = `${join(dir, 'repo')}/../secret`;
    expect((await rejection(collect(fetcher.fetch(plain, req())))).code).toBe('UNSAFE_NAME');
  });

  it('refuses what is not a local file URL (USAGE)', async () => {
    for (const url of ['relative/path', 'http://example.com/x', 'file://remote.example/x']) {
      const e = await rejection(collect(fetcher.fetch(url, req())));
      expect([url, e.code]).toEqual([url, 'USAGE']);
    }
    expect(() => fileUrlToLocalPath('C:relative')).toThrow();
  });

  it('stops at maxLength, early from the size and on the bytes read (DOWNLOAD_LIMIT)', async () => {
    const url = `${fileBaseUrl(join(dir, 'repo', 'sub'))}big.bin`;
    expect((await rejection(collect(fetcher.fetch(url, req(999))))).code).toBe('DOWNLOAD_LIMIT');
    expect((await rejection(download(fetcher, url, { maxLength: 10, timeoutMs: 5000 }))).code).toBe(
      'DOWNLOAD_LIMIT',
    );
    expect((await download(fetcher, url, { maxLength: 1000, timeoutMs: 5000 })).length).toBe(1000);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    const small = new FileFetcher({ chunkSize: 100 });
    const it = small.fetch(`${fileBaseUrl(join(dir, 'repo', 'sub'))}big.bin`, req(1000, controller.signal));
    const iter = it[Symbol.asyncIterator]();
    expect((await iter.next()).done).toBe(false);
    controller.abort();
    expect((await rejection(iter.next())).code).toBe('FETCH');
  });
});
