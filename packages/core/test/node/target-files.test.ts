import {
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { FetchError } from '../../src/errors.js';
import { TargetFile } from '../../src/metadata/files.js';
import { TEMP_PREFIX } from '../../src/node/atomic.js';
import {
  downloadTarget,
  downloadTargetToFile,
  localTargetPath,
  type TargetStreamer,
} from '../../src/node/index.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { rejection, tree, utf8 } from './helpers.js';

let dir: string;
useTempDir('each', (d) => {
  dir = d;
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
    options: { onProgress?: (received: number) => void } = {},
  ): AsyncGenerator<Uint8Array> {
    const onProgress = options.onProgress;
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
      'com\u00b9',
      'a/LPT\u00b3.txt',
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

describe('symbolic links below the target directory (DESIGN rule 14)', () => {
  let targets: string;
  let outside: string;
  beforeEach(async () => {
    targets = join(dir, 'targets');
    outside = join(dir, 'outside');
    await mkdir(targets);
    await mkdir(outside);
  });

  /** Both ways of writing into a target directory. */
  const writers: [string, (u: TargetStreamer, t: TargetFile) => Promise<unknown>][] = [
    ['downloadTarget', (u, t) => downloadTarget(u, t, targets)],
    [
      'downloadTargetToFile with targetDir',
      (u, t) => downloadTargetToFile(u, t, localTargetPath(targets, t.path), { targetDir: targets }),
    ],
  ];

  it.each(writers)('%s: a symlinked directory is refused; nothing is written outside', async (_, write) => {
    await symlink(outside, join(targets, 'app'));
    const updater = new FakeUpdater(content);
    const e = await rejection((async () => write(updater, target))());
    expect(e.code).toBe('UNSAFE_NAME');
    expect(e.message).toContain(`symbolic link ${JSON.stringify(join(targets, 'app'))}`);
    expect(updater.calls).toBe(0);
    expect(await tree(outside)).toEqual([]);
    expect(await tree(targets)).toEqual(['app']);
  });

  it.each(writers)('%s: missing directories are not created through a link', async (_, write) => {
    await symlink(outside, join(targets, 'a'));
    const deep = await TargetFile.fromData('a/b/c/file.bin', content, ['sha256']);
    const e = await rejection((async () => write(new FakeUpdater(content), deep))());
    expect(e.code).toBe('UNSAFE_NAME');
    expect(await tree(outside)).toEqual([]);
  });

  it.each(writers)(
    '%s: a link deeper down (and one pointing back inside) is refused too',
    async (_, write) => {
      await mkdir(join(targets, 'app'));
      await symlink(targets, join(targets, 'app', 'loop'));
      const deep = await TargetFile.fromData('app/loop/x.bin', content, ['sha256']);
      const e = await rejection((async () => write(new FakeUpdater(content), deep))());
      expect(e.code).toBe('UNSAFE_NAME');
      expect(await tree(targets)).toEqual(['app/', 'app/loop']);
    },
  );

  it.each(writers)('%s: a symlinked final file is refused, even one that matches', async (_, write) => {
    await mkdir(join(targets, 'app'));
    const victim = join(outside, 'victim');
    for (const [name, before] of [
      ['other content', 'something else'],
      ['the same content', 'the artifact, version 1'], // would otherwise be reported as cached
    ] as const) {
      await writeFile(victim, before);
      await symlink(victim, join(targets, 'app', 'v1.tar.gz'));
      const updater = new FakeUpdater(content);
      const e = await rejection((async () => write(updater, target))());
      expect([name, e.code]).toEqual([name, 'UNSAFE_NAME']);
      expect(updater.calls).toBe(0);
      expect(await readFile(victim, 'utf8')).toBe(before);
      expect(await readlink(join(targets, 'app', 'v1.tar.gz'))).toBe(victim);
      await rm(join(targets, 'app', 'v1.tar.gz'));
    }
    // A dangling link: nothing is created where it points.
    await symlink(join(outside, 'created'), join(targets, 'app', 'v1.tar.gz'));
    expect((await rejection((async () => write(new FakeUpdater(content), target))())).code).toBe(
      'UNSAFE_NAME',
    );
    expect(await tree(outside)).toEqual(['victim']);
  });

  it('without targetDir, a link at the file itself is still refused', async () => {
    await symlink(join(outside, 'x'), join(targets, 'v1.tar.gz'));
    const e = await rejection(
      downloadTargetToFile(new FakeUpdater(content), target, join(targets, 'v1.tar.gz')),
    );
    expect(e.code).toBe('UNSAFE_NAME');
    expect(await tree(outside)).toEqual([]);
  });

  it('a directory swapped for a link while the target streams in is caught before the rename', async () => {
    // The directory is moved outside and a link to it put in its place mid-download: a rename
    // through the link would land outside. The re-check before the rename refuses it.
    await mkdir(join(targets, 'app'));
    class Swapping extends FakeUpdater {
      override async *streamTarget(t: TargetFile, options: { onProgress?: (n: number) => void } = {}) {
        let first = true;
        for await (const c of super.streamTarget(t, options)) {
          if (first) {
            await rename(join(targets, 'app'), join(outside, 'app'));
            await symlink(join(outside, 'app'), join(targets, 'app'));
            first = false;
          }
          yield c;
        }
      }
    }
    const e = await rejection(downloadTarget(new Swapping(content), target, targets));
    expect(e.code).toBe('UNSAFE_NAME');
    expect(e.message).toContain(`symbolic link ${JSON.stringify(join(targets, 'app'))}`);
    expect(await tree(outside)).toEqual(['app/']); // no target, no temporary file
  });

  it('the target directory itself may be a link (the caller chose it); real directories below it work', async () => {
    await symlink(targets, join(dir, 'via-link'));
    const r = await downloadTarget(new FakeUpdater(content), target, join(dir, 'via-link'));
    expect(r.cached).toBe(false);
    expect(await tree(targets)).toEqual(['app/', 'app/v1.tar.gz']);
    expect((await downloadTarget(new FakeUpdater(content), target, join(dir, 'via-link'))).cached).toBe(true);
  });

  it('refuses a destination outside targetDir', async () => {
    const e = await rejection(
      downloadTargetToFile(new FakeUpdater(content), target, join(outside, 'x'), { targetDir: targets }),
    );
    expect(e.code).toBe('UNSAFE_NAME');
    expect(await tree(outside)).toEqual([]);
  });
});
