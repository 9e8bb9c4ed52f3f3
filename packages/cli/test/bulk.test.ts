/**
 * The `--bulk` reader (src/bulk.ts): lines parsed as the file streams by, in chunks of 1 MiB, and
 * kept column by column. What it reads must not depend on where a chunk ends, or on whether a
 * line is ASCII (read from the bytes) or not (read as text, as before).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type BulkEntries, readBulk } from '../src/bulk.js';
import { CliError } from '../src/cli-error.js';

const dir = mkdtempSync(join(tmpdir(), 'tufa-bulk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function file(text: string | Buffer): string {
  const p = join(dir, `bulk-${files++}.txt`);
  writeFileSync(p, text);
  return p;
}

const hex = (n: number) => n.toString(16).padStart(64, '0');

function rows(b: BulkEntries): [string, string, number, unknown, string][] {
  return Array.from({ length: b.length }, (_, i) => [
    b.tags[i] as string,
    b.hex(i),
    b.size(i),
    b.customOf(i),
    b.source(i),
  ]);
}

async function refusal(p: string): Promise<string> {
  const e = await readBulk(p, undefined).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CliError);
  return (e as CliError).message;
}

describe('readBulk, lines', () => {
  it('reads every line whole, wherever the chunks of the stream end', async () => {
    // ~2.6 MB: lines cross the 1 MiB chunk boundaries; tags of every length, some long.
    const n = 30_000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`${'t'.repeat(i % 40)}tag-${i} sha256:${hex(i)} ${i * 7}`);
    const p = file(`${lines.join('\n')}\n`);
    const b = await readBulk(p, { ci: 1 });
    expect(b.length).toBe(n);
    const all = rows(b);
    for (let i = 0; i < n; i += 997) {
      expect(all[i]).toEqual([`${'t'.repeat(i % 40)}tag-${i}`, hex(i), i * 7, { ci: 1 }, `${p}:${i + 1}`]);
    }
    expect(b.tags.at(-1)).toBe(`${'t'.repeat((n - 1) % 40)}tag-${n - 1}`);
  });

  it('skips blank lines and comments, trims white space, CRLF, no final line feed', async () => {
    const p = file(
      `# header\n\n   \t\n  a ${'sha256:'}${hex(1)}   1\r\n\t# indented comment\nb\tsha256:${hex(2)}\t2\r\nc sha256:${hex(3)} 3`,
    );
    expect(rows(await readBulk(p, undefined))).toEqual([
      ['a', hex(1), 1, undefined, `${p}:4`],
      ['b', hex(2), 2, undefined, `${p}:6`],
      ['c', hex(3), 3, undefined, `${p}:7`],
    ]);
  });

  it('a line that is not ASCII is read as text: a byte order mark, U+00A0 and U+3000 are white space', async () => {
    const p = file(
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(`ü-tag sha256:${hex(1)} 1\n`),
        Buffer.from(`é\u00a0sha256:${hex(2)}\u30002\n`),
      ]),
    );
    expect(rows(await readBulk(p, undefined))).toEqual([
      ['ü-tag', hex(1), 1, undefined, `${p}:1`],
      ['é', hex(2), 2, undefined, `${p}:2`],
    ]);
    // A tag holding U+00A0 splits there: four fields.
    expect(await refusal(file(`a\u00a0b sha256:${hex(1)} 1\n`))).toMatch(
      /:1: expected "TAG sha256:HEX SIZE"/,
    );
  });

  it('refuses a bad line with file:line, the digest before the size, as the text reader did', async () => {
    expect(await refusal(file(`ok sha256:${hex(1)} 1\nbroken line\n`))).toMatch(
      /:2: expected "TAG sha256:HEX SIZE"$/,
    );
    expect(await refusal(file(`a sha256:${hex(1)} 1 extra\n`))).toMatch(/:1: expected/);
    expect(await refusal(file(`a sha256:${hex(1)} 1x\n`))).toMatch(/:1: expected/);
    expect(await refusal(file(`a sha256:${hex(1)} -1\n`))).toMatch(/:1: expected/);
    for (const digest of [
      `sha256:${hex(1).toUpperCase().replace(/^0/, 'A')}`,
      `sha512:${hex(1)}`,
      'sha256:abc',
    ]) {
      expect(await refusal(file(`a ${digest} 99999999999999999999\n`))).toBe(
        `not a digest: ${JSON.stringify(digest)} (expected sha256: and 64 lower-case hex digits)`,
      );
    }
    expect(await refusal(file(`a sha256:${hex(1)} 99999999999999999999\n`))).toMatch(
      /:1: the size must be a whole number of bytes up to 9007199254740991 \(found "99999999999999999999"\)$/,
    );
    // 2^53 − 1 is the largest size; 2^53 is refused.
    expect((await readBulk(file(`a sha256:${hex(1)} 9007199254740991\n`), undefined)).size(0)).toBe(
      Number.MAX_SAFE_INTEGER,
    );
    expect(await refusal(file(`a sha256:${hex(1)} 9007199254740992\n`))).toMatch(/the size must be/);
  });

  it('folds a repeated identical line and refuses one tag with two contents, naming both lines', async () => {
    const p = file(`a sha256:${hex(1)} 1\nb sha256:${hex(2)} 2\na sha256:${hex(1)} 1\n`);
    const b = await readBulk(p, undefined);
    expect(b.tags).toEqual(['a', 'b']);
    expect(b.folded).toEqual([`${p}:3 repeats tag "a" of ${p}:1; signed once`]);
    const q = file(`a sha256:${hex(1)} 1\na sha256:${hex(1)} 2\n`);
    expect(await refusal(q)).toBe(
      `${q}:1 and ${q}:2 give tag "a" different contents (sha256:${hex(1)} 1 bytes, sha256:${hex(1)} 2 bytes)`,
    );
  });

  it('a missing file is a file problem, an empty one has no entries', async () => {
    const e = await readBulk(join(dir, 'nope.txt'), undefined).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).message).toMatch(/cannot read .*nope\.txt: no such file or directory/);
    expect((await readBulk(file(''), undefined)).length).toBe(0);
    expect((await readBulk(file('  \n# only\n'), undefined)).length).toBe(0);
  });
});

describe('readBulk, a JSON array', () => {
  it('after leading white space, with per-item custom and the default', async () => {
    const p = file(
      `\n  ${JSON.stringify([
        { tag: 'x', digest: `sha256:${hex(1)}`, size: 1 },
        { tag: 'y', digest: `sha256:${hex(2)}`, size: 2, custom: { own: true } },
        { tag: 'x', digest: `sha256:${hex(1)}`, size: 1 },
      ])}`,
    );
    const b = await readBulk(p, { ci: 'run' });
    expect(rows(b)).toEqual([
      ['x', hex(1), 1, { ci: 'run' }, `${p}[0]`],
      ['y', hex(2), 2, { own: true }, `${p}[1]`],
    ]);
    expect(b.folded).toEqual([`${p}[2] repeats tag "x" of ${p}[0]; signed once`]);
    const q = file(
      JSON.stringify([
        { tag: 'x', digest: `sha256:${hex(1)}`, size: 1 },
        { tag: 'x', digest: `sha256:${hex(1)}`, size: 1, custom: { other: 1 } },
      ]),
    );
    expect(await refusal(q)).toMatch(
      /\[0\] and .*\[1\] give tag "x" different contents \(.*, different custom\)$/,
    );
  });
});
