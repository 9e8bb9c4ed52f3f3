/**
 * The HTTP API of the trust server (docs/server.md, ADR 0021):
 *
 *   GET|HEAD BASE/<gun>/metadata/<file>   a static publish root's bytes (gzip when asked), with TUF caching headers
 *   POST     BASE/<gun>/metadata          an upload (JSON {"roles": [{"role", "metadata": base64}]})
 *   GET|POST BASE/<gun>/keys              the GUN's online public keys (POST creates them once)
 *   POST     BASE/<gun>/keys/<role>       the next snapshot or timestamp key (rotation through root)
 *   GET      BASE/_tufa/health | ready | changes?since=N&limit=M | metrics
 *
 * Every refusal is JSON `{"error": {"code", "message"}}` with the core's error codes and a 4xx
 * status; the server goes on serving. A failure of the server itself is a 500 whose details go to
 * the log only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DownloadLimitError,
  FormatError,
  isTufError,
  NotFoundError,
  parseJson,
  StaleVersionError,
  type TufError,
  UnsafeNameError,
} from '@tufa/core';
import type { Action, Authorizer } from './auth.js';
import { chooseCoding, gzipEtag, MIN_GZIP_BYTES } from './content-coding.js';
import { checkGun } from './gun.js';
import { Metrics } from './metrics.js';
import { ONLINE_ROLES, type OnlineRole } from './online-keys.js';
import type { TrustService, UploadedRole } from './service.js';
import type { MetadataFile } from './store.js';

/** The largest upload body accepted by default: 16 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** `Cache-Control` of committed versions (`N.ROLE.json` the store vouches for: MetadataFile.immutable). */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** `Cache-Control` of the mutable entry points (`timestamp.json`, unversioned names). */
export const REVALIDATE = 'no-cache';

export interface HandlerOptions {
  service: TrustService;
  authorizer: Authorizer;
  /** The path prefix of every route, `/` or `/something/` (default `/`). */
  basePath?: string;
  /** Default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
  metrics?: Metrics;
  /** Where the server's own failures are described (never a request's credentials). */
  log?: (line: string) => void;
  /** False while the server is shutting down: readiness then answers 503. */
  ready?: () => boolean;
}

/** A refusal the handler answers with, from a TufError or an auth verdict. */
class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The status that answers a TufError: by its category, and a few codes of their own. */
export function statusOf(e: TufError): number {
  if (e.code === 'CONFLICT') return 409;
  if (e.code === 'DOWNLOAD_LIMIT') return 413;
  if (e.code === 'NOT_FOUND') return 404;
  if (e.category === 'untrusted' || e.category === 'usage') return 400;
  return 500;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const bytes = Buffer.from(`${JSON.stringify(body)}\n`);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': bytes.length,
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(bytes);
}

/** Reads a request body, at most `max` bytes counted as they arrive. */
async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    throw new DownloadLimitError(`the body is ${declared} bytes, more than the ${max} accepted`);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) throw new DownloadLimitError(`the body is more than the ${max} bytes accepted`);
    parts.push(chunk);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** Strict base64 (RFC 4648 with padding): anything that does not round-trip is refused. */
function decodeBase64(text: string, where: string): Uint8Array {
  const b = Buffer.from(text, 'base64');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || b.toString('base64') !== text) {
    throw new FormatError('expected standard base64 with padding', where);
  }
  return new Uint8Array(b);
}

/** The upload body: `{"roles": [{"role": "<name>", "metadata": "<base64 of the file>"}]}`. */
export function parseUploadBody(bytes: Uint8Array): UploadedRole[] {
  const v = parseJson(bytes) as unknown;
  const isObject = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObject(v)) throw new FormatError('expected a JSON object {"roles": [...]}');
  for (const k of Object.keys(v))
    if (k !== 'roles') throw new FormatError(`unknown field ${JSON.stringify(k)}`);
  const roles = v.roles;
  if (!Array.isArray(roles)) throw new FormatError('expected an array', 'roles');
  return roles.map((r: unknown, i) => {
    if (!isObject(r)) throw new FormatError('expected an object {"role", "metadata"}', `roles[${i}]`);
    for (const k of Object.keys(r)) {
      if (k !== 'role' && k !== 'metadata')
        throw new FormatError(`unknown field ${JSON.stringify(k)}`, `roles[${i}]`);
    }
    if (typeof r.role !== 'string') throw new FormatError('expected a role name', `roles[${i}].role`);
    if (typeof r.metadata !== 'string') throw new FormatError('expected base64', `roles[${i}].metadata`);
    return { role: r.role, bytes: decodeBase64(r.metadata, `roles[${i}].metadata`) };
  });
}

/** A route, parsed from the path after the base. */
type Route =
  | { kind: 'file'; gun: string; file: string }
  | { kind: 'upload'; gun: string }
  | { kind: 'keys'; gun: string }
  | { kind: 'rotate'; gun: string; role: OnlineRole }
  | { kind: 'system'; name: string };

function parseRoute(rest: string): Route {
  const segments = rest.split('/');
  if (segments[0] === '_tufa' && segments.length === 2)
    return { kind: 'system', name: segments[1] as string };
  const last = segments.at(-1) as string;
  const gunOf = (n: number) => checkGun(segments.slice(0, segments.length - n).join('/'));
  if (segments.length >= 3 && segments.at(-2) === 'metadata') {
    let file: string;
    try {
      file = decodeURIComponent(last);
    } catch {
      throw new UnsafeNameError(`the file name ${JSON.stringify(last)} is not valid percent-encoding`);
    }
    if (file === '' || file.startsWith('.') || /[/\\\0]/.test(file)) {
      throw new UnsafeNameError(`the file name ${JSON.stringify(file)} is not a metadata file name`);
    }
    return { kind: 'file', gun: gunOf(2), file };
  }
  if (segments.length >= 2 && last === 'metadata') return { kind: 'upload', gun: gunOf(1) };
  if (segments.length >= 2 && last === 'keys') return { kind: 'keys', gun: gunOf(1) };
  if (segments.length >= 3 && segments[segments.length - 2] === 'keys') {
    if (!(ONLINE_ROLES as readonly string[]).includes(last)) {
      throw new NotFoundError(
        `no online key ${JSON.stringify(last)}: the server holds ${ONLINE_ROLES.join(' and ')} keys`,
      );
    }
    return { kind: 'rotate', gun: gunOf(2), role: last as OnlineRole };
  }
  throw new NotFoundError(`no such route: ${JSON.stringify(`/${rest}`)}`);
}

/**
 * Only what the store vouches for as a committed version is immutable: a name `N.ROLE.json` is
 * not enough (a crashed upload's leftover, replaced by the next publish of that version, or a
 * role named "2024.releases" in a repository without consistent snapshots), and an HTTP cache
 * would keep such bytes for a year.
 */
function cacheControl(file: MetadataFile): string {
  return file.immutable === true ? IMMUTABLE : REVALIDATE;
}

/**
 * Whether an `If-None-Match` list names `etag` (strong comparison: the exact quoted sha256, with
 * `-gzip` for the gzip form; the identity form's ETag does not revalidate the gzip form).
 */
function matchesEtag(header: string, etag: string): boolean {
  if (header === etag) return true;
  return header.split(',').some((t) => t.trim() === etag);
}

/**
 * Whether a file is worth compressing. `timestamp.json` never is (ADR 0027): a few hundred bytes
 * signed by the server's own key, one TCP segment either way, read from the database on every GET
 * with PostgreSQL, so its gzip form could not be kept and would be made again per answer on the
 * most requested file of all. Other files of MIN_GZIP_BYTES or more are: JSON that size always
 * shrinks (every entry repeats the same key names).
 */
function gainsFromGzip(file: string, served: MetadataFile): boolean {
  return file !== 'timestamp.json' && served.bytes.length >= MIN_GZIP_BYTES;
}

function methodNotAllowed(allow: string): HttpRefusal {
  return new HttpRefusal(405, 'USAGE', `method not allowed here (allowed: ${allow})`, { Allow: allow });
}

/** The request handler of the trust server, for `http.createServer` or `https.createServer`. */
export function createHandler(options: HandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const base = options.basePath ?? '/';
  if (!base.startsWith('/') || !base.endsWith('/'))
    throw new FormatError(`the base path must start and end with "/", found ${JSON.stringify(base)}`);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const metrics = options.metrics ?? new Metrics();
  const log = options.log ?? (() => {});
  const { service, authorizer } = options;

  const authorize = async (req: IncomingMessage, gun: string, action: Action) => {
    const d = await authorizer.authorize(req.headers.authorization, gun, action);
    if (d.allowed) return;
    if (d.status === 401) {
      throw new HttpRefusal(401, 'UNAUTHORIZED', d.message, {
        'WWW-Authenticate': authorizer.challenge(gun, action),
      });
    }
    throw new HttpRefusal(403, 'DENIED', d.message);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, routeName: (n: string) => void) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!path.startsWith(base)) throw new NotFoundError(`no such route: ${JSON.stringify(path)}`);
    const route = parseRoute(path.slice(base.length));
    routeName(route.kind === 'system' ? route.name : route.kind);
    const method = req.method ?? 'GET';
    switch (route.kind) {
      case 'system': {
        if (method !== 'GET') throw methodNotAllowed('GET');
        if (route.name === 'health') return sendJson(res, 200, { status: 'ok' });
        if (route.name === 'ready') {
          const ready = options.ready?.() ?? true;
          return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'stopping' });
        }
        if (route.name === 'metrics') {
          const body = Buffer.from(metrics.render());
          res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': body.length });
          return res.end(body);
        }
        if (route.name === 'changes') {
          const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
          const since = Number(query.get('since') ?? '0');
          const limit = Math.min(Number(query.get('limit') ?? '1000'), 1000);
          if (!Number.isSafeInteger(since) || since < 0 || !Number.isSafeInteger(limit) || limit < 1) {
            throw new FormatError('expected since >= 0 and limit from 1 to 1000 (integers)', 'query');
          }
          const all = await service.store.changes(since, limit);
          // A caller sees the changes of the GUNs it may pull, and nothing of the others.
          const visible = [];
          for (const c of all) {
            const d = await authorizer.authorize(req.headers.authorization, c.gun, 'pull');
            if (d.allowed) visible.push(c);
          }
          const next = all.at(-1)?.id ?? since;
          return sendJson(res, 200, { changes: visible, next });
        }
        throw new NotFoundError(`no such route: ${JSON.stringify(path)}`);
      }
      case 'file': {
        if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
        await authorize(req, route.gun, 'pull');
        const found = await service.store.readMetadata(route.gun, route.file);
        if (!found)
          throw new NotFoundError(`${route.gun} has no metadata file ${JSON.stringify(route.file)}`);
        const accept = req.headers['accept-encoding'];
        const coding = chooseCoding(accept, gainsFromGzip(route.file, found));
        if (coding === undefined) {
          throw new HttpRefusal(
            406,
            'USAGE',
            `expected an Accept-Encoding that accepts gzip or identity, found ${JSON.stringify(accept)}`,
          );
        }
        const gzip = coding === 'gzip';
        // Each form has its own strong ETag, known without compressing: a revalidation of the
        // gzip form is answered before anything is compressed.
        const etag = gzip ? gzipEtag(found.sha256) : found.etag;
        // Headers as a flat array: no object to copy and no name to normalise per answer. Vary
        // on every answer, compressed or not, so a cache on the way keeps the two forms apart.
        const headers = [
          'Content-Type',
          'application/json',
          'Cache-Control',
          cacheControl(found),
          'ETag',
          etag,
          'Vary',
          'Accept-Encoding',
        ];
        const inm = req.headers['if-none-match'];
        if (inm !== undefined && matchesEtag(inm, etag)) {
          res.writeHead(304, headers);
          return res.end();
        }
        const body = gzip ? (await service.store.gzip(route.gun, route.file, found)).bytes : found.bytes;
        if (gzip) headers.push('Content-Encoding', 'gzip');
        headers.push('Content-Length', String(body.length));
        res.writeHead(200, headers);
        return res.end(method === 'HEAD' ? undefined : body);
      }
      case 'keys': {
        if (method !== 'GET' && method !== 'POST') throw methodNotAllowed('GET, POST');
        await authorize(req, route.gun, method === 'POST' ? 'push' : 'pull');
        const keys = await service.onlineKeys(route.gun, method === 'POST');
        return sendJson(res, 200, {
          gun: route.gun,
          keys: [
            { role: 'snapshot', keyid: keys.snapshot.keyid(), key: keys.snapshot.toJSON() },
            { role: 'timestamp', keyid: keys.timestamp.keyid(), key: keys.timestamp.toJSON() },
          ],
        });
      }
      case 'rotate': {
        if (method !== 'POST') throw methodNotAllowed('POST');
        await authorize(req, route.gun, 'push');
        const next = await service.rotateOnlineKey(route.gun, route.role);
        return sendJson(res, 200, {
          gun: route.gun,
          role: next.role,
          keyid: next.key.keyid(),
          key: next.key.toJSON(),
        });
      }
      case 'upload': {
        if (method !== 'POST') throw methodNotAllowed('POST');
        await authorize(req, route.gun, 'push');
        const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
        if (type !== 'application/json') {
          throw new HttpRefusal(
            415,
            'FORMAT',
            `expected Content-Type application/json, found ${JSON.stringify(type ?? '')}`,
          );
        }
        const roles = parseUploadBody(await readBody(req, maxBody));
        const { versions, change } = await service.upload(route.gun, roles);
        metrics.upload('accepted');
        return sendJson(res, 200, { gun: route.gun, versions, change: change.id });
      }
    }
  };

  return (req, res) => {
    let route = 'unknown';
    const done = (status: number) => metrics.request(route, status);
    res.on('finish', () => done(res.statusCode));
    handle(req, res, (n) => {
      route = n;
    }).catch((e: unknown) => {
      if (route === 'upload') metrics.upload('refused');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // An unread body must not be taken for the next request on this connection.
      const close: Record<string, string> = req.complete ? {} : { Connection: 'close' };
      if (e instanceof HttpRefusal) {
        return sendJson(
          res,
          e.status,
          { error: { code: e.code, message: e.message } },
          { ...e.headers, ...close },
        );
      }
      if (isTufError(e)) {
        const status = statusOf(e);
        if (status < 500) {
          const body: Record<string, unknown> = { error: { code: e.code, message: e.message } };
          if (e instanceof StaleVersionError) body.current = { role: e.role, version: e.current };
          return sendJson(res, status, body, close);
        }
      }
      log(
        `${req.method} ${(req.url ?? '').split('?')[0]}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
      );
      sendJson(
        res,
        500,
        { error: { code: 'INTERNAL', message: 'the server failed to handle the request (see its log)' } },
        close,
      );
    });
  };
}
