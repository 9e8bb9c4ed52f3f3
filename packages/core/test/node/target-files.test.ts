import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FetchError } from '../../src/errors.js';
import { TargetFile } from '../../src/metadata/files.js';
import {
  downloadTargetToFile,
  localTargetPath,
  type TargetStreamer,
  TEMP_PREFIX,
} from '../../src/node/index.js';
import { rejection, tempDir, tree, utf8 } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

/**
 * A stand-in for Updater.streamTarget over fixed bytes: yields them in chunks, checking them
 * against the target as the Updater does, so a mismatch throws only at the end.
 */
class FakeUpdater implements TargetStreamer {
  calls = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly failAfter?: number,
  ) {}
  async *streamTarget(
    target: TargetFile,
    onProgress?: (received: number) => void,
  ): AsyncGenerator<Uint8Array> {
    this.calls++;
    const checker = target.checker();
    let n = 0;
    for (let i = 0; i < this.bytes.length; i += 4) {
      if (this.failAfter !== undefined && i >= this.failAfter) throw new FetchError('connection reset');
      const c = this.bytes.subarray(i, i + 4);
      checker.update(c);
      n += c.length;
      onProgress?.(n);
      yield c;
    }
    checker.finish();
  }
}

const content = utf8('the artifact, version 1');
const target = await TargetFile.fromData('app/v1.tar.gz', content, ['sha256', 'sha512']);

describe('localTargetPath', () => {
  it('maps target paths under the directory', () => {
    expect(localTargetPath(dir, 'a.txt')).toBe(join(dir, 'a.txt'));
    expect(localTargetPath(dir, 'app/v1/a.tar.gz')).toBe(join(dir, 'app', 'v1', 'a.tar.gz'));
    expect(localTargetPath(dir, '%2e%2e/x')).toBe(join(dir, '%2e%2e', 'x')); // a literal name, never decoded
    expect(localTargetPath(dir, '.hidden/..x/x..y')).toBe(join(dir, '.hidden', '..x', 'x..y'));
    expect(localTargetPath(dir, 'console/conf.d/com10')).toBe(join(dir, 'console', 'conf.d', 'com10'));
    expect(localTargetPath(dir, 'img:latest', { windows: false })).toBe(join(dir, 'img:latest'));
  });

  it('refuses anything that could escape or misbehave (UNSAFE_NAME)', () => {
    const unsafe = [
      '',
      '..',
      '.',
      '../x',
      'a/../../x',
      'a/./b',
      'a//b',
      'a/',
      '/etc/passwd',
      '\\\\server\\share',
      'a\\..\\..\\x',
      'a\u0000b',
      'a\nb',
      'C:/Windows/x',
      'c:x',
      'CON',
      'con.txt',
      'a/NUL',
      'a/aux.tar.gz',
      'COM1',
      'lpt9.log',
      'x/CONIN$',
      'a.',
      'a ',
      '.. ',
      'a/.../b.',
    ];
    for (const p of unsafe) {
      let code: string | undefined;
      try {
        localTargetPath(dir, p);
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect([p, code]).toEqual([p, 'UNSAFE_NAME']);
    }
    for (const p of ['img:latest', 'a<b', 'a|b', 'a?b', 'a*b', 'a"b']) {
      expect(() => localTargetPath(dir, p, { windows: true })).toThrow(/Windows/);
    }
  });
});

describe('downloadTargetToFile', () => {
  it('streams into place, creating parent directories, with progress', async () => {
    const updater = new FakeUpdater(content);
    const dest = localTargetPath(dir, target.path);
    const progress: number[] = [];
    const r = await downloadTargetToFile(updater, target, dest, {
      onProgress: (n) => progress.push(n),
      mode: 0o640,
    });
    expect(r).toEqual({ path: dest, cached: false });
    expect(new Uint8Array(await readFile(dest))).toEqual(content);
    expect(progress.at(-1)).toBe(content.length);
    expect(await tree(dir)).toEqual(['app/', 'app/v1.tar.gz']);
    if (process.platform !== 'win32') expect((await stat(dest)).mode & 0o777).toBe(0o640);
  });

  it('leaves a file that already matches untouched: no fetch, no write, same mtime', async () => {
    const dest = localTargetPath(dir, target.path);
    await mkdir(join(dir, 'app'));
    await writeFile(dest, content);
    const past = new Date('2001-02-03T04:05:06Z');
    await utimes(dest, past, past);
    const before = await stat(dest);
    const updater = new FakeUpdater(content);
    expect(await downloadTargetToFile(updater, target, dest)).toEqual({ path: dest, cached: true });
    expect(updater.calls).toBe(0);
    const after = await stat(dest);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.ino).toBe(before.ino);
    expect(await tree(dir)).toEqual(['app/', 'app/v1.tar.gz']);
  });

  it('replaces a file of the same name whose content changed', async () => {
    const dest = join(dir, 'v1.tar.gz');
    await writeFile(dest, 'the artifact, version 0'); // same length, other hash
    const updater = new FakeUpdater(content);
    expect(await downloadTargetToFile(updater, target, dest)).toEqual({ path: dest, cached: false });
    expect(updater.calls).toBe(1);
    expect(new Uint8Array(await readFile(dest))).toEqual(content);
    expect(await readdir(dir)).toEqual(['v1.tar.gz']);
  });

  it('on a hash mismatch leaves nothing new behind and the old file intact', async () => {
    const dest = join(dir, 'v1.tar.gz');
    await writeFile(dest, 'old but valid elsewhere');
    const evil = utf8('the artifact, versi0n 1'); // same length, wrong bytes
    const e = await rejection(downloadTargetToFile(new FakeUpdater(evil), target, dest));
    expect(e.code).toBe('LENGTH_OR_HASH');
    expect(await readFile(dest, 'utf8')).toBe('old but valid elsewhere');
    expect(await readdir(dir)).toEqual(['v1.tar.gz']);
  });

  it('on a failure mid-stream leaves nothing at all', async () => {
    const dest = join(dir, 'sub', 'v1.tar.gz');
    const e = await rejection(downloadTargetToFile(new FakeUpdater(content, 8), target, dest));
    expect(e.code).toBe('FETCH');
    expect((await tree(dir)).filter((p) => !p.endsWith('/'))).toEqual([]);
  });

  it('on too many bytes leaves nothing behind', async () => {
    const dest = join(dir, 'v1.tar.gz');
    const e = await rejection(downloadTargetToFile(new FakeUpdater(utf8(`${'x'.repeat(40)}`)), target, dest));
    expect(e.code).toBe('LENGTH_OR_HASH');
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses escaping target paths before anything is written', async () => {
    const inner = join(dir, 'targets');
    for (const p of ['../escape', '/tmp/escape', 'a/../../escape']) {
      const e = await rejection(
        (async () => downloadTargetToFile(new FakeUpdater(content), target, localTargetPath(inner, p)))(),
      );
      expect(e.code).toBe('UNSAFE_NAME');
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('temporary files never keep the target name', () => {
    expect(TEMP_PREFIX).toBe('.tufa-tmp-');
  });
});
