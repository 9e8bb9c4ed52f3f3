/** `tufa serve`: read-only static HTTP for a publish root; GET/HEAD only, nothing outside DIR. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectExit, rawRequest, Sandbox, type Served, startServe } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-serve-');
const SECRET = 'top-secret-outside-the-served-directory';
let served: Served;

beforeAll(async () => {
  mkdirSync(sandbox.path('www', 'repo', 'metadata'), { recursive: true });
  writeFileSync(sandbox.path('www', 'repo', 'metadata', 'timestamp.json'), '{"signed":{}}\n');
  writeFileSync(sandbox.path('www', 'repo', 'metadata', '1.root.json'), '{"root":1}\n');
  writeFileSync(sandbox.path('www', 'blob.bin'), Buffer.from([0, 1, 2, 255]));
  // Files beside and above the served directory must never be served.
  writeFileSync(sandbox.path('secret.txt'), SECRET);
  writeFileSync(sandbox.path('www-other'), SECRET);
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
    // A path that only looks like a traversal but stays inside DIR is fine.
    expect((await rawRequest(served.url, '/repo/./metadata/timestamp.json')).status).toBe(200);
  });

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
