/**
 * RegistryClient against a real distribution registry (no auth): resolving tags and digests,
 * an image index and its platforms, tag pagination, and what is refused — a registry whose bytes
 * do not match its Docker-Content-Digest (a proxy in front of the real registry changes one
 * byte), a manifest over the limit, a Link to another origin, a missing tag, a registry down.
 */

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDir } from '../../core/test/helpers/temp-dir.js';
import { RegistryClient } from '../src/client.js';
import { computeDigest } from '../src/digest.js';
import { MEDIA_TYPES } from '../src/manifest.js';
import { failure } from './helpers/failure.js';
import {
  HAVE_REGISTRY_TOOLS,
  pushImage,
  type Registry,
  requireRegistryTools,
  startRegistry,
  type WrittenImage,
  writeImageLayout,
} from './helpers/registry.js';

requireRegistryTools();

let registry: Registry;
let work = '';
let single: WrittenImage;
let multi: WrittenImage;
let docker: WrittenImage;
/** An address of this machine that is not loopback, if it has one. */
const outside = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
const client = new RegistryClient({ credentials: 'none', env: {} });

/** A proxy in front of the registry; `rewrite` may change each answer's body and headers. */
async function proxy(
  rewrite: (
    path: string,
    body: Buffer,
    headers: http.IncomingHttpHeaders,
  ) => { body: Buffer; headers: http.OutgoingHttpHeaders },
  listenOn = '127.0.0.1',
): Promise<{ host: string; close: () => Promise<void> }> {
  const server = http.createServer((q, s) => {
    const upstream = http.request(
      `${registry.url}${q.url ?? '/'}`,
      { method: q.method, headers: { ...q.headers, host: registry.host } },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const out = rewrite(q.url ?? '', Buffer.concat(chunks), r.headers);
          if (out.headers['content-length'] !== undefined && q.method !== 'HEAD') {
            out.headers['content-length'] = String(out.body.length);
          }
          s.writeHead(r.statusCode ?? 502, out.headers).end(q.method === 'HEAD' ? undefined : out.body);
        });
      },
    );
    q.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, listenOn, () => resolve()));
  return {
    host: `${listenOn.includes(':') ? `[${listenOn}]` : listenOn}:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * One byte changed, the manifest still valid JSON: the first hex digit of the last digest (the
 * layer's) — another image, under the digest the registry claims for the original.
 */
function swapLayer(body: Buffer): Buffer {
  const changed = Buffer.from(body);
  const i = changed.lastIndexOf('sha256:') + 7;
  changed[i] = changed[i] === 0x30 ? 0x31 : 0x30;
  return changed;
}

/**
 * Tag pagination as the distribution specification describes it (`n`, `last`, `Link`), done by
 * a proxy over the real registry's full list: distribution 2.8 ignores `n` on tags/list (it
 * paginates only the catalog; tag pagination came with distribution 3). `linkOrigin` prefixes
 * the Link target (`SELF`: the proxy's own origin, as an absolute URL).
 */
async function pagingProxy(linkOrigin: string, seen: string[] = []) {
  let self = '';
  const p = await proxy((path, body, headers) => {
    const u = new URL(path, 'http://proxy');
    const n = u.searchParams.get('n');
    if (!u.pathname.endsWith('/tags/list') || n === null) return { body, headers };
    seen.push(path);
    const all = ((JSON.parse(body.toString('utf8')) as { tags: string[] | null }).tags ?? []).sort();
    const last = u.searchParams.get('last');
    const rest = last === null ? all : all.filter((t) => t > last);
    const page = rest.slice(0, Number(n));
    const out: http.OutgoingHttpHeaders = { ...headers };
    if (page.length < rest.length) {
      const origin = linkOrigin === 'SELF' ? self : linkOrigin;
      out['link'] = `<${origin}${u.pathname}?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
    }
    return { body: Buffer.from(JSON.stringify({ name: 'team/paged', tags: page })), headers: out };
  });
  self = `http://${p.host}`;
  return p;
}

describe.skipIf(!HAVE_REGISTRY_TOOLS)('RegistryClient against docker-registry (anonymous)', () => {
  useTempDir('all', (d) => {
    work = d;
  });
  beforeAll(async () => {
    registry = await startRegistry();
    single = writeImageLayout(work, { seed: 'one' });
    multi = writeImageLayout(work, {
      seed: 'multi',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
    });
    await pushImage(single, `${registry.host}/team/app:1.0`);
    await pushImage(multi, `${registry.host}/team/multi:2.0`);
    docker = writeImageLayout(work, { seed: 'docker' });
    await pushImage(docker, `${registry.host}/team/docker:1.0`, { format: 'v2s2' });
    for (const t of ['a', 'b', 'c', 'd', 'e']) await pushImage(single, `${registry.host}/team/paged:${t}`);
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
  });

  it('GETs a tag and describes the bytes received', async () => {
    const r = await client.getManifest(`${registry.host}/team/app:1.0`);
    expect(r.descriptor).toEqual({
      mediaType: MEDIA_TYPES.ociManifest,
      digest: single.digest,
      size: single.size,
    });
    expect(computeDigest(r.bytes)).toBe(single.digest);
    expect(r.manifests).toBeUndefined();
  });

  it('resolves a tag with HEAD, and a digest reference to the same descriptor', async () => {
    const d = await client.resolve(`${registry.host}/team/app:1.0`);
    expect(d).toEqual({ mediaType: MEDIA_TYPES.ociManifest, digest: single.digest, size: single.size });
    expect(await client.resolve(`${registry.host}/team/app@${single.digest}`)).toEqual(d);
    const byBoth = await client.getManifest(`${registry.host}/team/app:1.0@${single.digest}`);
    expect(byBoth.descriptor.digest).toBe(single.digest);
  });

  it('an image index: its digest, and the platform manifests it lists', async () => {
    const r = await client.getManifest(`${registry.host}/team/multi:2.0`);
    expect(r.descriptor).toEqual({ mediaType: MEDIA_TYPES.ociIndex, digest: multi.digest, size: multi.size });
    expect(r.manifests).toEqual(
      multi.platforms.map((p) => ({
        mediaType: MEDIA_TYPES.ociManifest,
        digest: p.digest,
        size: p.size,
        platform: p.platform,
      })),
    );
    // Each platform manifest is there by digest.
    const arm = multi.platforms[1];
    expect((await client.getManifest(`${registry.host}/team/multi@${arm?.digest}`)).descriptor.size).toBe(
      arm?.size,
    );
  });

  it('lists tags across pages (n=2, Link rel="next")', async () => {
    expect((await client.listTags(`${registry.host}/team/paged`)).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    const seen: string[] = [];
    const p = await pagingProxy('', seen);
    try {
      expect(await client.listTags(`${p.host}/team/paged`, { pageSize: 2 })).toEqual([
        'a',
        'b',
        'c',
        'd',
        'e',
      ]);
      expect(seen).toEqual([
        '/v2/team/paged/tags/list?n=2',
        '/v2/team/paged/tags/list?n=2&last=b',
        '/v2/team/paged/tags/list?n=2&last=d',
      ]);
    } finally {
      await p.close();
    }
  });

  it('follows an absolute Link on the same origin; a page seen twice ends the listing', async () => {
    const p = await pagingProxy('SELF');
    try {
      expect(await client.listTags(`${p.host}/team/paged`, { pageSize: 2 })).toEqual([
        'a',
        'b',
        'c',
        'd',
        'e',
      ]);
    } finally {
      await p.close();
    }
    const loop = await proxy((path, body, headers) => ({
      body,
      headers: { ...headers, link: `<${path}>; rel="next"` },
    }));
    try {
      const e = await failure(client.listTags(`${loop.host}/team/paged`));
      expect(e.code).toBe('FETCH');
      expect(e.message).toContain('the tag list pages loop');
    } finally {
      await loop.close();
    }
  });

  it('refuses a tags Link to another origin', async () => {
    const p = await pagingProxy('http://localhost:1');
    try {
      const e = await failure(client.listTags(`${p.host}/team/paged`, { pageSize: 2 }));
      expect(e.code).toBe('FETCH');
      expect(e.message).toContain(
        `refusing to follow the tag list's next page to another origin (expected http://${p.host}, found http://localhost:1)`,
      );
    } finally {
      await p.close();
    }
  });

  it('refuses bytes that do not match the Docker-Content-Digest header', async () => {
    const p = await proxy((path, body, headers) => {
      if (!path.includes('/manifests/') || body.length === 0) return { body, headers };
      return { body: swapLayer(body), headers };
    });
    try {
      const e = await failure(client.getManifest(`${p.host}/team/app:1.0`));
      expect(e.code).toBe('LENGTH_OR_HASH');
      expect(e.message).toContain(`Docker-Content-Digest header says ${single.digest}`);
      // By digest, the bytes must hash to the reference's digest even without the header.
      const noHeader = await proxy((path, body, headers) => {
        const { 'docker-content-digest': _, ...rest } = headers;
        if (!path.includes('/manifests/') || body.length === 0) return { body, headers: rest };
        return { body: swapLayer(body), headers: rest };
      });
      try {
        const e2 = await failure(client.getManifest(`${noHeader.host}/team/app@${single.digest}`));
        expect(e2.code).toBe('LENGTH_OR_HASH');
        expect(e2.message).toContain(
          `team/app@${single.digest}: the registry sent bytes whose digest is sha256:`,
        );
        // resolve() falls back to GET and hashing when the header is missing.
        const d = await failure(client.resolve(`${noHeader.host}/team/app@${single.digest}`));
        expect(d.code).toBe('LENGTH_OR_HASH');
      } finally {
        await noHeader.close();
      }
    } finally {
      await p.close();
    }
  });

  it('without a Docker-Content-Digest header, resolve() GETs and hashes', async () => {
    let heads = 0;
    const p = await proxy((_path, body, headers) => {
      const { 'docker-content-digest': _, ...rest } = headers;
      return { body, headers: rest };
    });
    const counting = await proxy((path, body, headers) => {
      if (path.includes('/manifests/')) heads++;
      return { body, headers };
    });
    try {
      expect((await client.resolve(`${p.host}/team/app:1.0`)).digest).toBe(single.digest);
      expect((await client.resolve(`${counting.host}/team/app:1.0`)).digest).toBe(single.digest);
      expect(heads).toBe(1);
    } finally {
      await p.close();
      await counting.close();
    }
  });

  it('cuts a manifest larger than the limit (DOWNLOAD_LIMIT)', async () => {
    const small = new RegistryClient({ credentials: 'none', env: {}, maxManifestBytes: single.size - 1 });
    const e = await failure(small.getManifest(`${registry.host}/team/app:1.0`));
    expect(e.code).toBe('DOWNLOAD_LIMIT');
    expect(e.message).toContain(`expected at most ${single.size - 1} bytes`);
    const noLength = await proxy((_path, body, headers) => {
      const { 'content-length': _, ...rest } = headers;
      return { body, headers: rest };
    });
    try {
      const e2 = await failure(small.getManifest(`${noLength.host}/team/app:1.0`));
      expect(e2.code).toBe('DOWNLOAD_LIMIT');
      expect(e2.message).toContain('received more');
    } finally {
      await noLength.close();
    }
  });

  it('a tag or repository that does not exist is NOT_FOUND', async () => {
    const tag = await failure(client.getManifest(`${registry.host}/team/app:9.9`));
    expect(tag.code).toBe('NOT_FOUND');
    expect(tag.message).toContain(
      `${registry.host}/team/app:9.9: not found on ${registry.host} (MANIFEST_UNKNOWN)`,
    );
    const head = await failure(client.resolve(`${registry.host}/team/app:9.9`));
    expect(head.code).toBe('NOT_FOUND');
    const repo = await failure(client.listTags(`${registry.host}/team/nothing`));
    expect(repo.code).toBe('NOT_FOUND');
    expect(repo.message).toContain(`no repository ${registry.host}/team/nothing`);
  });

  it('a reference with neither tag nor digest is USAGE', async () => {
    expect((await failure(client.getManifest(`${registry.host}/team/app`))).code).toBe('USAGE');
  });

  it('the registry down is FETCH, naming both schemes tried on loopback', async () => {
    const p = await proxy((_path, body, headers) => ({ body, headers }));
    const host = p.host;
    await p.close();
    const e = await failure(client.resolve(`${host}/team/app:1.0`));
    expect(e.code).toBe('FETCH');
    expect(e.message).toContain(`cannot reach the registry ${host} over https`);
    expect(e.message).toContain('ECONNREFUSED');
  });

  it('never uses plain HTTP for a registry off loopback unless listed as insecure', async () => {
    // localhost.localdomain-style names are not loopback for the rule; an unlisted one is https only.
    const e = await failure(
      new RegistryClient({ credentials: 'none', env: {}, connectTimeoutMs: 2000 }).resolve(
        'registry.invalid:5000/team/app:1.0',
      ),
    );
    expect(e.code).toBe('FETCH');
    expect(e.message).not.toContain('http://registry.invalid');
    expect(e.message).toContain('https://registry.invalid:5000');
  });

  it('reads a Docker schema 2 manifest as skopeo converted it', async () => {
    const r = await client.getManifest(`${registry.host}/team/docker:1.0`);
    expect(r.descriptor.mediaType).toBe(MEDIA_TYPES.dockerManifest);
    expect(r.descriptor.digest).toBe(computeDigest(r.bytes));
    expect(await client.resolve(`${registry.host}/team/docker:1.0`)).toEqual(r.descriptor);
  });

  it('reaches an IPv6 loopback registry over plain HTTP', async () => {
    const p = await proxy((_path, body, headers) => ({ body, headers }), '::1');
    try {
      expect(p.host).toMatch(/^\[::1\]:\d+$/);
      expect((await client.resolve(`${p.host}/team/app:1.0`)).digest).toBe(single.digest);
    } finally {
      await p.close();
    }
  });

  it('tries plain HTTP off loopback only for a registry listed as insecure', async () => {
    const listed = new RegistryClient({
      credentials: 'none',
      env: {},
      insecureRegistries: ['registry.invalid:5000'],
    });
    const e = await failure(listed.resolve('registry.invalid:5000/team/app:1.0'));
    expect(e.code).toBe('FETCH');
    expect(e.message).toContain('cannot reach the registry registry.invalid:5000 over https');
    expect(e.message).toContain('or http (http://registry.invalid:5000/v2/team/app/manifests/1.0');
  });

  // Needs an address of this machine that is not loopback (CI's machines have one).
  it.skipIf(outside === undefined)(
    'uses an insecure registry off loopback over HTTP, and says so',
    async () => {
      const p = await proxy((_path, body, headers) => ({ body, headers }), outside);
      try {
        const ref = `${p.host}/team/app:1.0`;
        const unlisted = await failure(client.resolve(ref));
        expect(unlisted.code).toBe('FETCH');
        expect(unlisted.message).not.toContain('over https');
        const notices: string[] = [];
        const listed = new RegistryClient({
          credentials: 'none',
          env: {},
          insecureRegistries: [p.host],
          onNotice: (m) => notices.push(m),
        });
        expect((await listed.resolve(ref)).digest).toBe(single.digest);
        expect(notices).toEqual([
          `${p.host}: using plain HTTP (listed as an insecure registry; HTTPS failed)`,
        ]);
      } finally {
        await p.close();
      }
    },
  );

  it('a registry that stops answering hits the deadline (TIMEOUT); an abort stops the operation', async () => {
    const stalled = http.createServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', () => resolve()));
    const host = `127.0.0.1:${(stalled.address() as AddressInfo).port}`;
    try {
      const e = await failure(
        new RegistryClient({ credentials: 'none', env: {}, timeoutMs: 300 }).resolve(`${host}/team/app:1.0`),
      );
      expect(e.code).toBe('TIMEOUT');
      expect(e.message).toContain('within 300 ms');
      const controller = new AbortController();
      const pending = failure(client.resolve(`${host}/team/app:1.0`, { signal: controller.signal }));
      controller.abort();
      const aborted = await pending;
      expect(aborted.code).toBe('FETCH');
      expect(aborted.message).toContain('aborted');
    } finally {
      stalled.closeAllConnections();
      await new Promise<void>((resolve) => stalled.close(() => resolve()));
    }
  });
});
