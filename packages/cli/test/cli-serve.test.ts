/**
 * `tufa serve`: read-only static HTTP for a publish root; GET/HEAD only, nothing outside DIR
 * (symlinks resolved), no dot files (the publish lock, temporary files), and a file that cannot
 * be read answers 500 without stopping the server.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectExit, rawRequest, Sandbox, type Served, startServe } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-serve-');
/** Larger than what the server reads before it answers: the rest is streamed. */
const BIG = Buffer.from(Array.from({ length: 200_001 }, (_, i) => (i * 7919) % 256));
const SECRET = 'top-secret-outside-the-served-directory';
const LOCK = '{"format":"tufa-publish-lock/1","host":"publisher-7"}';
let served: Served;

beforeAll(async () => {
  mkdirSync(sandbox.path('www', 'repo', 'metadata'), { recursive: true });
  writeFileSync(sandbox.path('www', 'repo', 'metadata', 'timestamp.json'), '{"signed":{}}\n');
  writeFileSync(sandbox.path('www', 'repo', 'metadata', '1.root.json'), '{"root":1}\n');
  writeFileSync(sandbox.path('www', 'blob.bin'), Buffer.from([0, 1, 2, 255]));
  writeFileSync(sandbox.path('www', 'big.bin'), BIG);
  // Files beside and above the served directory must never be served.
  writeFileSync(sandbox.path('secret.txt'), SECRET);
  writeFileSync(sandbox.path('www-other'), SECRET);
  // What a publish keeps beside the repository, and other dot files.
  writeFileSync(sandbox.path('www', 'repo', '.tufa-publish.lock'), LOCK);
  writeFileSync(sandbox.path('www', 'repo', 'metadata', '.tufa-tmp-0123abcd'), LOCK);
  mkdirSync(sandbox.path('www', '.git'));
  writeFileSync(sandbox.path('www', '.git', 'config'), LOCK);
  // Symlinks: out of the served directory (a file, a directory), and within it.
  mkdirSync(sandbox.path('outside'));
  writeFileSync(sandbox.path('outside', 'secret.txt'), SECRET);
  symlinkSync(sandbox.path('secret.txt'), sandbox.path('www', 'repo', 'leak.json'));
  symlinkSync('../../secret.txt', sandbox.path('www', 'repo', 'relative-leak.json'));
  symlinkSync(sandbox.path('outside'), sandbox.path('www', 'repo', 'outside-dir'));
  symlinkSync('../blob.bin', sandbox.path('www', 'repo', 'blob-link.bin'));
  // A FIFO, which must not hang the server.
  execFileSync('mkfifo', [sandbox.path('www', 'repo', 'fifo.json')]);
  served = await startServe(sandbox, sandbox.path('www'));
});

afterAll(async () => {
  await served?.stop();
  sandbox.cleanup();
});

describe('tufa serve', () => {
  it('prints `serving DIR at URL` on stdout', () => {
    expect(served.stdout()).toMatch(
      new RegExp(
        `^serving ${sandbox.path('www')} at http://127\\.0\\.0\\.1:\\d+/ \\(read-only; Ctrl-C to stop\\)\\n`,
      ),
    );
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(Number(new URL(served.url).port)).toBeGreaterThan(0);
  });

  it('GET serves files: JSON with no-cache for timestamp.json, other files cacheable', async () => {
    const ts = await rawRequest(served.url, '/repo/metadata/timestamp.json');
    expect(ts.status).toBe(200);
    expect(ts.body).toBe('{"signed":{}}\n');
    expect(ts.headers['content-type']).toBe('application/json');
    expect(ts.headers['cache-control']).toBe('no-cache');
    expect(ts.headers['content-length']).toBe(String(ts.body.length));
    const root = await rawRequest(served.url, '/repo/metadata/1.root.json');
    expect(root.status).toBe(200);
    expect(root.headers['cache-control']).toMatch(/max-age/);
    const blob = await rawRequest(served.url, '/blob.bin');
    expect(blob.status).toBe(200);
    expect(Buffer.from(blob.body, 'latin1')).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(blob.headers['content-type']).toBe('application/octet-stream');
    const big = await rawRequest(served.url, '/big.bin');
    expect(big.status).toBe(200);
    expect(big.headers['content-length']).toBe(String(BIG.length));
    expect(Buffer.from(big.body, 'latin1').equals(BIG)).toBe(true);
    // A query string is ignored.
    expect((await rawRequest(served.url, '/repo/metadata/timestamp.json?x=1')).status).toBe(200);
  });

  it('HEAD answers headers only', async () => {
    const r = await rawRequest(served.url, '/repo/metadata/timestamp.json', 'HEAD');
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
    expect(r.headers['content-length']).toBe('14');
  });

  it('404 for a missing file and for a directory', async () => {
    const paths = ['/nothing.json', '/repo/metadata/2.root.json', '/repo', '/repo/metadata/'];
    const results = await Promise.all(paths.map((p) => rawRequest(served.url, p)));
    for (const [i, r] of results.entries()) {
      expect(r.status, paths[i]).toBe(404);
      expect(r.body).toBe('');
    }
    // The served directory itself is no file either (400 or 404).
    expect([400, 404]).toContain((await rawRequest(served.url, '/')).status);
  });

  it('400 or 404 for every traversal attempt, and never a file outside DIR', async () => {
    const attempts = [
      '/..%2f..%2fetc/passwd',
      '/..%2fsecret.txt',
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2e%2e%2fsecret.txt',
      '/repo/..%2f..%2fsecret.txt',
      '/repo/%2e%2e/%2e%2e/secret.txt',
      '/..%5csecret.txt',
      '/..\\secret.txt',
      '/%2E%2E/secret.txt',
      '/.%2e/secret.txt',
      '/secret.txt%00.json',
      '/..',
      '/%2e%2e',
      '/../www-other',
      '/repo/../../www-other',
      `/${encodeURIComponent(sandbox.path('secret.txt'))}`,
      `/${sandbox.path('secret.txt')}`,
      '//etc/passwd',
      '/%ZZ',
    ];
    const results = await Promise.all(attempts.map((p) => rawRequest(served.url, p)));
    for (const [i, r] of results.entries()) {
      expect([400, 404], `${attempts[i]} → ${r.status}`).toContain(r.status);
      expect(r.body).not.toContain(SECRET);
      expect(r.body).not.toContain('root:');
    }
  });

  it('404 for any path segment starting with a dot: the publish lock, temporary files, .git, `.`', async () => {
    const paths = [
      '/repo/.tufa-publish.lock',
      '/repo/%2etufa-publish.lock',
      '/repo/%2Etufa-publish.lock',
      '/repo/metadata/.tufa-tmp-0123abcd',
      '/repo/metadata/%2etufa-tmp-0123abcd',
      '/.git/config',
      '/%2egit/config',
      '/repo/./metadata/timestamp.json',
      '/repo/%2e/metadata/timestamp.json',
      '/repo/metadata/./timestamp.json',
    ];
    const results = await Promise.all(paths.map((p) => rawRequest(served.url, p)));
    for (const [i, r] of results.entries()) {
      expect(r.status, paths[i]).toBe(404);
      expect(r.body).toBe('');
    }
    expect((await rawRequest(served.url, '/repo/metadata/timestamp.json')).status).toBe(200);
  });

  it('follows a symlink only to a file inside DIR', async () => {
    for (const p of ['/repo/leak.json', '/repo/relative-leak.json', '/repo/outside-dir/secret.txt']) {
      const r = await rawRequest(served.url, p);
      expect(r.status, p).toBe(404);
      expect(r.body).not.toContain(SECRET);
    }
    const inside = await rawRequest(served.url, '/repo/blob-link.bin');
    expect(inside.status).toBe(200);
    expect(Buffer.from(inside.body, 'latin1')).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('serves a DIR that is itself reached through a symlink', async () => {
    symlinkSync(sandbox.path('www'), sandbox.path('www-link'));
    const s = await startServe(sandbox, sandbox.path('www-link'));
    try {
      expect((await rawRequest(s.url, '/blob.bin')).status).toBe(200);
      expect((await rawRequest(s.url, '/repo/leak.json')).status).toBe(404);
    } finally {
      await s.stop();
    }
  });

  it('answers 404 for a FIFO at once, and goes on serving', async () => {
    expect((await rawRequest(served.url, '/repo/fifo.json')).status).toBe(404);
    expect((await rawRequest(served.url, '/repo/fifo.json', 'HEAD')).status).toBe(404);
    expect((await rawRequest(served.url, '/blob.bin')).status).toBe(200);
  });

  it.runIf(process.platform === 'linux')(
    'answers 500 for a file that fails to read after it is opened, and goes on serving',
    async () => {
      // The server's own /proc directory: `mem` is a regular file whose read at offset 0 fails
      // (EIO), as a file on a failing disk would.
      const s = await startServe(sandbox, '/proc/self');
      try {
        for (const method of ['GET', 'HEAD', 'GET']) {
          const r = await rawRequest(s.url, '/mem', method);
          expect(r.status, method).toBe(500);
          expect(r.body).toBe('');
        }
        expect((await rawRequest(s.url, '/status')).status).toBe(200);
        expect(s.child.exitCode).toBeNull();
      } finally {
        expect(await s.stop()).toBe(0);
      }
    },
  );

  it('405 with Allow: GET, HEAD for POST, PUT and DELETE', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await rawRequest(served.url, '/repo/metadata/timestamp.json', method);
      expect(r.status).toBe(405);
      expect(r.headers['allow']).toBe('GET, HEAD');
    }
    expect(readFileSync(sandbox.path('www', 'repo', 'metadata', 'timestamp.json'), 'utf8')).toBe(
      '{"signed":{}}\n',
    );
  });

  it('--json prints {tufa: 1, serving, url}; SIGTERM stops it with exit 0', async () => {
    const s = await startServe(sandbox, sandbox.path('www'), ['--json']);
    try {
      await new Promise((r) => setTimeout(r, 50));
      const v = JSON.parse(s.stdout());
      expect(v).toEqual({ tufa: 1, serving: sandbox.path('www'), url: s.url });
      expect((await rawRequest(s.url, '/blob.bin')).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('a port in use is exit 7; a missing directory is exit 5', async () => {
    const port = new URL(served.url).port;
    const [busy, missing] = await Promise.all([
      sandbox.tufa(['serve', 'www', '--port', port]),
      sandbox.tufa(['serve', 'no-such-dir', '--port', '0']),
    ]);
    expectError(busy, 7, `cannot listen on 127.0.0.1:${port}`);
    expectError(missing, 5, 'is not a directory');
    expectExit(missing, 5);
  });
});
