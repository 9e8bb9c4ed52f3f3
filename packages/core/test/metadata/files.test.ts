import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LengthOrHashError, type TufError, UnsupportedHashError } from '../../src/errors.js';
import {
  type ByteSource,
  LengthAndHashChecker,
  MetaFile,
  measure,
  TargetFile,
} from '../../src/metadata/files.js';
import { rejected, sha256Hex, sha512Hex, thrown, utf8 } from './fixtures.js';

const DATA = utf8('the quick brown fox jumps over the lazy dog');
const SHA256 = sha256Hex(DATA);
const SHA512 = sha512Hex(DATA);

function* syncChunks(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function* asyncChunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (const c of syncChunks(bytes, size)) {
    await Promise.resolve();
    yield c;
  }
}

type Form = [string, (b: Uint8Array) => ByteSource];
const FORMS: Form[] = [
  ['bytes', (b) => b],
  ['a sync iterable of 1-byte chunks', (b) => syncChunks(b, 1)],
  ['a sync iterable (array) of 7-byte chunks', (b) => [...syncChunks(b, 7)]],
  ['an async iterable of 5-byte chunks', (b) => asyncChunks(b, 5)],
  [
    'an async iterable with empty chunks',
    (b) =>
      (async function* () {
        yield new Uint8Array(0);
        yield* asyncChunks(b, 16);
        yield new Uint8Array(0);
      })(),
  ],
];

async function lengthOrHash(p: Promise<unknown>, re: RegExp): Promise<void> {
  const e = await rejected(p);
  expect(e).toBeInstanceOf(LengthOrHashError);
  expect((e as TufError).code).toBe('LENGTH_OR_HASH');
  expect((e as TufError).message).toMatch(re);
}

const target = (hashes: Record<string, string>, length = DATA.length) =>
  new TargetFile('dir/fox.txt', length, new Map(Object.entries(hashes)));

describe('TargetFile.verifyLengthAndHashes', () => {
  describe.each(FORMS)('with %s', (_name, form) => {
    it('accepts the right bytes (sha256, sha512, both)', async () => {
      await target({ sha256: SHA256 }).verifyLengthAndHashes(form(DATA));
      await target({ sha512: SHA512 }).verifyLengthAndHashes(form(DATA));
      await target({ sha256: SHA256, sha512: SHA512 }).verifyLengthAndHashes(form(DATA));
    });

    it('refuses data one byte short', async () => {
      await lengthOrHash(
        target({ sha256: SHA256 }).verifyLengthAndHashes(form(DATA.subarray(0, DATA.length - 1))),
        new RegExp(`target "dir/fox.txt": expected ${DATA.length} bytes, found ${DATA.length - 1}`),
      );
    });

    it('refuses data one byte long', async () => {
      const long = new Uint8Array([...DATA, 0x0a]);
      await lengthOrHash(
        target({ sha256: SHA256 }).verifyLengthAndHashes(form(long)),
        new RegExp(`expected ${DATA.length} bytes, found more`),
      );
    });

    it('refuses the right length with a wrong sha256', async () => {
      const other = DATA.slice();
      other[3] = (other[3] as number) ^ 1;
      await lengthOrHash(target({ sha256: SHA256 }).verifyLengthAndHashes(form(other)), /sha256 mismatch/);
    });

    it('checks every known hash: a wrong sha512 fails beside a correct sha256 (either order)', async () => {
      const wrong512 = sha512Hex('something else');
      await lengthOrHash(
        target({ sha256: SHA256, sha512: wrong512 }).verifyLengthAndHashes(form(DATA)),
        new RegExp(`sha512 mismatch \\(expected ${wrong512}, found ${SHA512}\\)`),
      );
      await lengthOrHash(
        target({ sha512: wrong512, sha256: SHA256 }).verifyLengthAndHashes(form(DATA)),
        /sha512 mismatch/,
      );
      await lengthOrHash(
        target({ sha512: SHA512, sha256: sha256Hex('x') }).verifyLengthAndHashes(form(DATA)),
        /sha256 mismatch/,
      );
    });

    it('with only unknown algorithms: UNSUPPORTED_HASH, before reading', async () => {
      const e = await rejected(target({ md5: 'abcd', 'sha3-256': 'ef01' }).verifyLengthAndHashes(form(DATA)));
      expect(e).toBeInstanceOf(UnsupportedHashError);
      expect((e as TufError).code).toBe('UNSUPPORTED_HASH');
      expect((e as TufError).message).toContain('md5, sha3-256');
    });

    it('with unknown plus known algorithms: checks the known ones, ignores the rest', async () => {
      await target({ md5: 'abcd', sha256: SHA256, blake2b: '00' }).verifyLengthAndHashes(form(DATA));
      await lengthOrHash(
        target({ md5: 'abcd', sha256: sha256Hex('x') }).verifyLengthAndHashes(form(DATA)),
        /sha256 mismatch/,
      );
    });
  });

  it('stops an endless stream as soon as it passes the length (sync and async)', async () => {
    let pulled = 0;
    const endless = (function* () {
      for (;;) {
        pulled++;
        yield new Uint8Array(10);
      }
    })();
    await lengthOrHash(
      target({ sha256: SHA256 }, 25).verifyLengthAndHashes(endless),
      /expected 25 bytes, found more/,
    );
    expect(pulled).toBe(3);
    let pulledAsync = 0;
    const endlessAsync = (async function* () {
      for (;;) {
        pulledAsync++;
        yield new Uint8Array(10);
      }
    })();
    await lengthOrHash(target({ sha256: SHA256 }, 25).verifyLengthAndHashes(endlessAsync), /found more/);
    expect(pulledAsync).toBe(3);
  });

  it('a stream that fails is not swallowed', async () => {
    const failing = (async function* () {
      yield DATA.subarray(0, 3);
      throw new Error('connection reset');
    })();
    await expect(target({ sha256: SHA256 }).verifyLengthAndHashes(failing)).rejects.toThrow(
      'connection reset',
    );
  });

  it('length 0 with the empty string hash', async () => {
    const empty = new TargetFile('e', 0, new Map([['sha256', sha256Hex('')]]));
    await empty.verifyLengthAndHashes(new Uint8Array(0));
    await empty.verifyLengthAndHashes([]);
    await lengthOrHash(empty.verifyLengthAndHashes(new Uint8Array(1)), /found more/);
  });

  it('checker() streams chunk by chunk', () => {
    const c = target({ sha256: SHA256, sha512: SHA512 }).checker();
    for (const chunk of syncChunks(DATA, 4)) c.update(chunk);
    c.finish();
    const over = target({ sha256: SHA256 }).checker();
    over.update(DATA);
    expect(thrown(() => over.update(new Uint8Array(1)))).toBeInstanceOf(LengthOrHashError);
    const short = target({ sha256: SHA256 }).checker();
    short.update(DATA.subarray(1));
    expect(thrown(() => short.finish())).toBeInstanceOf(LengthOrHashError);
    expect(thrown(() => target({ md5: 'ab' }).checker())).toBeInstanceOf(UnsupportedHashError);
  });
});

describe('MetaFile.verifyLengthAndHashes', () => {
  const meta = (length?: number, hashes?: Record<string, string>) =>
    new MetaFile(3, length, hashes && new Map(Object.entries(hashes)));

  it('with length and hashes: both checked', async () => {
    await meta(DATA.length, { sha256: SHA256, sha512: SHA512 }).verifyLengthAndHashes(DATA, 'snapshot');
    await lengthOrHash(
      meta(DATA.length + 1, { sha256: SHA256 }).verifyLengthAndHashes(DATA, 'snapshot'),
      /^snapshot: expected \d+ bytes, found \d+$/,
    );
    await lengthOrHash(
      meta(DATA.length - 1, { sha256: SHA256 }).verifyLengthAndHashes(DATA, 'snapshot'),
      /^snapshot: expected \d+ bytes, found more$/,
    );
    await lengthOrHash(
      meta(DATA.length, { sha256: SHA256, sha512: sha512Hex('') }).verifyLengthAndHashes(DATA, 'snapshot'),
      /^snapshot: sha512 mismatch/,
    );
  });

  it('without length or hashes: only what is listed is checked', async () => {
    await meta().verifyLengthAndHashes(DATA, 'targets');
    await meta(DATA.length).verifyLengthAndHashes(DATA, 'targets');
    await lengthOrHash(meta(1).verifyLengthAndHashes(DATA, 'targets'), /targets: expected 1 bytes/);
    await meta(undefined, { sha256: SHA256 }).verifyLengthAndHashes(DATA, 'targets');
    await lengthOrHash(
      meta(undefined, { sha256: sha256Hex('') }).verifyLengthAndHashes(DATA, 'targets'),
      /sha256 mismatch/,
    );
  });

  it('only unknown algorithms: UNSUPPORTED_HASH; unknown plus known: the known one is checked', async () => {
    await expect(meta(undefined, { md5: 'ab' }).verifyLengthAndHashes(DATA, 'x')).rejects.toMatchObject({
      code: 'UNSUPPORTED_HASH',
    });
    await meta(undefined, { md5: 'ab', sha512: SHA512 }).verifyLengthAndHashes(DATA, 'x');
    await lengthOrHash(
      meta(undefined, { md5: 'ab', sha512: sha512Hex('') }).verifyLengthAndHashes(DATA, 'x'),
      /sha512/,
    );
  });
});

describe('LengthAndHashChecker directly', () => {
  it('no length and no hashes accepts anything', () => {
    const c = new LengthAndHashChecker('x', undefined, undefined);
    c.update(DATA);
    c.finish();
  });
});

/** A deterministic pseudo-random 20 MB stream, generated chunk by chunk (never held whole). */
const TOTAL = 20 * 1024 * 1024;
const CHUNK = 64 * 1024 + 7; // not a divisor of TOTAL, so the last chunk is short
function* generatedChunks(): Generator<Uint8Array> {
  let state = 0x12345678;
  for (let done = 0; done < TOTAL; done += CHUNK) {
    const n = Math.min(CHUNK, TOTAL - done);
    const c = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      // xorshift32
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      c[i] = state & 0xff;
      if (i + 1 < n) c[i + 1] = (state >>> 8) & 0xff;
      if (i + 2 < n) c[i + 2] = (state >>> 16) & 0xff;
      if (i + 3 < n) c[i + 3] = (state >>> 24) & 0xff;
    }
    yield c;
  }
}
async function* generatedAsync(): AsyncGenerator<Uint8Array> {
  for (const c of generatedChunks()) yield c;
}

describe('measure', () => {
  it('a generated 20 MB stream: same length and digests as node:crypto over the same chunks', async () => {
    const h256 = createHash('sha256');
    const h512 = createHash('sha512');
    let n = 0;
    for (const c of generatedChunks()) {
      h256.update(c);
      h512.update(c);
      n += c.length;
    }
    expect(n).toBe(TOTAL);
    const progress: number[] = [];
    const m = await measure(generatedAsync(), ['sha256', 'sha512'], (bytes) => progress.push(bytes));
    expect(m.length).toBe(TOTAL);
    expect(m.hashes.get('sha256')).toBe(h256.digest('hex'));
    expect(m.hashes.get('sha512')).toBe(h512.digest('hex'));
    expect(progress.length).toBe(Math.ceil(TOTAL / CHUNK));
    expect(progress.at(-1)).toBe(TOTAL);
    expect(progress.every((p, i) => i === 0 || p > (progress[i - 1] as number))).toBe(true);
    // The sync form of the same stream agrees.
    const s = await measure(generatedChunks());
    expect([...s.hashes.keys()]).toEqual(['sha256']);
    expect(s.hashes.get('sha256')).toBe(m.hashes.get('sha256'));
  });

  it('bytes, empty input, and an unsupported algorithm', async () => {
    expect(await measure(DATA, ['sha512'])).toEqual({
      length: DATA.length,
      hashes: new Map([['sha512', SHA512]]),
    });
    expect(await measure([], ['sha256'])).toEqual({
      length: 0,
      hashes: new Map([['sha256', sha256Hex('')]]),
    });
    await expect(measure(DATA, ['md5'])).rejects.toBeInstanceOf(UnsupportedHashError);
    await expect(measure(DATA, ['SHA256'])).rejects.toMatchObject({ code: 'UNSUPPORTED_HASH' });
  });
});

describe('TargetFile.fromData', () => {
  it('with custom: the custom value is kept, emitted and the entry verifies the same data', async () => {
    const custom = { team: 'infra', tags: ['a', 'b'], n: 1, nested: { ok: true } };
    const t = await TargetFile.fromData(
      'pkg/app-1.0.tgz',
      asyncChunks(DATA, 3),
      ['sha256', 'sha512'],
      custom,
    );
    expect(t.path).toBe('pkg/app-1.0.tgz');
    expect(t.length).toBe(DATA.length);
    expect(t.hashes.get('sha256')).toBe(SHA256);
    expect(t.hashes.get('sha512')).toBe(SHA512);
    expect(t.custom).toEqual(custom);
    expect(t.toJSON()).toEqual({ length: DATA.length, hashes: { sha256: SHA256, sha512: SHA512 }, custom });
    await t.verifyLengthAndHashes(DATA);
    // Parsing what it emits gives the same entry.
    const back = TargetFile.fromJSON(t.path, JSON.parse(JSON.stringify(t.toJSON())), 'x');
    expect(back.toJSON()).toEqual(t.toJSON());
  });

  it('without custom: no custom field; default algorithm sha256', async () => {
    const t = await TargetFile.fromData('a', DATA);
    expect(t.custom).toBeUndefined();
    expect(Object.keys(t.toJSON())).toEqual(['length', 'hashes']);
    expect([...t.hashes.keys()]).toEqual(['sha256']);
    // A falsy custom value is still custom.
    expect((await TargetFile.fromData('a', DATA, ['sha256'], null)).toJSON()).toHaveProperty('custom', null);
    expect((await TargetFile.fromData('a', DATA, ['sha256'], 0)).custom).toBe(0);
  });

  it('an unsupported algorithm is refused', async () => {
    await expect(TargetFile.fromData('a', DATA, ['sha1'])).rejects.toBeInstanceOf(UnsupportedHashError);
  });
});
