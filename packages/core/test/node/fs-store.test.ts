import { chmod, lstat, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TufError } from '../../src/errors.js';
import { TEMP_PREFIX } from '../../src/node/atomic.js';
import { ensureDir, FsMetadataStore, writeFileAtomic } from '../../src/node/index.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { rejection, tree, utf8 } from './helpers.js';

const posix = process.platform !== 'win32';
const rootBytes = new Uint8Array(
  await readFile(
    new URL('../../../../test-vectors/python-tuf/repository/metadata/1.root.json', import.meta.url),
  ),
);

let dir: string;
useTempDir('each', (d) => {
  dir = d;
});

describe('writeFileAtomic', () => {
  it('writes exactly the bytes, with the mode, and leaves no temporary file', async () => {
    const path = join(dir, 'f.json');
    await writeFileAtomic(path, utf8('one'));
    await writeFileAtomic(path, utf8('two'), { mode: 0o600 });
    expect(await readFile(path, 'utf8')).toBe('two');
    if (posix) expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['f.json']);
  });

  it('removes its temporary file when the rename fails, and keeps the old target', async () => {
    const path = join(dir, 'taken');
    await mkdir(join(path, 'child'), { recursive: true }); // a non-empty directory cannot be replaced
    const e = await rejection(writeFileAtomic(path, utf8('x')));
    expect(e.code).toBe('STORAGE');
    expect(await tree(dir)).toEqual(['taken/', 'taken/child/']);
  });

  it('fails with STORAGE when the directory does not exist', async () => {
    const e = await rejection(writeFileAtomic(join(dir, 'missing', 'f'), utf8('x')));
    expect(e.code).toBe('STORAGE');
  });

  it('names temporary files so they never look like metadata', () => {
    expect(TEMP_PREFIX.endsWith('.json')).toBe(false);
    expect(TEMP_PREFIX.startsWith('.')).toBe(true);
  });

  it('ensureDir creates parents with the exact mode and leaves existing directories alone', async () => {
    const nested = join(dir, 'a', 'b');
    await ensureDir(nested, 0o700);
    if (posix) {
      expect((await stat(join(dir, 'a'))).mode & 0o777).toBe(0o700);
      expect((await stat(nested)).mode & 0o777).toBe(0o700);
      await chmod(nested, 0o750);
      await ensureDir(nested, 0o700);
      expect((await stat(nested)).mode & 0o777).toBe(0o750);
    }
  });
});

describe('FsMetadataStore', () => {
  it('round-trips exactly the bytes given', async () => {
    const store = new FsMetadataStore(join(dir, 'metadata'));
    const odd = new Uint8Array([0xff, 0x00, 0xfe, 0x0a, 0x0d, 0x7b]);
    await store.write('timestamp', odd);
    await store.write('snapshot', new Uint8Array());
    await store.write('root', rootBytes);
    expect(await store.read('timestamp')).toEqual(odd);
    expect(await store.read('snapshot')).toEqual(new Uint8Array());
    expect(await store.read('root')).toEqual(rootBytes);
    expect(await readFile(join(dir, 'metadata', 'root.json'))).toEqual(Buffer.from(rootBytes));
  });

  it('creates its directory with mode 0700 on the first write', async () => {
    const store = new FsMetadataStore(join(dir, 'deep', 'metadata'));
    expect(await store.read('root')).toBeUndefined(); // reading creates nothing
    expect(await readdir(dir)).toEqual([]);
    await store.write('root', rootBytes);
    if (posix) expect((await stat(join(dir, 'deep', 'metadata'))).mode & 0o777).toBe(0o700);
  });

  it('uses exactly root.json, timestamp.json, snapshot.json and targets.json, and nothing else', async () => {
    const store = new FsMetadataStore(dir);
    for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
      await store.write(role, utf8(role));
      await store.write(role, utf8(`${role} again`));
    }
    expect(await readdir(dir).then((d) => d.sort())).toEqual([
      'root.json',
      'snapshot.json',
      'targets.json',
      'timestamp.json',
    ]);
    expect(store.pathFor('targets')).toBe(join(dir, 'targets.json'));
  });

  it('read: undefined when missing, STORAGE for other failures; remove ignores missing files', async () => {
    const store = new FsMetadataStore(dir);
    expect(await store.read('targets')).toBeUndefined();
    await store.remove('targets');
    await mkdir(join(dir, 'snapshot.json'));
    expect((await rejection(store.read('snapshot'))).code).toBe('STORAGE');
    expect((await rejection(store.remove('snapshot'))).code).toBe('STORAGE');
    await store.write('targets', utf8('t'));
    await store.remove('targets');
    expect(await store.read('targets')).toBeUndefined();
  });

  it('keeps every role name inside the directory, one file each, without collisions', async () => {
    const store = new FsMetadataStore(join(dir, 'metadata'));
    const names = [
      '../x',
      '/etc/passwd',
      '..',
      '.',
      'a\\b',
      '%2e%2e',
      '%2E%2E',
      '..%2Fx',
      'CON',
      'con',
      'nul.txt',
      '__proto__',
      'constructor',
      '?',
      '#',
      'a/b',
      'a%2Fb',
      'a.json',
      'a',
      'root',
      'x'.repeat(300),
      '',
      'é',
      'a\u0000b',
      ' ',
    ];
    const accepted: string[] = [];
    const refused: string[] = [];
    for (const name of names) {
      try {
        await store.write(name, utf8(`bytes of ${JSON.stringify(name)}`));
        accepted.push(name);
      } catch (e) {
        expect(e).toBeInstanceOf(TufError);
        expect((e as TufError).code).toBe('UNSAFE_NAME');
        refused.push(name);
      }
    }
    expect(refused).toEqual(['x'.repeat(300), '']);
    // Nothing outside the store directory; inside it, one regular *.json file per accepted name.
    expect(await readdir(dir)).toEqual(['metadata']);
    const files = await readdir(join(dir, 'metadata'));
    expect(files.length).toBe(accepted.length);
    for (const f of files) {
      expect(f.endsWith('.json')).toBe(true);
      expect(f.startsWith(TEMP_PREFIX)).toBe(false);
      expect((await lstat(join(dir, 'metadata', f))).isFile()).toBe(true);
    }
    // Distinct names never collide: each reads back its own bytes.
    for (const name of accepted) {
      expect(new TextDecoder().decode(await store.read(name))).toBe(`bytes of ${JSON.stringify(name)}`);
    }
    expect(await store.read('root')).toEqual(utf8('bytes of "root"'));
    expect(files).toContain('root.json');
    expect(files).not.toContain('CON.json');
  });

  it('initialize stores a trusted root and refuses to overwrite it unless asked', async () => {
    const metadata = join(dir, 'metadata');
    const store = await FsMetadataStore.initialize(metadata, rootBytes);
    expect(await store.read('root')).toEqual(rootBytes);
    if (posix) expect((await stat(metadata)).mode & 0o777).toBe(0o700);
    const e = await rejection(FsMetadataStore.initialize(metadata, rootBytes));
    expect(e.code).toBe('STATE');
    const again = await FsMetadataStore.initialize(metadata, rootBytes, { overwrite: true });
    expect(await again.read('root')).toEqual(rootBytes);
    expect(await readdir(metadata)).toEqual(['root.json']);
  });

  it('initialize refuses bytes that are not root metadata', async () => {
    const targets = await readFile(
      new URL('../../../../test-vectors/python-tuf/repository/metadata/1.targets.json', import.meta.url),
    );
    await expect(FsMetadataStore.initialize(dir, new Uint8Array(targets))).rejects.toMatchObject({
      code: 'FORMAT',
    });
    await expect(FsMetadataStore.initialize(dir, utf8('not json'))).rejects.toBeInstanceOf(TufError);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a failed write keeps the previous bytes and leaves no temporary file', async () => {
    const store = new FsMetadataStore(dir);
    await store.write('timestamp', utf8('old'));
    if (posix && process.getuid?.() !== 0) {
      await chmod(dir, 0o500);
      try {
        expect((await rejection(store.write('timestamp', utf8('new')))).code).toBe('STORAGE');
      } finally {
        await chmod(dir, 0o700);
      }
    } else {
      // As root, permissions do not stop writes: block the rename with a directory instead.
      await mkdir(join(dir, 'snapshot.json', 'x'), { recursive: true });
      expect((await rejection(store.write('snapshot', utf8('new')))).code).toBe('STORAGE');
    }
    expect(await store.read('timestamp')).toEqual(utf8('old'));
    expect((await readdir(dir)).filter((f) => f.startsWith(TEMP_PREFIX))).toEqual([]);
  });
});
