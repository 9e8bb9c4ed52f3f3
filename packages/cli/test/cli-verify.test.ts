/**
 * The client side: `tufa verify`, `lookup` and `list --server`, against a directory and against
 * `tufa serve`: trust pinning, image references, exit codes.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cachedVersions,
  digestOf,
  expectError,
  expectExit,
  expectJson,
  publisher,
  readJson,
  Sandbox,
  type Served,
  startServe,
  trustMetadataDirs,
} from './helpers/cli.js';

const sandbox = new Sandbox('tufa-verify-');
/** A host with a port: the tag split must happen after the last `/`. */
const GUN = 'localhost:5000/team/app';
const OTHER = 'localhost:5000/team/other';
const repo = publisher(sandbox, GUN);
const otherRepo = publisher(sandbox, OTHER);
const { pub: PUB, root: ROOT } = repo;
const OTHER_ROOT = otherRepo.root;
const D1 = digestOf('app 1.0');
let served: Served;

beforeAll(async () => {
  await repo.init();
  await otherRepo.init();
  expectExit(await sandbox.tufa(['sign', `${GUN}:1.0`, '--digest', D1, '--size', '1000']), 0);
  expectExit(
    await sandbox.tufa([
      'sign',
      `${GUN}:2.0`,
      '--digest',
      digestOf('app 2.0'),
      '--size',
      '2000',
      '--custom',
      '{"git":"abc123"}',
    ]),
    0,
  );
  served = await startServe(sandbox, PUB);
});

afterAll(async () => {
  await served?.stop();
  sandbox.cleanup();
});

describe('tufa verify --server DIR', () => {
  const c = sandbox.client();

  it('first use with --root pins the root and verifies the tag', async () => {
    const r = await c.tufa(['verify', '--server', PUB, '--root', ROOT, `${GUN}:1.0`]);
    expect(expectExit(r, 0).stdout).toBe(`${GUN}:1.0 ${D1} 1000 bytes (signed by targets)\n`);
    expect(r.stderr).toBe('');
    const [dir] = trustMetadataDirs(c.home);
    expect(dir).toBeDefined();
    expect(readdirSync(dir as string).sort()).toEqual([
      'root.json',
      'snapshot.json',
      'targets.json',
      'timestamp.json',
    ]);
    expect(readJson(join(dir as string, '..', 'chain.json'))).toEqual({
      '1': expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('later runs need no --root (GUN TAG form)', async () => {
    const r = await c.tufa(['verify', '--server', PUB, GUN, '1.0']);
    expect(expectExit(r, 0).stdout).toBe(`${GUN}:1.0 ${D1} 1000 bytes (signed by targets)\n`);
  });

  describe.concurrent('with the root pinned (read-only checks, run concurrently)', () => {
    it('--json: gun, tag, verified, digest, size, role, custom', async () => {
      const v = expectJson(await c.tufa(['--json', 'verify', '--server', PUB, `${GUN}:2.0`]));
      expect(v).toEqual({
        tufa: 1,
        gun: GUN,
        tag: '2.0',
        verified: true,
        digest: digestOf('app 2.0'),
        size: 2000,
        role: 'targets',
        custom: { git: 'abc123' },
        pinned: `${GUN}@${digestOf('app 2.0')}`,
        registry: null,
      });
    });

    it('--digest that matches: exit 0 and says so', async () => {
      const r = await c.tufa(['verify', '--server', PUB, `${GUN}:1.0`, '--digest', D1]);
      expect(expectExit(r, 0).stdout).toBe(
        `${GUN}:1.0 ${D1} 1000 bytes (signed by targets) — digest matches\n`,
      );
    });

    it('--digest that does not match: exit 4, naming the signed and the given digest', async () => {
      const wrong = digestOf('something else');
      const r = await c.tufa(['verify', '--server', PUB, `${GUN}:1.0`, '--digest', wrong]);
      expectError(r, 4, new RegExp(`digest .*${GUN}:1\\.0.*expected ${D1}, found ${wrong}`));
      expect(r.stdout).toBe('');
    });

    it('--json digest mismatch: exactly one JSON document, the error with exitCode 4', async () => {
      const wrong = digestOf('something else');
      const r = await c.tufa(['--json', 'verify', '--server', PUB, `${GUN}:1.0`, '--digest', wrong]);
      const v = expectJson<{ error: { message: string; exitCode: number; hint: unknown } }>(r, 4);
      expect(v.error.exitCode).toBe(4);
      expect(v.error.message).toContain(D1);
      expect(v.error.message).toContain(wrong);
      expect(r.stderr).toMatch(/^Error: /m);
    });

    it('image reference GUN:TAG@sha256:HEX is checked against the signed digest', async () => {
      const [ok, bad] = await Promise.all([
        c.tufa(['verify', '--server', PUB, `${GUN}:1.0@${D1}`]),
        c.tufa(['verify', '--server', PUB, `${GUN}:1.0@${digestOf('tampered image')}`]),
      ]);
      expect(expectExit(ok, 0).stdout).toContain('digest matches');
      expectError(bad, 4, `expected ${D1}, found ${digestOf('tampered image')}`);
    });

    it('GUN@sha256:HEX without a tag is exit 2 with a clear message and Hint', async () => {
      const r = await c.tufa(['verify', '--server', PUB, `${GUN}@${D1}`]);
      expectError(r, 2, `${GUN}@${D1} names a digest but no tag`, `${GUN}:TAG --digest ${D1}`);
    });

    it('reference errors are exit 2: no tag, tag twice, two different digests, a bad digest', async () => {
      const [noTag, twice, differ, badDigest, badRef] = await Promise.all([
        c.tufa(['verify', '--server', PUB, GUN]),
        c.tufa(['verify', '--server', PUB, `${GUN}:1.0`, '1.0']),
        c.tufa(['verify', '--server', PUB, `${GUN}:1.0@${D1}`, '--digest', digestOf('other')]),
        c.tufa(['verify', '--server', PUB, `${GUN}:1.0`, '--digest', 'sha256:1234']),
        c.tufa(['verify', '--server', PUB, `${GUN}:1.0@sha256:xyz`]),
      ]);
      expectError(noTag, 2, `no tag in "${GUN}"`, `${GUN}:TAG`);
      expectError(twice, 2, 'give either GUN TAG or GUN:TAG, not both');
      expectError(differ, 2, 'the digest in the reference and --digest differ');
      expectError(badDigest, 2, 'not a digest');
      expectError(badRef, 2, 'not a digest');
    });

    it('an empty --digest is a malformed digest (exit 2), never "no digest to check"', async () => {
      // Found in review: `--digest "$DIGEST"` with an unset variable used to verify nothing and exit 0.
      const [empty, emptyOther] = await Promise.all([
        c.tufa(['verify', '--server', PUB, `${GUN}:1.0`, '--digest', '']),
        c.tufa(['verify', '--server', PUB, `${GUN}:9.9`, '--digest', '']),
      ]);
      expectError(empty, 2, 'not a digest');
      expectError(emptyOther, 2, 'not a digest');
    });

    it('a tag that is not signed is exit 5 with a Hint to list the tags', async () => {
      const r = await c.tufa(['verify', '--server', PUB, `${GUN}:9.9`]);
      expectError(r, 5, `${GUN}:9.9 is not signed`, `tufa list ${GUN} --server ${PUB}`);
    });

    it('--root equal to the pinned root is accepted', async () => {
      expectExit(await c.tufa(['verify', '--server', PUB, '--root', ROOT, `${GUN}:1.0`]), 0);
    });

    it("a --root outside the cached chain of trust (another repository's root) is exit 3", async () => {
      const [dir] = trustMetadataDirs(c.home);
      const before = cachedVersions(dir as string);
      const r = await c.tufa(['verify', '--server', PUB, '--root', OTHER_ROOT, `${GUN}:1.0`]);
      expectError(
        r,
        3,
        'is not in the chain of trust this machine holds',
        /remove .* and run again with --root/,
      );
      expect(cachedVersions(dir as string)).toEqual(before);
    });

    it('a missing --root file is exit 5; --header with a directory server is exit 2', async () => {
      const d = sandbox.client();
      const [missing, header] = await Promise.all([
        d.tufa(['verify', '--server', PUB, '--root', 'no-such-root.json', `${GUN}:1.0`]),
        c.tufa(['verify', '--server', PUB, '--header', 'X-A: b', `${GUN}:1.0`]),
      ]);
      expectError(missing, 5, 'cannot read no-such-root.json');
      expectError(header, 2, '--header applies to an HTTP(S) server only');
    });

    it('TUFA_SERVER and TUFA_ROOT stand in for --server and --root; neither given is exit 2', async () => {
      const d = sandbox.client();
      const env = { TUFA_SERVER: PUB, TUFA_ROOT: ROOT };
      const r = await d.tufa(['verify', `${GUN}:1.0`], { env });
      expect(expectExit(r, 0).stdout).toBe(`${GUN}:1.0 ${D1} 1000 bytes (signed by targets)\n`);
      const listed = expectJson<{ tags: { tag: string }[] }>(await d.tufa(['--json', 'list', GUN], { env }));
      expect(listed.tags.map((t) => t.tag)).toEqual(['1.0', '2.0']);
      // --server on the command line wins over the variable.
      const wins = await d.tufa(['verify', '--server', 'no-such-dir', `${GUN}:1.0`], { env });
      expectError(wins, 5, 'no-such-dir');
      const none = await sandbox.client().tufa(['verify', `${GUN}:1.0`], { env: { TUFA_SERVER: '' } });
      expectError(
        none,
        2,
        'give --server (https://SERVER, oci://REGISTRY/REPOSITORY or a directory), or set TUFA_SERVER',
      );
    });

    it('--timeout: a server that accepts and never answers fails after it (exit 7); 0 is exit 2', async () => {
      const { createServer } = await import('node:net');
      const held: import('node:net').Socket[] = [];
      const silent = createServer((s) => held.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const port = (silent.address() as import('node:net').AddressInfo).port;
      try {
        const d = sandbox.client();
        const url = `http://127.0.0.1:${port}`;
        const [slow, zero] = await Promise.all([
          d.tufa(['verify', '--server', url, '--root', ROOT, '--timeout', '1', `${GUN}:1.0`]),
          d.tufa(['verify', '--server', url, '--root', ROOT, '--timeout', '0', `${GUN}:1.0`]),
        ]);
        expect(slow.code).toBe(7);
        expect(slow.stderr).toContain('no answer within 1000 ms');
        expectError(zero, 2, 'expected a number of seconds from 1 to 86400, found "0"');
      } finally {
        for (const s of held) s.destroy();
        await new Promise((r) => silent.close(r));
      }
    });

    it('a GUN the server does not have is exit 5', async () => {
      const d = sandbox.client();
      const r = await d.tufa(['verify', '--server', PUB, '--root', ROOT, 'localhost:5000/team/none:1.0']);
      expectError(r, 5, /missing/);
    });
  });
});

describe('tufa verify --server URL (tufa serve)', () => {
  const c = sandbox.client();

  it('without a cached root and without --root: exit 2 with a Hint naming --root', async () => {
    const r = await c.tufa(['verify', '--server', served.url, `${GUN}:1.0`]);
    expectError(r, 2, `no trusted root for ${GUN}`, /--root ROOT\.json/);
    expect(trustMetadataDirs(c.home)).toEqual([]);
  });

  it('pins on first use, then works without --root; the URL cache is separate from the DIR cache', async () => {
    const first = await c.tufa(['verify', '--server', served.url, '--root', ROOT, `${GUN}:1.0`]);
    expect(expectExit(first, 0).stdout).toBe(`${GUN}:1.0 ${D1} 1000 bytes (signed by targets)\n`);
    // A trailing slash or not names the same server.
    const again = await c.tufa(['verify', '--server', served.url.replace(/\/$/, ''), GUN, '2.0']);
    expectExit(again, 0);
    expect(trustMetadataDirs(c.home)).toHaveLength(1);
    // The directory is another server: no trust there yet.
    expectError(await c.tufa(['verify', '--server', PUB, `${GUN}:1.0`]), 2, 'no trusted root');
  });

  it('image reference with a registry port splits at the last colon after the last slash', async () => {
    const v = expectJson(await c.tufa(['--json', 'verify', '--server', served.url, `${GUN}:1.0@${D1}`]));
    expect(v).toMatchObject({ gun: GUN, tag: '1.0', verified: true, digest: D1 });
  });

  it('--unsafe-tofu trusts the served root, and warns', async () => {
    const d = sandbox.client();
    const r = await d.tufa(['verify', '--server', served.url, '--unsafe-tofu', `${GUN}:1.0`]);
    expectExit(r, 0);
    expect(r.stdout).toBe(`${GUN}:1.0 ${D1} 1000 bytes (signed by targets)\n`);
    expect(r.stderr).toMatch(
      /^Warning: trusting the root .*1\.root\.json sent by the server \(--unsafe-tofu\)$/m,
    );
  });

  it('--header is accepted for an HTTP server; a bad --header is exit 2', async () => {
    const [ok, bad] = await Promise.all([
      c.tufa(['verify', '--server', served.url, '--header', 'Authorization: Bearer t0ken', `${GUN}:1.0`]),
      c.tufa(['verify', '--server', served.url, '--header', 'no colon', `${GUN}:1.0`]),
    ]);
    expectExit(ok, 0);
    expectError(bad, 2, '--header takes "Name: value"');
  });

  it('an unreachable server is exit 7', async () => {
    const d = sandbox.client();
    const r = await d.tufa(['verify', '--server', 'http://127.0.0.1:9/', '--root', ROOT, `${GUN}:1.0`]);
    expectExit(r, 7);
    expect(r.stderr).toMatch(/^Error: /m);
  });
});

describe('tufa lookup and tufa list --server', () => {
  const c = sandbox.client();

  it('lookup: what a tag is signed as (text and JSON)', async () => {
    const text = await c.tufa(['lookup', '--server', served.url, '--root', ROOT, GUN, '2.0']);
    expect(expectExit(text, 0).stdout).toBe(
      `${GUN}:2.0 ${digestOf('app 2.0')} 2000 bytes (targets)\n  custom: {"git":"abc123"}\n`,
    );
    const v = expectJson(await c.tufa(['--json', 'lookup', '--server', served.url, `${GUN}:2.0`]));
    expect(v).toEqual({
      tufa: 1,
      gun: GUN,
      tag: '2.0',
      digest: digestOf('app 2.0'),
      size: 2000,
      role: 'targets',
      custom: { git: 'abc123' },
    });
    expectError(await c.tufa(['lookup', '--server', served.url, `${GUN}:3.0`]), 5, 'is not signed');
  });

  it('list --server: the verified tags (text and JSON)', async () => {
    const [text, json] = await Promise.all([
      c.tufa(['list', GUN, '--server', served.url]),
      c.tufa(['--json', 'list', GUN, '--server', served.url]),
    ]);
    expect(expectExit(text, 0).stdout).toBe(
      `1.0\t${D1}\t1000\ttargets\n2.0\t${digestOf('app 2.0')}\t2000\ttargets\n`,
    );
    expect(expectJson(json)).toEqual({
      tufa: 1,
      gun: GUN,
      tags: [
        { tag: '1.0', digest: D1, size: 1000, role: 'targets', custom: null },
        { tag: '2.0', digest: digestOf('app 2.0'), size: 2000, role: 'targets', custom: { git: 'abc123' } },
      ],
    });
  });

  it('list --server without a trusted root is exit 2; with --unsafe-tofu it warns', async () => {
    const d = sandbox.client();
    expectError(await d.tufa(['list', GUN, '--server', served.url]), 2, 'no trusted root');
    const r = await d.tufa(['list', OTHER, '--server', served.url, '--unsafe-tofu']);
    expect(expectExit(r, 0).stdout).toBe(`no signed tags in ${OTHER}\n`);
    expect(r.stderr).toContain('(--unsafe-tofu)');
    expect(existsSync(d.home)).toBe(true);
  });
});
