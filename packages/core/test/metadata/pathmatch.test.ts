import { describe, expect, it } from 'vitest';
import { matchPathPattern } from '../../src/metadata/pathmatch.js';
import { DelegatedRole } from '../../src/metadata/roles.js';
import { sha256Hex } from './fixtures.js';

/**
 * [pattern, target path, expected]. The expected values are what python-tuf computes: the pattern
 * and the path are split on "/", must have as many segments, and each pair of segments must
 * match under Python's `fnmatch.fnmatchcase` (computed with CPython 3.11 while writing this table).
 */
const FNMATCH_CASES: [string, string, boolean][] = [
  ['*', 'file.txt', true],
  ['*', 'dir/file.txt', false],
  ['*', '', true],
  ['*', '.hidden', true],
  ['*.txt', '.txt', true],
  ['dir/*', 'dir/file', true],
  ['dir/*', 'dir/sub/file', false],
  ['dir/*', 'dir/', true],
  ['dir/*/*', 'dir/a/b', true],
  ['*/*', 'a/b', true],
  ['*/b', 'a/b', true],
  ['a/*', 'a', false],
  ['*.tgz', 'pkg.tgz', true],
  ['*.tgz', 'sub/pkg.tgz', false],
  ['targets/*.tgz', 'targets/foo.tgz', true],
  ['targets/*.tgz', 'targets/foo.tar.gz', false],
  ['file?.txt', 'file1.txt', true],
  ['file?.txt', 'file10.txt', false],
  ['file?.txt', 'file.txt', false],
  ['?', '/', false],
  ['a?b', 'a/b', false],
  ['?', '😀', true],
  ['a?c', 'a😀c', true],
  ['??', '😀', false],
  ['?', 'é', true],
  ['[abc]', 'a', true],
  ['[abc]', 'd', false],
  ['[a-c]', 'b', true],
  ['[a-c]', 'd', false],
  ['[!a]', 'b', true],
  ['[!a]', 'a', false],
  ['[]]', ']', true],
  ['[]]', 'a', false],
  ['[!]]', 'a', true],
  ['[!]]', ']', false],
  ['[', '[', true],
  ['[a', '[a', true],
  ['a[', 'a[', true],
  ['[!', '[!', true],
  ['[]', '[]', true],
  ['[!]', '[!]', true],
  ['{a,b}', 'a', false],
  ['{a,b}', '{a,b}', true],
  ['!a', 'b', false],
  ['!a', '!a', true],
  ['*', '.dotfile', true],
  ['.*', '.dotfile', true],
  ['*/*', '.git/config', true],
  ['ABC', 'abc', false],
  ['abc', 'ABC', false],
  ['[A-Z]', 'q', false],
  ['a.b', 'axb', false],
  ['a.b', 'a.b', true],
  ['a+', 'aa', false],
  ['a+', 'a+', true],
  ['(x)', 'x', false],
  ['(x)', '(x)', true],
  ['$', '$', true],
  ['^', '^', true],
  ['a$b', 'a$b', true],
  ['^a', 'a', false],
  ['a|b', 'a', false],
  ['a|b', 'a|b', true],
  ['\\d', '1', false],
  ['\\d', '\\d', true],
  ['a\\*', 'a\\x', true],
  ['a\\*', 'a*', false],
  ['[\\]', '\\', true],
  ['[z-a]', 'm', false],
  ['[z-a]', 'z', false],
  ['[a-]', '-', true],
  ['[-a]', '-', true],
  ['[!a-c]', 'd', true],
  ['[!a-c]', 'b', false],
  ['[a-cx-z]', 'y', true],
  ['*a*b*c*', 'xaybzc', true],
  ['*a*b*c*', 'xacb', false],
  ['**', 'anything', true],
  ['**/x', 'a/b/x', false],
  ['**/x', 'a/x', true],
  ['', '', true],
  ['', 'a', false],
  ['a/', 'a/', true],
  ['/a', '/a', true],
  ['/a', 'a', false],
  ['a//b', 'a//b', true],
  ['a/*/b', 'a//b', true],
  ['[😀]', '😀', true],
  ['[😀-😂]', '😁', true],
  ['[^a]', '^', true],
  ['[^a]', 'b', false],
  ['*\n', 'x\n', true],
  ['?', '\n', true],
];

describe('matchPathPattern agrees with python-tuf (fnmatchcase per "/" segment)', () => {
  it.each(FNMATCH_CASES)('pattern %j, path %j: %s', (pattern, path, expected) => {
    expect(matchPathPattern(path, pattern)).toBe(expected);
  });
});

describe('fnmatch semantics, spelled out', () => {
  it('`*` never crosses "/", and the segment counts must match', () => {
    expect(matchPathPattern('a/b/c', '*')).toBe(false);
    expect(matchPathPattern('a/b/c', '*/*')).toBe(false);
    expect(matchPathPattern('a/b/c', '*/*/*')).toBe(true);
    expect(matchPathPattern('a/b', '*/*/*')).toBe(false);
    expect(matchPathPattern('a/b/c', 'a/*')).toBe(false);
    expect(matchPathPattern('a', 'a/*')).toBe(false);
  });

  it('`?` is exactly one character, a non-BMP character (two UTF-16 units) included', () => {
    expect(matchPathPattern('😀', '?')).toBe(true);
    expect(matchPathPattern('😀', '??')).toBe(false);
    expect(matchPathPattern('x😀y', 'x?y')).toBe(true);
    expect(matchPathPattern('', '?')).toBe(false);
    expect(matchPathPattern('ab', '?')).toBe(false);
  });

  it('brackets: sets, ranges, negation, a leading "]", an unclosed "[" as a literal', () => {
    expect(['a', 'b', 'c', 'd'].map((c) => matchPathPattern(c, '[abc]'))).toEqual([true, true, true, false]);
    expect(['a', 'b', 'c', 'd'].map((c) => matchPathPattern(c, '[a-c]'))).toEqual([true, true, true, false]);
    expect(['a', 'b', '!'].map((c) => matchPathPattern(c, '[!a]'))).toEqual([false, true, true]);
    expect([']', 'a'].map((c) => matchPathPattern(c, '[]]'))).toEqual([true, false]);
    expect([']', 'a'].map((c) => matchPathPattern(c, '[!]]'))).toEqual([false, true]);
    expect(matchPathPattern('[', '[')).toBe(true);
    expect(matchPathPattern('[ab', '[ab')).toBe(true);
    expect(matchPathPattern('a', '[ab')).toBe(false);
  });

  it('no braces, no leading-"!" negation, no special case for dotfiles, case-sensitive', () => {
    expect(matchPathPattern('a', '{a,b}')).toBe(false);
    expect(matchPathPattern('{a,b}', '{a,b}')).toBe(true);
    expect(matchPathPattern('b', '!a')).toBe(false);
    expect(matchPathPattern('!a', '!a')).toBe(true);
    expect(matchPathPattern('.profile', '*')).toBe(true);
    expect(matchPathPattern('.git/HEAD', '*/*')).toBe(true);
    expect(matchPathPattern('File.TXT', '*.txt')).toBe(false);
    expect(matchPathPattern('a', 'A')).toBe(false);
  });

  it('regular-expression metacharacters in patterns are literal', () => {
    expect(matchPathPattern('axb', 'a.b')).toBe(false);
    expect(matchPathPattern('a.b', 'a.b')).toBe(true);
    expect(matchPathPattern('aaa', 'a+')).toBe(false);
    expect(matchPathPattern('a+', 'a+')).toBe(true);
    expect(matchPathPattern('x', '(x)')).toBe(false);
    expect(matchPathPattern('(x)', '(x)')).toBe(true);
    expect(matchPathPattern('$', '$')).toBe(true);
    expect(matchPathPattern('', '$')).toBe(false);
    expect(matchPathPattern('^', '^')).toBe(true);
    expect(matchPathPattern('', '^')).toBe(false);
    expect(matchPathPattern('a', 'a|b')).toBe(false);
    expect(matchPathPattern('ab', 'a{2}b')).toBe(false);
    expect(matchPathPattern('a{2}b', 'a{2}b')).toBe(true);
    expect(matchPathPattern('1', '\\d')).toBe(false);
    expect(matchPathPattern('\\d', '\\d')).toBe(true);
  });

  it('a pattern used many times gives the same answers (the compiled-pattern cache)', () => {
    for (let i = 0; i < 3; i++) {
      expect(matchPathPattern('dir/x.tgz', 'dir/*.tgz')).toBe(true);
      expect(matchPathPattern('dir/x.tar', 'dir/*.tgz')).toBe(false);
    }
    // More distinct patterns than the cache holds.
    for (let i = 0; i < 10_050; i++) expect(matchPathPattern(`p${i}`, `p${i}`)).toBe(true);
    expect(matchPathPattern('dir/x.tgz', 'dir/*.tgz')).toBe(true);
  });
});

describe('hyphens outside brackets', () => {
  // Regression: escapeRegex() used to escape "-" outside brackets too, which is an invalid escape
  // under the `u` flag, so every pattern with a "-" (e.g. "targets/my-app/*") threw a SyntaxError.
  // python-tuf matches these literally (all three are true there).
  it.each([
    ['foo-bar', 'foo-bar', true],
    ['*-1.tgz', 'pkg-1.tgz', true],
    ['a-?', 'a-b', true],
    ['a-b', 'a_b', false],
    ['*-*', 'nohyphen', false],
  ] as const)('pattern %j, path %j: %s (and no exception)', (pattern, path, expected) => {
    expect(matchPathPattern(path, pattern)).toBe(expected);
  });

  it('a delegated role with paths ["my-app/*"] is trusted for "my-app/x" (and does not throw)', () => {
    const role = new DelegatedRole({
      name: 'r',
      keyids: [],
      threshold: 1,
      terminating: false,
      paths: ['my-app/*'],
    });
    expect(role.isDelegatedPath('my-app/x')).toBe(true);
    expect(role.isDelegatedPath('my-app/x/y')).toBe(false);
  });

  it('inside brackets a hyphen works (range, or literal at either end)', () => {
    expect(matchPathPattern('-', '[a-]')).toBe(true);
    expect(matchPathPattern('-', '[-a]')).toBe(true);
    expect(matchPathPattern('b', '[a-c]')).toBe(true);
  });
});

describe('DelegatedRole.isDelegatedPath', () => {
  const role = (init: { paths?: string[]; pathHashPrefixes?: string[] }) =>
    new DelegatedRole({ name: 'r', keyids: [], threshold: 1, terminating: false, ...init });

  it('paths: any pattern may match', () => {
    const r = role({ paths: ['a/*', 'b/*.tgz'] });
    expect(r.isDelegatedPath('a/x')).toBe(true);
    expect(r.isDelegatedPath('b/x.tgz')).toBe(true);
    expect(r.isDelegatedPath('b/x.zip')).toBe(false);
    expect(r.isDelegatedPath('a/b/c')).toBe(false);
  });

  it('path_hash_prefixes: prefixes of the hex sha256 of the target path', () => {
    const h = sha256Hex('a/b.txt');
    expect(role({ pathHashPrefixes: [h.slice(0, 1)] }).isDelegatedPath('a/b.txt')).toBe(true);
    expect(role({ pathHashPrefixes: [h.slice(0, 4)] }).isDelegatedPath('a/b.txt')).toBe(true);
    expect(role({ pathHashPrefixes: [h] }).isDelegatedPath('a/b.txt')).toBe(true);
    const other = h[0] === '0' ? '1' : '0';
    expect(role({ pathHashPrefixes: [other] }).isDelegatedPath('a/b.txt')).toBe(false);
    expect(role({ pathHashPrefixes: [other, h.slice(0, 2)] }).isDelegatedPath('a/b.txt')).toBe(true);
    expect(role({ pathHashPrefixes: [] }).isDelegatedPath('a/b.txt')).toBe(false);
    // Hashed as UTF-8.
    const u = sha256Hex('é/😀');
    expect(role({ pathHashPrefixes: [u.slice(0, 6)] }).isDelegatedPath('é/😀')).toBe(true);
  });
});

describe('no catastrophic backtracking', () => {
  it('matches many-star patterns against long names in linear-ish time', () => {
    const pattern = `releases/${'*?'.repeat(30)}!`;
    const name = `releases/${'a'.repeat(4000)}`;
    // A backtracking regular expression would not finish within the test timeout here.
    expect(matchPathPattern(name, pattern)).toBe(false);
    expect(matchPathPattern(`${name}!`, pattern)).toBe(true);
  });
});
