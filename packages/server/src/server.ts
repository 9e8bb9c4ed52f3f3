/**
 * Starting and stopping a trust server: the store, the online keys, the HTTP listener and the
 * timestamp refresher, with a shutdown that lets requests in flight finish.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type ExpiryPolicy, type Signer, UsageError } from '@tufa/core';
import { AllowAll, type Authorizer } from './auth.js';
import { createHandler } from './http.js';
import { Metrics } from './metrics.js';
import { OnlineKeys, type OnlineRole } from './online-keys.js';
import { PostgresStore } from './postgres-store.js';
import { TrustService } from './service.js';
import { DirectoryStore, type ServerStore } from './store.js';

export interface TrustServerOptions {
  /**
   * The store: a directory (created if missing), or a `postgres://` URL without a password
   * (the password from `PGPASSWORD` or a password file).
   */
  store: string;
  /** The passphrase online keys are encrypted with (from the environment, never argv). */
  keyPassphrase: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  authorizer?: Authorizer;
  basePath?: string;
  maxBodyBytes?: number;
  /** How often the refresher visits every GUN, in ms (default 60 000; 0: never). */
  refreshIntervalMs?: number;
  expiry?: Partial<Pick<ExpiryPolicy, 'snapshot' | 'timestamp'>>;
  now?: () => Date;
  /**
   * The operator's online keys instead of generated ones, per role, for every GUN (oldest first;
   * see OnlineKeyOptions.given): key files, `env:` or `pkcs11:` signers.
   */
  onlineSigners?: Partial<Record<OnlineRole, readonly Signer[]>>;
  /**
   * Bytes of metadata files the server keeps in memory to answer GETs (default 128 MiB; 0:
   * none): committed versioned files, and in the directory store the entry points, checked
   * against the file on every GET (ADR 0027).
   */
  metadataCacheBytes?: number;
  /**
   * How many GUNs' verified published state is kept between uploads (default 256; 0: none).
   * See TrustServiceOptions.repositoryCacheSize.
   */
  repositoryCacheSize?: number;
  /**
   * The bytes of published metadata those kept repositories may hold together (default 64 MiB).
   * See TrustServiceOptions.repositoryCacheBytes.
   */
  repositoryCacheBytes?: number;
  /** scrypt N of new online key files (tests pass 2^10). */
  scryptN?: number;
  log?: (line: string) => void;
  /**
   * Serve HTTPS with this certificate chain and private key (PEM). Without it the server speaks
   * plain HTTP, for loopback or behind a proxy that terminates TLS: bearer tokens and uploads
   * must not cross a network in clear.
   */
  tls?: { cert: string; key: string };
}

/** A running trust server. */
export interface RunningTrustServer {
  /** The base URL clients use (`http://HOST:PORT/BASE`, `https://` with `tls`). */
  url: string;
  service: TrustService;
  http: Server;
  /** Stops taking connections, finishes requests in flight, stops the refresher, releases the store. */
  close(): Promise<void>;
}

/**
 * An HTTPS listener; TLS 1.2 at least (what every supported client speaks). A certificate or key
 * that OpenSSL cannot use, or a key that is not the certificate's, is a UsageError saying so
 * (OpenSSL's own words kept, since they name the problem) rather than a failure at the first
 * connection. Shared with the CLI's read-only server.
 */
export function tlsServer(
  tls: { cert: string; key: string },
  handler: Parameters<typeof createServer>[1],
): Server {
  try {
    return createTlsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handler);
  } catch (e) {
    throw new UsageError(`the TLS certificate and key cannot be used: ${(e as Error).message}`);
  }
}

/**
 * Opens the store (refusing a directory another server process holds) and starts listening.
 * @throws {ConflictError} another server serves the directory.
 */
export async function startTrustServer(options: TrustServerOptions): Promise<RunningTrustServer> {
  const log = options.log ?? (() => {});
  const cache =
    options.metadataCacheBytes !== undefined ? { metadataCacheBytes: options.metadataCacheBytes } : {};
  const store: ServerStore = /^postgres(ql)?:\/\//.test(options.store)
    ? await PostgresStore.open({ connectionString: options.store, ...cache })
    : await DirectoryStore.open(options.store, cache);
  let keys: OnlineKeys;
  try {
    keys = new OnlineKeys(store, {
      passphrase: options.keyPassphrase,
      ...(options.scryptN !== undefined ? { scryptN: options.scryptN } : {}),
      ...(options.onlineSigners ? { given: options.onlineSigners } : {}),
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const metrics = new Metrics();
  const service = new TrustService({
    store,
    keys,
    ...(options.now ? { now: options.now } : {}),
    ...(options.expiry ? { expiry: options.expiry } : {}),
    ...(options.repositoryCacheSize !== undefined
      ? { repositoryCacheSize: options.repositoryCacheSize }
      : {}),
    ...(options.repositoryCacheBytes !== undefined
      ? { repositoryCacheBytes: options.repositoryCacheBytes }
      : {}),
    onRefreshError: (gun, e) => {
      metrics.refresh('failed');
      log(`refresh of ${gun} failed: ${e instanceof Error ? e.message : String(e)}`);
    },
    onRetireError: (gun, e) =>
      log(
        `destroying the replaced online keys of ${gun} failed: ${e instanceof Error ? e.message : String(e)}`,
      ),
  });
  let stopping = false;
  const handler = createHandler({
    service,
    authorizer: options.authorizer ?? new AllowAll(),
    metrics,
    log,
    ready: () => !stopping,
    ...(options.basePath ? { basePath: options.basePath } : {}),
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
  });
  let http: Server;
  try {
    http = options.tls ? tlsServer(options.tls, handler) : createServer(handler);
  } catch (e) {
    await store.close();
    throw e;
  }
  // During a shutdown a keep-alive connection is closed as soon as its request is answered,
  // instead of after the keep-alive timeout.
  http.on('request', (_req, res) => {
    res.on('finish', () => {
      if (stopping) setImmediate(() => http.closeIdleConnections());
    });
  });
  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((ok, fail) => {
      http.once('error', fail);
      http.listen(options.port ?? 0, host, () => {
        http.off('error', fail);
        ok();
      });
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  const { port } = http.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `${options.tls ? 'https' : 'http'}://${shownHost}:${port}${options.basePath ?? '/'}`;

  // The refresher: one visit at a time; a visit still running when the timer fires is not doubled.
  let visiting: Promise<unknown> | undefined;
  const interval = options.refreshIntervalMs ?? 60_000;
  const visit = () => {
    if (visiting || stopping) return;
    visiting = service
      .refreshAll()
      .then(({ refreshed }) => {
        for (let i = 0; i < refreshed; i++) metrics.refresh('signed');
      })
      .catch((e) => log(`refresh failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        visiting = undefined;
      });
  };
  const timer = interval > 0 ? setInterval(visit, interval) : undefined;
  timer?.unref();
  if (interval > 0) visit();

  return {
    url,
    service,
    http,
    async close() {
      stopping = true;
      if (timer) clearInterval(timer);
      await new Promise<void>((done) => {
        http.close(() => done());
        http.closeIdleConnections();
      });
      await visiting;
      await store.close();
    },
  };
}
