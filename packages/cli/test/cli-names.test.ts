/**
 * Names and inputs through the built CLI: the tag-name policy on every path that signs a tag
 * (`sign` with a tag, `--role`, `--manifest`, `--bulk` lines and JSON).
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  expectError,
  expectExit,
  expectJson,
  newestVersion,
  publisher,
  readJson,
  Sandbox,
  snapshotTree,
} from './helpers/cli.js';

const sandbox = new Sandbox('tufa-names-');
const GUN = 'registry.example.com/team/names';
const repo = publisher(sandbox, GUN);
const MD = repo.md;

function sign(...args: string[]) {
  return sandbox.tufa(['sign', ...args]);
}

beforeAll(async () => {
  await repo.init();
  expectExit(await sandbox.tufa(['key', 'generate', 'releaser']), 0);
  expectExit(await sandbox.tufa(['delegation', 'add', GUN, 'releases', '--key', 'releaser']), 0);
});
afterAll(() => sandbox.cleanup());

/** What must never reach a terminal raw: control, format and separator characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not appear
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029]/u;

/** [tag, what the error shows for it] */
const REFUSED: [string, string][] = [
  ['1.0\u202e', 'format character \\u202e at position 4'],
  ['\u2066v1\u2069', 'format character \\u2066 at position 1'],
  ['la\u200btest', 'format character \\u200b at position 3'],
  ['v\ufeff', 'not a tag: "v\\ufeff"'], // white space to the command line
  ['a\u009bb', 'control character \\x9b at position 2'],
  ['a\u0085b', 'control character \\x85 at position 2'],
  ['a\u007f', 'control character \\x7f at position 2'],
  ['\u001b[2Jv', 'control character \\x1b at position 1'],
  ['../x', '".." segment at position 1'],
  ['a/./b', '"." segment at position 3'],
  ['..', '".." segment'],
  ['/abs', 'starts with "/"'],
  ['a\\b', 'backslash at position 2'],
  ['é'.repeat(128), 'expected at most 255 bytes of UTF-8, found 256'],
];

describe('tufa sign refuses tags the policy refuses (exit 2, nothing published)', () => {
  it.concurrent.each(REFUSED)('GUN TAG %j', async (tag, shown) => {
    const before = snapshotTree(MD);
    const r = await sign(GUN, tag, '--digest', digestOf(tag), '--size', '1');
    expectError(r, 2, shown);
    expect(r.stderr).not.toMatch(RAW);
    expect(snapshotTree(MD)).toEqual(before);
  });

  it.concurrent('through --role, --manifest and GUN:TAG alike', async () => {
    writeFileSync(sandbox.path('manifest.json'), '{"schemaVersion":2}');
    const before = snapshotTree(MD);
    const [role, manifest, colon] = await Promise.all([
      sign(GUN, 'v\u202e1', '--role', 'releases', '--digest', digestOf('r'), '--size', '1'),
      sign(GUN, 'v\u2067', '--manifest', 'manifest.json'),
      sign(`${GUN}:v\u200b`, '--digest', digestOf('c'), '--size', '1'),
    ]);
    expectError(role, 2, 'tag "v\\u202e1" has the invisible Unicode format character \\u202e at position 2');
    expectError(manifest, 2, '\\u2067 at position 2');
    expectError(colon, 2, '\\u200b at position 2');
    for (const r of [role, manifest, colon]) expect(r.stderr).not.toMatch(RAW);
    expect(snapshotTree(MD)).toEqual(before);
  });

  it.concurrent('--bulk lines and JSON: the file and line or item in the message, no tag signed', async () => {
    writeFileSync(
      sandbox.path('bidi.txt'),
      `ok-1 ${digestOf('1')} 1\n# a comment\nv2\u202e ${digestOf('2')} 2\nok-3 ${digestOf('3')} 3\n`,
    );
    writeFileSync(
      sandbox.path('bidi.json'),
      JSON.stringify([
        { tag: 'ok-1', digest: digestOf('1'), size: 1 },
        { tag: 'x/../../y', digest: digestOf('2'), size: 2 },
      ]),
    );
    writeFileSync(
      sandbox.path('c1.json'),
      JSON.stringify([{ tag: 'a\u0090', digest: digestOf('3'), size: 3 }]),
    );
    const before = snapshotTree(MD);
    const [lines, json, fromJson, fromStdin] = await Promise.all([
      sign(GUN, '--bulk', 'bidi.txt'),
      sign(GUN, '--bulk', 'bidi.json'),
      sign(GUN, '--bulk', 'c1.json'),
      sandbox.tufa(['sign', GUN, '--bulk', '-', '--role', 'releases'], {
        input: `ok ${digestOf('s')} 1\nz\u0090 ${digestOf('z')} 2\n`,
      }),
    ]);
    expectError(lines, 2, 'bidi.txt:3: tag "v2\\u202e" has the invisible Unicode format character \\u202e');
    expectError(json, 2, 'bidi.json[1]: tag "x/../../y" has a ".." segment at position 3');
    expectError(fromJson, 2, 'c1.json[0]: tag "a\\x90" has the control character \\x90');
    expectError(fromStdin, 2, '-:2: tag "z\\x90" has the control character \\x90 at position 2');
    for (const r of [lines, json, fromStdin, fromJson]) expect(r.stderr).not.toMatch(RAW);
    expect(snapshotTree(MD)).toEqual(before);
  });

  it.concurrent('--bulk JSON items that are not objects are exit 2, not an internal error', async () => {
    writeFileSync(sandbox.path('null.json'), '[null]');
    writeFileSync(
      sandbox.path('proto.json'),
      '[{"__proto__": {"tag": "x"}, "digest": "sha256:00", "size": 1}]',
    );
    const [nul, proto] = await Promise.all([
      sign(GUN, '--bulk', 'null.json'),
      sign(GUN, '--bulk', 'proto.json'),
    ]);
    expectError(nul, 2, 'null.json[0]: expected {"tag", "digest": "sha256:…", "size"}');
    expectError(proto, 2, 'proto.json[0]: expected');
  });
});

describe('tufa sign warns about tags outside the OCI grammar, and signs them', () => {
  it('one tag: a Warning line, and `warnings` in --json', async () => {
    const r = await sandbox.tufa([
      '--json',
      'sign',
      GUN,
      'app/v1.tar.gz',
      '--digest',
      digestOf('a'),
      '--size',
      '9',
    ]);
    const v = expectJson<{ warnings: string[] }>(r);
    const warning =
      'tag "app/v1.tar.gz" is not an OCI image tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}): registries and docker will not accept it as one';
    expect(v.warnings).toEqual([warning]);
    expect(r.stderr).toBe(`Warning: ${warning}\n`);
    const t = readJson(`${MD}/${newestVersion(MD, 'targets')}.targets.json`).signed.targets;
    expect(t['app/v1.tar.gz']?.length).toBe(9);
  });

  it('many tags: five warnings, then how many more; OCI tags: none', async () => {
    const lines = ['plain-ok', ...Array.from({ length: 7 }, (_, i) => `-dash-${i}`)].map(
      (tag, i) => `${tag} ${digestOf(tag)} ${i}`,
    );
    const signed = await sandbox.tufa(['sign', GUN, '--bulk', '-'], { input: lines.join('\n') });
    expectExit(signed, 0);
    const warnings = signed.stderr.trimEnd().split('\n');
    expect(warnings).toHaveLength(6);
    for (const w of warnings.slice(0, 5))
      expect(w).toMatch(/^Warning: -:\d: tag "-dash-\d" is not an OCI image tag/);
    expect(warnings[5]).toBe('Warning: 2 more tag(s) are not OCI image tags (--json lists them all)');
    const quiet = await sign(GUN, 'v1.2.3_rc-1', '--digest', digestOf('q'), '--size', '1');
    expect(expectExit(quiet, 0).stderr).toBe('');
  });
});
