import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { download } from '../../src/client/fetcher.js';
import { FetchError, NotFoundError, type TufError } from '../../src/errors.js';
import { matchesNoProxy } from '../../src/node/http-fetcher.js';
import { DEFAULT_USER_AGENT, HttpFetcher, proxyForUrl, TUFA_VERSION } from '../../src/node/index.js';
import {
  close,
  collect,
  errorText,
  listen,
  packageVersion,
  rejection,
  req,
  text,
  tlsFixture,
  trackSockets,
} from './helpers.js';

const SECRET = 'Bearer s3cr3t-token-value';

/** Paths the main server was asked for, in order. */
const seen: string[] = [];
let headersSeen: http.IncomingHttpHeaders[] = [];
let flaky = 0;
let release: () => void = () => {};

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '';
  seen.push(url);
  headersSeen.push(req.headers);
  const redirect = /^\/redirect\/(\d+)$/.exec(url);
  if (redirect) {
    const n = Number(redirect[1]);
    if (n === 0) res.end('landed');
    else res.writeHead(302, { Location: `/redirect/${n - 1}` }).end();
    return;
  }
  if (url.startsWith('/raw/')) {
    res.end(url);
    return;
  }
  switch (url) {
    case '/hello':
      res.end('hello world');
      return;
    case '/stream':
      res.write('first;');
      // The rest comes only after the client has seen the first chunk.
      release = () => res.end('second');
      return;
    case '/missing':
      res.writeHead(404).end('no such file');
      return;
    case '/forbidden':
      res.writeHead(403).end();
      return;
    case '/gone':
      res.writeHead(410).end();
      return;
    case '/error':
      res.writeHead(500).end('oops');
      return;
    case '/endless': {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16_384, 0x41);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
      };
      res.on('drain', pump);
      pump();
      return;
    }
    case '/stall':
      res.writeHead(200);
      res.write('x');
      return; // never ends
    case '/silent':
      return; // never answers
    case '/hangup':
      req.socket.destroy();
      return;
    case '/cut':
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('0123456789', () => res.socket?.destroy());
      return;
    case '/big-length':
      res.writeHead(200, { 'Content-Length': '10000000' });
      res.write('x');
      return; // would take forever
    case '/headers':
      res.end(JSON.stringify(req.headers));
      return;
    case '/echo': {
      // Method, headers and body as received; a digest header, as a registry sends one.
      const body: Buffer[] = [];
      req.on('data', (c: Buffer) => body.push(c));
      req.on('end', () => {
        const answer = JSON.stringify({
          method: req.method,
          headers: req.headers,
          body: Buffer.concat(body).toString('utf8'),
        });
        res.writeHead(200, {
          'Docker-Content-Digest': 'sha256:abc',
          Link: ['<a>; rel="next"', '<b>; rel="other"'],
          'Content-Length': String(Buffer.byteLength(answer)),
        });
        res.end(answer);
      });
      return;
    }
    case '/post-redirect':
      req.resume();
      res.writeHead(307, { Location: '/echo' }).end();
      return;
    case '/auth':
      if (req.headers.authorization === SECRET) res.writeHead(500).end('server error for authorised user');
      else res.writeHead(401).end();
      return;
    case '/flaky':
      flaky++;
      if (flaky <= 2) res.writeHead(503).end();
      else res.end('recovered');
      return;
    case '/flaky-hangup':
      flaky++;
      if (flaky <= 1) req.socket.destroy();
      else res.end('recovered');
      return;
    default:
      res.writeHead(404).end();
  }
}

const server = http.createServer(route);
const sockets = trackSockets(server);
let base = '';

beforeAll(async () => {
  base = await listen(server);
});
afterAll(async () => {
  await close(server);
});
afterEach(() => {
  seen.length = 0;
  headersSeen = [];
  flaky = 0;
});

const fetcher = new HttpFetcher({ env: {} });

describe('HttpFetcher: answers', () => {
  it('streams a 200 body chunk by chunk', async () => {
    const it = fetcher.fetch(`${base}/stream`, req())[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(text(first.value as Uint8Array)).toBe('first;');
    release();
    let rest = '';
    for (let r = await it.next(); !r.done; r = await it.next()) rest += text(r.value);
    expect(rest).toBe('second');
  });

  it('yields plain Uint8Arrays and sends the tufa User-Agent', async () => {
    const chunks: Uint8Array[] = [];
    for await (const c of fetcher.fetch(`${base}/headers`, req())) chunks.push(c);
    expect(chunks.every((c) => Object.getPrototypeOf(c) === Uint8Array.prototype)).toBe(true);
    const headers = JSON.parse(text(new Uint8Array(Buffer.concat(chunks)))) as Record<string, string>;
    expect(headers['user-agent']).toBe(`tufa/${packageVersion}`);
    expect(DEFAULT_USER_AGENT).toBe(`tufa/${TUFA_VERSION}`);
    expect(headers['host']).toBe(base.slice('http://'.length));
    expect(headers['accept-encoding']).toBeUndefined();
  });

  it('404, 403 and 410 are NotFoundError (NOT_FOUND, category not-found) with the status', async () => {
    for (const [path, status, code] of [
      ['/missing', 404, 'NOT_FOUND'],
      ['/forbidden', 403, 'NOT_FOUND'],
      ['/gone', 410, 'NOT_FOUND'],
    ] as const) {
      const e = await rejection(collect(fetcher.fetch(`${base}${path}`, req())));
      expect(e).toBeInstanceOf(NotFoundError);
      expect(e).not.toBeInstanceOf(FetchError);
      expect(e.code).toBe(code);
      expect(e.category).toBe('not-found');
      expect((e as TufError & { status?: number }).status).toBe(status);
    }
  });

  it('500 is a FetchError (FETCH, category transport) with the status', async () => {
    const e = await rejection(collect(fetcher.fetch(`${base}/error`, req())));
    expect(e).toBeInstanceOf(FetchError);
    expect(e.code).toBe('FETCH');
    expect(e.category).toBe('transport');
    expect((e as TufError & { status?: number }).status).toBe(500);
    expect(e.message).toContain('HTTP 500');
  });

  it('a server that closes the connection without answering is FETCH', async () => {
    const e = await rejection(collect(fetcher.fetch(`${base}/hangup`, req())));
    expect(e.code).toBe('FETCH');
  });

  it('a body cut short before Content-Length is FETCH', async () => {
    const e = await rejection(collect(fetcher.fetch(`${base}/cut`, req())));
    expect(e.code).toBe('FETCH');
  });

  it('a refused connection is FETCH', async () => {
    const s = net.createServer();
    const url = await listen(s);
    await close(s);
    const e = await rejection(collect(fetcher.fetch(`${url}/x`, req())));
    expect(e.code).toBe('FETCH');
    expect(e.message).toContain('cannot connect');
  });
});

describe('HttpFetcher: limits and deadlines', () => {
  it('cuts an endless body at maxLength (core download: DOWNLOAD_LIMIT) and closes the socket', async () => {
    const before = sockets.closed.length;
    const e = await rejection(
      download(fetcher, `${base}/endless`, { maxLength: 100_000, timeoutMs: 10_000 }),
    );
    expect(e.code).toBe('DOWNLOAD_LIMIT');
    const mine = sockets.closed.slice(before);
    expect(mine.length).toBe(1);
    await mine[0];
  });

  it('stops reading on its own past maxLength', async () => {
    let n = 0;
    const e = await rejection(
      (async () => {
        for await (const c of fetcher.fetch(`${base}/endless`, req(50_000))) n += c.length;
      })(),
    );
    expect(e.code).toBe('DOWNLOAD_LIMIT');
    expect(n).toBeLessThanOrEqual(50_000);
  });

  it('rejects a Content-Length above maxLength before reading the body', async () => {
    const e = await rejection(collect(fetcher.fetch(`${base}/big-length`, req(1000))));
    expect(e.code).toBe('DOWNLOAD_LIMIT');
    expect(e.message).toContain('10000000');
  });

  it('a stalled body is cut by the core deadline (TIMEOUT) and the socket closed', async () => {
    const before = sockets.closed.length;
    const e = await rejection(download(fetcher, `${base}/stall`, { maxLength: 1000, timeoutMs: 150 }));
    expect(e.code).toBe('TIMEOUT');
    await Promise.all(sockets.closed.slice(before));
  });

  it('idleTimeoutMs: no byte for that long is TIMEOUT, while waiting for the answer or the body', async () => {
    const f = new HttpFetcher({ env: {}, idleTimeoutMs: 100 });
    for (const path of ['/stall', '/silent']) {
      const e = await rejection(collect(f.fetch(`${base}${path}`, req())));
      expect(e.code).toBe('TIMEOUT');
    }
  });

  it('connectTimeoutMs covers the TLS handshake', async () => {
    const s = net.createServer(() => {}); // accepts TCP, never speaks TLS
    const url = await listen(s, 'https');
    try {
      const f = new HttpFetcher({ env: {}, connectTimeoutMs: 100 });
      const e = await rejection(collect(f.fetch(`${url}/x`, req())));
      expect(e.code).toBe('TIMEOUT');
    } finally {
      await close(s);
    }
  });

  it('destroys the socket as soon as the signal aborts', async () => {
    const before = sockets.closed.length;
    const controller = new AbortController();
    const it = fetcher.fetch(`${base}/stall`, req(1000, controller.signal))[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    const pending = it.next();
    controller.abort();
    const e = await rejection(pending);
    expect(e.code).toBe('FETCH');
    await Promise.all(sockets.closed.slice(before));
  });
});

describe('HttpFetcher: retries', () => {
  it('retries 5xx answers when asked to', async () => {
    const f = new HttpFetcher({ env: {}, retries: 2, retryDelayMs: 1 });
    expect(text(await collect(f.fetch(`${base}/flaky`, req())))).toBe('recovered');
    expect(seen).toEqual(['/flaky', '/flaky', '/flaky']);
  });

  it('gives up after the last retry with the last status', async () => {
    const f = new HttpFetcher({ env: {}, retries: 1, retryDelayMs: 1 });
    const e = await rejection(collect(f.fetch(`${base}/flaky`, req())));
    expect((e as TufError & { status?: number }).status).toBe(503);
    expect(seen.length).toBe(2);
  });

  it('retries a connection closed without an answer', async () => {
    const f = new HttpFetcher({ env: {}, retries: 1, retryDelayMs: 1 });
    expect(text(await collect(f.fetch(`${base}/flaky-hangup`, req())))).toBe('recovered');
  });

  it('never retries a 4xx', async () => {
    const f = new HttpFetcher({ env: {}, retries: 3, retryDelayMs: 1 });
    const e = await rejection(collect(f.fetch(`${base}/missing`, req())));
    expect(e.code).toBe('NOT_FOUND');
    expect(seen).toEqual(['/missing']);
  });

  it('does not retry by default', async () => {
    const e = await rejection(collect(fetcher.fetch(`${base}/flaky`, req())));
    expect(e.code).toBe('FETCH');
    expect(seen.length).toBe(1);
  });
});

describe('HttpFetcher: URLs and headers', () => {
  it('sends the path verbatim: %2F, %2e%2e and .. reach the server unchanged', async () => {
    for (const path of ['/raw/..%2Fx.json', '/raw/a/%2e%2e/%2E%2E/b', '/raw/a/../b', '/raw/%252F?q=%2F']) {
      expect(text(await collect(fetcher.fetch(`${base}${path}`, req())))).toBe(path);
    }
    expect(seen).toEqual(['/raw/..%2Fx.json', '/raw/a/%2e%2e/%2E%2E/b', '/raw/a/../b', '/raw/%252F?q=%2F']);
  });

  it('does not send the fragment', async () => {
    expect(text(await collect(fetcher.fetch(`${base}/raw/x#frag`, req())))).toBe('/raw/x');
  });

  it('refuses URLs it cannot send verbatim, other schemes and credentials (USAGE)', async () => {
    for (const url of [
      `${base}/raw/a b`,
      `${base}/raw/a\\b`,
      `${base}/raw/é`,
      `${base}/raw/a"b`,
      `${base}/raw/a%0D%0A`.replace('%0D%0A', '\r\n'),
      'ftp://127.0.0.1/x',
      'x/y',
      'http:///x',
      'http://[::1/x',
    ]) {
      const e = await rejection(collect(fetcher.fetch(url, req())));
      expect(e.code).toBe('USAGE');
    }
    const e = await rejection(collect(fetcher.fetch(`http://user:hunter2@${base.slice(7)}/hello`, req())));
    expect(e.code).toBe('USAGE');
    expect(errorText(e)).not.toContain('hunter2');
    expect(seen).toEqual([]);
  });

  it('sends configured headers (a bearer token) and never puts their values in errors', async () => {
    const f = new HttpFetcher({ env: {}, headers: { Authorization: SECRET, 'X-Extra': 'yes' } });
    const e = await rejection(collect(f.fetch(`${base}/auth`, req())));
    expect((e as TufError & { status?: number }).status).toBe(500); // the server saw the token
    expect(headersSeen[0]?.['x-extra']).toBe('yes');
    expect(errorText(e)).not.toContain('s3cr3t');
    const e401 = await rejection(collect(fetcher.fetch(`${base}/auth`, req())));
    expect((e401 as TufError & { status?: number }).status).toBe(401);
  });

  it('refuses invalid or reserved headers without echoing the value', () => {
    let e: unknown;
    try {
      new HttpFetcher({ headers: { Authorization: 'Bearer s3cr3t\r\nX-Injected: 1' } });
    } catch (x) {
      e = x;
    }
    expect((e as TufError).code).toBe('USAGE');
    expect(errorText(e)).not.toContain('s3cr3t');
    expect(() => new HttpFetcher({ headers: { Host: 'elsewhere' } })).toThrow(/cannot be overridden/);
    expect(() => new HttpFetcher({ retries: -1 })).toThrow(/retries/);
  });
});

describe('HttpFetcher: redirects', () => {
  it('follows relative redirects up to maxRedirects', async () => {
    expect(text(await collect(fetcher.fetch(`${base}/redirect/5`, req())))).toBe('landed');
    expect(seen.length).toBe(6);
    seen.length = 0;
    const e = await rejection(collect(fetcher.fetch(`${base}/redirect/6`, req())));
    expect(e.code).toBe('FETCH');
    expect(e.message).toContain('too many redirects');
    expect(seen.length).toBe(6);
    const none = new HttpFetcher({ env: {}, maxRedirects: 0 });
    expect((await rejection(collect(none.fetch(`${base}/redirect/1`, req())))).code).toBe('FETCH');
  });

  it('keeps headers on the same origin and drops them on another', async () => {
    const other = http.createServer((q, s) => {
      s.end(JSON.stringify(q.headers));
    });
    const otherBase = await listen(other);
    const hopAuth: (string | undefined)[] = [];
    const hop = http.createServer((q, s) => {
      hopAuth.push(q.headers.authorization);
      s.writeHead(307, { Location: q.url === '/same' ? `${base}/headers` : `${otherBase}/headers` }).end();
    });
    const hopBase = await listen(hop);
    try {
      const f = new HttpFetcher({ env: {}, headers: { Authorization: SECRET } });
      // hop → other server: another port is another origin.
      const cross = JSON.parse(text(await collect(f.fetch(`${hopBase}/cross`, req())))) as Record<
        string,
        string
      >;
      expect(cross['authorization']).toBeUndefined();
      expect(cross['user-agent']).toBe(DEFAULT_USER_AGENT);
      expect(text(await collect(f.fetch(`${base}/redirect/1`, req())))).toBe('landed');
      expect(hopAuth).toEqual([SECRET]);
      expect(headersSeen.map((h) => h.authorization)).toEqual([SECRET, SECRET]);
    } finally {
      await close(hop);
      await close(other);
    }
  }, 10_000);

  it('drops headers on a redirect to another host name of the same address and port', async () => {
    // 127.0.0.1 and localhost reach the same server, but are two origins.
    const f = new HttpFetcher({ env: {}, headers: { Authorization: SECRET, 'X-Api-Key': 'k3y' } });
    const port = new URL(base).port;
    const hop = http.createServer((q, s) => {
      s.writeHead(302, { Location: `http://localhost:${port}/headers` }).end(JSON.stringify(q.headers));
    });
    const hopBase = await listen(hop);
    try {
      const got = JSON.parse(text(await collect(f.fetch(`${hopBase}/x`, req())))) as Record<string, string>;
      expect(got['host']).toBe(`localhost:${port}`);
      expect(got['authorization']).toBeUndefined();
      expect(got['x-api-key']).toBeUndefined();
      const probe = await f.probe(`${hopBase}/x`, new AbortController().signal);
      expect(probe).toMatchObject({
        url: `http://localhost:${port}/headers`,
        status: 200,
        crossOriginRedirect: true,
      });
    } finally {
      await close(hop);
    }
  });

  it('does not send headers again after a redirect away and back', async () => {
    const f = new HttpFetcher({ env: {}, headers: { Authorization: SECRET } });
    const atHome: (string | undefined)[] = [];
    const atAway: (string | undefined)[] = [];
    let awayBase = '';
    const home = http.createServer((q, s) => {
      atHome.push(q.headers.authorization);
      if (q.url === '/start') s.writeHead(302, { Location: `${awayBase}/bounce` }).end();
      else s.end('back');
    });
    const homeBase = await listen(home);
    const away = http.createServer((q, s) => {
      atAway.push(q.headers.authorization);
      s.writeHead(302, { Location: `${homeBase}/back` }).end();
    });
    awayBase = await listen(away);
    try {
      // home → away → home: away chose the second request to home, which goes without the header.
      expect(text(await collect(f.fetch(`${homeBase}/start`, req())))).toBe('back');
      expect(atHome).toEqual([SECRET, undefined]);
      expect(atAway).toEqual([undefined]);
      const probe = await f.probe(`${homeBase}/start`, new AbortController().signal);
      expect(probe).toMatchObject({ url: `${homeBase}/back`, status: 200, crossOriginRedirect: true });
    } finally {
      await close(home);
      await close(away);
    }
  });

  it('refuses a redirect from https to http, and to other schemes', async () => {
    const tlsServer = https.createServer({ cert: tlsFixture.cert, key: tlsFixture.key }, (q, s) => {
      s.writeHead(302, { Location: q.url === '/file' ? 'file:///etc/passwd' : `${base}/hello` }).end();
    });
    const tlsBase = await listen(tlsServer, 'https');
    try {
      const f = new HttpFetcher({ env: {}, ca: tlsFixture.ca });
      const e = await rejection(collect(f.fetch(`${tlsBase}/down`, req())));
      expect(e.code).toBe('FETCH');
      expect(e.message).toContain('refused');
      const e2 = await rejection(collect(f.fetch(`${tlsBase}/file`, req())));
      expect(e2.code).toBe('FETCH');
      expect(seen).toEqual([]);
    } finally {
      await close(tlsServer);
    }
  });

  it('a redirect without Location is FETCH', async () => {
    const s = http.createServer((_q, r) => r.writeHead(302).end());
    const url = await listen(s);
    try {
      const e = await rejection(collect(fetcher.fetch(`${url}/x`, req())));
      expect(e.code).toBe('FETCH');
      expect(e.message).toContain('Location');
    } finally {
      await close(s);
    }
  });
});

describe('HttpFetcher.probe', () => {
  it('reports the final status, URL and every WWW-Authenticate header without reading the body', async () => {
    const s = http.createServer((q, r) => {
      if (q.url === '/moved') {
        r.writeHead(307, { Location: '/guarded' }).end();
        return;
      }
      r.writeHead(401, [
        ['WWW-Authenticate', 'Basic realm="x"'],
        ['WWW-Authenticate', 'Bearer realm="https://auth.example.com/token",service="a, b"'],
      ]);
      r.write('x'); // never ends: probe must not wait for the body
    });
    const url = await listen(s);
    try {
      const f = new HttpFetcher({ env: {}, idleTimeoutMs: 60_000 });
      expect(await f.probe(`${url}/moved`, new AbortController().signal)).toEqual({
        url: `${url}/guarded`,
        status: 401,
        crossOriginRedirect: false,
        wwwAuthenticate: ['Basic realm="x"', 'Bearer realm="https://auth.example.com/token",service="a, b"'],
      });
    } finally {
      await close(s);
    }
  });

  it('goes through the proxy like fetch', async () => {
    const lines: string[] = [];
    const proxy = http.createServer((q, s) => {
      lines.push(`${q.method} ${q.url}`);
      s.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="https://proxy.example/"' }).end();
    });
    const proxyUrl = await listen(proxy);
    try {
      const f = new HttpFetcher({ env: { http_proxy: proxyUrl } });
      const p = await f.probe('http://notary.example.com/v2/x', new AbortController().signal);
      expect(p.wwwAuthenticate).toEqual(['Bearer realm="https://proxy.example/"']);
      expect(lines).toEqual(['GET http://notary.example.com/v2/x']);
    } finally {
      await close(proxy);
    }
  });
});

describe('HttpFetcher: TLS', () => {
  const tlsServer = https.createServer({ cert: tlsFixture.cert, key: tlsFixture.key }, (q, s) => {
    s.end(`secure ${q.url}`);
  });
  let tlsBase = '';
  beforeAll(async () => {
    tlsBase = await listen(tlsServer, 'https');
  });
  afterAll(async () => {
    await close(tlsServer);
  });

  it('fails against an unknown CA and succeeds with the extra CA', async () => {
    const e = await rejection(collect(fetcher.fetch(`${tlsBase}/a`, req())));
    expect(e.code).toBe('FETCH');
    expect(e.message).toMatch(/TLS|certificate/i);
    const f = new HttpFetcher({ env: {}, ca: [tlsFixture.ca] });
    expect(text(await collect(f.fetch(`${tlsBase}/a%2Fb`, req())))).toBe('secure /a%2Fb');
  });

  it('an unknown CA is not retried', async () => {
    let connections = 0;
    tlsServer.on('connection', () => connections++);
    const f = new HttpFetcher({ env: {}, retries: 2, retryDelayMs: 1 });
    await rejection(collect(f.fetch(`${tlsBase}/a`, req())));
    expect(connections).toBe(1);
  });

  it('refuses an unusable ca option', () => {
    expect(() => new HttpFetcher({ ca: 'not a certificate' })).toThrow(/no PEM certificate/);
    const broken = tlsFixture.ca.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    expect(() => new HttpFetcher({ ca: [tlsFixture.ca, broken] })).toThrow(/ca\[1\]/);
  });
});

describe('HttpFetcher: proxies', () => {
  const log: { line: string; auth: string | undefined }[] = [];
  const proxy = http.createServer((q, s) => {
    // A forwarding proxy: absolute-form request line, path passed on verbatim.
    const url = q.url ?? '';
    log.push({ line: `${q.method} ${url}`, auth: q.headers['proxy-authorization'] });
    const m = /^http:\/\/([^/]+)(\/.*)$/.exec(url);
    if (!m) {
      s.writeHead(400).end();
      return;
    }
    const [host, port] = (m[1] ?? '').split(':');
    const headers = { ...q.headers };
    delete headers['proxy-authorization'];
    const up = http.request({ host, port: Number(port), path: m[2], method: q.method, headers }, (r) => {
      s.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(s);
    });
    up.on('error', () => s.destroy());
    up.end();
  });
  proxy.on('connect', (q: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    log.push({ line: `CONNECT ${q.url}`, auth: q.headers['proxy-authorization'] });
    const m = /^(.+):(\d+)$/.exec(q.url ?? '');
    if (!m || q.url === '127.0.0.1:1') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const up = net.connect(Number(m[2]), m[1], () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  const tlsServer = https.createServer({ cert: tlsFixture.cert, key: tlsFixture.key }, (q, s) => {
    s.end(`secure ${q.url}`);
  });
  let proxyUrl = '';
  let tlsBase = '';
  beforeAll(async () => {
    proxyUrl = await listen(proxy);
    tlsBase = await listen(tlsServer, 'https');
  });
  afterAll(async () => {
    await close(proxy);
    await close(tlsServer);
  });
  afterEach(() => {
    log.length = 0;
  });

  it('sends http requests through HTTP_PROXY in absolute form, verbatim', async () => {
    const f = new HttpFetcher({ env: { HTTP_PROXY: proxyUrl } });
    expect(text(await collect(f.fetch(`${base}/raw/..%2Fx`, req())))).toBe('/raw/..%2Fx');
    expect(log.map((l) => l.line)).toEqual([`GET ${base}/raw/..%2Fx`]);
    expect(seen).toEqual(['/raw/..%2Fx']);
  });

  it('tunnels https through HTTPS_PROXY with CONNECT, with proxy credentials', async () => {
    const withCreds = proxyUrl.replace('http://', 'http://us%40er:p%3Ass@');
    const f = new HttpFetcher({ env: { https_proxy: withCreds }, ca: tlsFixture.ca });
    expect(text(await collect(f.fetch(`${tlsBase}/a%2Fb`, req())))).toBe('secure /a%2Fb');
    expect(log).toEqual([
      {
        line: `CONNECT ${tlsBase.slice('https://'.length)}`,
        auth: `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`,
      },
    ]);
  });

  it('a refused tunnel is FETCH without the proxy status and without credentials', async () => {
    const f = new HttpFetcher({ env: { HTTPS_PROXY: proxyUrl.replace('http://', 'http://u:hunter2@') } });
    const e = await rejection(collect(f.fetch('https://127.0.0.1:1/x', req())));
    expect(e.code).toBe('FETCH');
    expect((e as TufError & { status?: number }).status).toBeUndefined();
    expect(e.message).toContain('403');
    expect(errorText(e)).not.toContain('hunter2');
  });

  it('bypasses the proxy for NO_PROXY hosts', async () => {
    for (const noProxy of ['127.0.0.1', 'localhost, 127.0.0.1', '*', `127.0.0.1:${new URL(base).port}`]) {
      const f = new HttpFetcher({ env: { HTTP_PROXY: proxyUrl, NO_PROXY: noProxy } });
      expect(text(await collect(f.fetch(`${base}/hello`, req())))).toBe('hello world');
    }
    expect(log).toEqual([]);
    const f = new HttpFetcher({ env: { HTTP_PROXY: proxyUrl, no_proxy: '127.0.0.1:1' } });
    await collect(f.fetch(`${base}/hello`, req()));
    expect(log.length).toBe(1);
  });

  it('picks the proxy variable by scheme, ignores HTTP_PROXY under CGI, refuses non-http proxies', () => {
    const env = { HTTP_PROXY: 'http://p1:3128', HTTPS_PROXY: 'p2:8080', NO_PROXY: '.internal.test' };
    expect(proxyForUrl('http://example.com/x', env)).toBe('p1:3128');
    expect(proxyForUrl('https://example.com/x', env)).toBe('p2:8080');
    expect(proxyForUrl('https://a.internal.test/x', env)).toBeUndefined();
    expect(proxyForUrl('http://example.com/x', { ...env, REQUEST_METHOD: 'GET' })).toBeUndefined();
    expect(proxyForUrl('http://example.com/x', { ...env, REQUEST_METHOD: 'GET', http_proxy: 'p3' })).toBe(
      'p3:80',
    );
    expect(proxyForUrl('http://example.com/x', { http_proxy: '' })).toBeUndefined();
    expect(proxyForUrl('http://example.com/x', {})).toBeUndefined();
    expect(() => proxyForUrl('https://example.com/x', { HTTPS_PROXY: 'socks5://u:hunter2@p:1080' })).toThrow(
      /only http:\/\//,
    );
    try {
      proxyForUrl('https://example.com/x', { HTTPS_PROXY: 'socks5://u:hunter2@p:1080' });
    } catch (e) {
      expect(errorText(e)).not.toContain('hunter2');
    }
  });

  it('matches NO_PROXY entries like curl', () => {
    const cases: [string, number, string, boolean][] = [
      ['example.com', 443, 'example.com', true],
      ['www.example.com', 443, 'example.com', true],
      ['www.example.com', 443, '.example.com', true],
      ['www.example.com', 443, '*.example.com', true],
      ['example.com', 443, '.example.com', true],
      ['badexample.com', 443, 'example.com', false],
      ['EXAMPLE.com.', 443, 'example.COM', true],
      ['example.com', 443, 'example.com:8443', false],
      ['example.com', 8443, 'example.com:8443', true],
      ['10.0.0.1', 80, '10.0.0.1', true],
      ['110.0.0.1', 80, '0.0.1', false],
      ['::1', 80, '[::1]', true],
      ['::1', 80, '[::1]:80', true],
      ['anything', 80, ' * ', true],
      ['a.test', 80, 'b.test c.test,a.test', true],
      ['a.test', 80, '', false],
    ];
    for (const [host, port, noProxy, expected] of cases) {
      expect([host, port, noProxy, matchesNoProxy(host, port, noProxy)]).toEqual([
        host,
        port,
        noProxy,
        expected,
      ]);
    }
  });
});

describe('HttpFetcher.request', () => {
  const signal = () => new AbortController().signal;

  it('sends HEAD and reports the status and every header without a body', async () => {
    const r = await fetcher.request(`${base}/echo`, { method: 'HEAD', signal: signal() });
    r.close();
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-content-digest')).toEqual(['sha256:abc']);
    expect(r.headers.get('link')).toEqual(['<a>; rel="next"', '<b>; rel="other"']);
    expect(headersSeen.length).toBe(1);
  });

  it('sends GET with Accept and request headers over the configured ones, and reads the body', async () => {
    const f = new HttpFetcher({ env: {}, headers: { Authorization: 'Bearer configured', 'X-Kept': 'k' } });
    const r = await f.request(`${base}/echo`, {
      accept: 'application/vnd.oci.image.index.v1+json, application/json',
      headers: { authorization: SECRET },
      signal: signal(),
    });
    const got = JSON.parse(text(await r.read(1 << 20))) as {
      method: string;
      headers: Record<string, string>;
    };
    expect(got.method).toBe('GET');
    expect(got.headers['accept']).toBe('application/vnd.oci.image.index.v1+json, application/json');
    expect(got.headers['authorization']).toBe(SECRET);
    expect(got.headers['x-kept']).toBe('k');
    await expect(r.read(1 << 20)).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('reads any status, and cuts the body at maxLength on the bytes read', async () => {
    const missing = await fetcher.request(`${base}/missing`, { signal: signal() });
    expect(missing.status).toBe(404);
    expect(text(await missing.read(100))).toBe('no such file');
    const endless = await fetcher.request(`${base}/endless`, { signal: signal() });
    const e = await rejection(endless.read(100_000));
    expect(e.code).toBe('DOWNLOAD_LIMIT');
    expect(e.message).toContain('expected at most 100000 bytes');
  });

  it('POSTs a body with its type and length, and does not follow a redirect with it', async () => {
    const r = await fetcher.request(`${base}/echo`, {
      method: 'POST',
      body: { contentType: 'application/x-www-form-urlencoded', bytes: new TextEncoder().encode('a=1&b=2') },
      signal: signal(),
    });
    const got = JSON.parse(text(await r.read(1 << 20))) as {
      method: string;
      headers: Record<string, string>;
      body: string;
    };
    expect(got).toMatchObject({ method: 'POST', body: 'a=1&b=2' });
    expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(got.headers['content-length']).toBe('7');
    seen.length = 0;
    const redirected = await fetcher.request(`${base}/post-redirect`, {
      method: 'POST',
      body: { contentType: 'text/plain', bytes: new TextEncoder().encode('secret form') },
      signal: signal(),
    });
    redirected.close();
    expect(redirected.status).toBe(307);
    expect(seen).toEqual(['/post-redirect']);
  });

  it('PUTs a body with its type and length (uploads to a registry), and does not follow a redirect with it', async () => {
    const r = await fetcher.request(`${base}/echo`, {
      method: 'PUT',
      body: {
        contentType: 'application/vnd.oci.image.manifest.v1+json',
        bytes: new TextEncoder().encode('{}'),
      },
      signal: signal(),
    });
    const got = JSON.parse(text(await r.read(1 << 20))) as {
      method: string;
      headers: Record<string, string>;
      body: string;
    };
    expect(got).toMatchObject({ method: 'PUT', body: '{}' });
    expect(got.headers['content-type']).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(got.headers['content-length']).toBe('2');
    seen.length = 0;
    const redirected = await fetcher.request(`${base}/post-redirect`, {
      method: 'PUT',
      body: { contentType: 'text/plain', bytes: new TextEncoder().encode('x') },
      signal: signal(),
    });
    redirected.close();
    expect(redirected.status).toBe(307);
    expect(seen).toEqual(['/post-redirect']);
  });

  it('drops request headers after a redirect to another origin and keeps Accept', async () => {
    const port = new URL(base).port;
    const hop = http.createServer((_q, s) => {
      s.writeHead(302, { Location: `http://localhost:${port}/echo` }).end();
    });
    const hopBase = await listen(hop);
    try {
      const r = await fetcher.request(`${hopBase}/x`, {
        accept: 'application/json',
        headers: { Authorization: SECRET },
        signal: signal(),
      });
      const got = JSON.parse(text(await r.read(1 << 20))) as { headers: Record<string, string> };
      expect(r.crossOriginRedirect).toBe(true);
      expect(got.headers['authorization']).toBeUndefined();
      expect(got.headers['accept']).toBe('application/json');
    } finally {
      await close(hop);
    }
  });

  it('refuses bad methods, bodies on GET and invalid or reserved headers without echoing values', async () => {
    const bad = (r: Parameters<HttpFetcher['request']>[1]) => rejection(fetcher.request(`${base}/echo`, r));
    expect((await bad({ method: 'DELETE' as 'GET', signal: signal() })).code).toBe('USAGE');
    const body = { contentType: 'text/plain', bytes: new Uint8Array(1) };
    expect((await bad({ body, signal: signal() })).code).toBe('USAGE');
    const e = await bad({ headers: { Authorization: 'Bearer x\r\nInjected: s3cr3t' }, signal: signal() });
    expect(e.code).toBe('USAGE');
    expect(errorText(e)).not.toContain('s3cr3t');
    expect((await bad({ headers: { Host: 'evil' }, signal: signal() })).code).toBe('USAGE');
    expect(seen).toEqual([]);
  });
});
