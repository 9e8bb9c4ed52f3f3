/** Image references and digests, as tables: what parses to what, and what is refused with which message. */
import { describe, expect, it } from 'vitest';
import { checkDigest, computeDigest, digestProblem } from '../src/digest.js';
import { formatImageReference, parseImageReference, pinnedReference } from '../src/reference.js';

const D256 = `sha256:${'a'.repeat(64)}`;
const D512 = `sha512:${'b'.repeat(128)}`;

describe('parseImageReference: accepted', () => {
  it.each([
    // text, registry, repository, tag, digest, apiHost
    ['app', 'docker.io', 'library/app', undefined, undefined, 'registry-1.docker.io'],
    ['app:1.0', 'docker.io', 'library/app', '1.0', undefined, 'registry-1.docker.io'],
    ['user/app', 'docker.io', 'user/app', undefined, undefined, 'registry-1.docker.io'],
    ['user/app:latest', 'docker.io', 'user/app', 'latest', undefined, 'registry-1.docker.io'],
    ['docker.io/app', 'docker.io', 'library/app', undefined, undefined, 'registry-1.docker.io'],
    ['index.docker.io/user/app:v2', 'docker.io', 'user/app', 'v2', undefined, 'registry-1.docker.io'],
    [
      'registry.example.com/team/app:1.4.2',
      'registry.example.com',
      'team/app',
      '1.4.2',
      undefined,
      'registry.example.com',
    ],
    [
      `registry.example.com/team/app@${D256}`,
      'registry.example.com',
      'team/app',
      undefined,
      D256,
      'registry.example.com',
    ],
    [
      `registry.example.com/team/app:1.0@${D256}`,
      'registry.example.com',
      'team/app',
      '1.0',
      D256,
      'registry.example.com',
    ],
    [`ghcr.io/a/b/c@${D512}`, 'ghcr.io', 'a/b/c', undefined, D512, 'ghcr.io'],
    ['localhost:5000/x', 'localhost:5000', 'x', undefined, undefined, 'localhost:5000'],
    ['localhost/x:t', 'localhost', 'x', 't', undefined, 'localhost'],
    ['127.0.0.1:5000/team/app:1', '127.0.0.1:5000', 'team/app', '1', undefined, '127.0.0.1:5000'],
    ['[::1]:5000/app:1.0', '[::1]:5000', 'app', '1.0', undefined, '[::1]:5000'],
    ['[2001:db8::1]/app', '[2001:db8::1]', 'app', undefined, undefined, '[2001:db8::1]'],
    ['Registry.Example.com/app', 'Registry.Example.com', 'app', undefined, undefined, 'Registry.Example.com'],
    ['r.io/a.b_c__d---e/f-g:T_a.g-1', 'r.io', 'a.b_c__d---e/f-g', 'T_a.g-1', undefined, 'r.io'],
    [`r.io/app:${'x'.repeat(128)}`, 'r.io', 'app', 'x'.repeat(128), undefined, 'r.io'],
    ['team/app:_1', 'docker.io', 'team/app', '_1', undefined, 'registry-1.docker.io'],
  ] as const)('%s', (text, registry, repository, tag, digest, apiHost) => {
    const ref = parseImageReference(text);
    expect(ref).toEqual({ registry, repository, name: `${registry}/${repository}`, tag, digest, apiHost });
  });

  it('allows a name of exactly 255 characters', () => {
    expect(parseImageReference(`r.io/${'a'.repeat(250)}`).name).toHaveLength(255);
  });

  it('formats a reference back, and pins it by digest', () => {
    const ref = parseImageReference('app:1.0');
    expect(formatImageReference(ref)).toBe('docker.io/library/app:1.0');
    expect(pinnedReference(ref, D256)).toBe(`docker.io/library/app@${D256}`);
    expect(formatImageReference(parseImageReference(`r.io/a:1@${D256}`))).toBe(`r.io/a:1@${D256}`);
    expect(() => pinnedReference(ref, 'sha256:abc')).toThrow(/64 lower-case hex/);
  });
});

describe('parseImageReference: refused (USAGE, saying what was expected)', () => {
  it.each([
    ['', /expected a name/],
    ['App', /repository path components/],
    ['r.io/Team/app', /found "Team"/],
    ['r.io/team//app', /found ""/],
    ['r.io/app/', /found ""/],
    ['r.io/-app', /found "-app"/],
    ['r.io/app.', /found "app."/],
    ['r.io/a___b', /found "a___b"/],
    ['r.io/app:', /expected a tag/],
    ['r.io/app:.hidden', /expected a tag/],
    ['r.io/app:-x', /expected a tag/],
    [`r.io/app:${'x'.repeat(129)}`, /expected a tag/],
    ['r.io/app:a/b', /repository path components/],
    ['r.io/app@sha256:abc', /64 lower-case hex/],
    [`r.io/app@sha256:${'A'.repeat(64)}`, /64 lower-case hex/],
    [`r.io/app@sha256:${'a'.repeat(63)}`, /64 lower-case hex/],
    [`r.io/app@sha512:${'a'.repeat(64)}`, /128 lower-case hex/],
    [`r.io/app@md5:${'a'.repeat(32)}`, /unsupported digest algorithm "md5"/],
    ['r.io/app@', /after "@"/],
    ['r.io/app with space', /printable ASCII/],
    ['r.io/app\u202e', /printable ASCII/],
    ['-bad.io/app', /registry host name/],
    ['bad_host.io/app', /registry host name/],
    ['r.io:99999/app', /port number/],
    ['r.io:/app', /port number/],
    ['[::g]/app', /IPv6/],
    ['[::1/app', /registry host name/],
    [`r.io/${'a'.repeat(251)}`, /at most 255 characters, found 256/],
    ['_team/app', /found "_team"/],
    [':tag', /expected a repository name/],
  ])('%j', (text, message) => {
    let error: unknown;
    try {
      parseImageReference(text);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'USAGE' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(JSON.stringify(text));
  });
});

describe('digests', () => {
  it('accepts sha256 and sha512 in canonical form only', () => {
    expect(digestProblem(D256)).toBeUndefined();
    expect(digestProblem(D512)).toBeUndefined();
    expect(digestProblem(`SHA256:${'a'.repeat(64)}`)).toMatch(/expected/);
    expect(digestProblem(`sha256:${'a'.repeat(65)}`)).toMatch(/64/);
    expect(digestProblem(`sha384:${'a'.repeat(96)}`)).toMatch(/unsupported/);
    expect(() => checkDigest(`sha384:${'a'.repeat(96)}`)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_HASH' }),
    );
    expect(() => checkDigest('nope')).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('computes digests of bytes', () => {
    const bytes = new TextEncoder().encode('abc');
    expect(computeDigest(bytes)).toBe(
      'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(computeDigest(bytes, 'sha512')).toMatch(/^sha512:ddaf35a193617aba/);
  });
});
