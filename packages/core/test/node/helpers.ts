/** Shared fixtures for the Node adapter tests: servers on 127.0.0.1 port 0, TLS test keys. */
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type * as net from 'node:net';
import { join } from 'node:path';
import type { FetchRequest } from '../../src/client/fetcher.js';
import type { TufError } from '../../src/errors.js';

const repoRoot = new URL('../../../../', import.meta.url);

/** The throwaway TLS test certificates of test-vectors/tls (TEST ONLY). */
export const tlsFixture = {
  ca: readFileSync(new URL('test-vectors/tls/ca.pem', repoRoot), 'utf8'),
  cert: readFileSync(new URL('test-vectors/tls/server.pem', repoRoot), 'utf8'),
  key: readFileSync(new URL('test-vectors/tls/server-key.pem', repoRoot), 'utf8'),
};

export const packageVersion = (
  JSON.parse(readFileSync(new URL('packages/core/package.json', repoRoot), 'utf8')) as { version: string }
).version;

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

const accepted = new WeakMap<net.Server, Set<net.Socket>>();

/** Starts `server` on 127.0.0.1 with a free port; returns its base URL (`scheme://127.0.0.1:port`). */
export async function listen(server: net.Server, scheme = 'http'): Promise<string> {
  const sockets = new Set<net.Socket>();
  accepted.set(server, sockets);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return `${scheme}://127.0.0.1:${address.port}`;
}

/** Closes a server, cutting its open connections (tunnels and TLS sockets included). */
export async function close(server: net.Server): Promise<void> {
  for (const s of accepted.get(server) ?? []) s.destroy();
  if (!server.listening) return;
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Tracks every socket a server accepts, so tests can see when the client hung up. */
export function trackSockets(server: net.Server): { open: () => number; closed: Promise<void>[] } {
  const sockets = new Set<net.Socket>();
  const closed: Promise<void>[] = [];
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    closed.push(new Promise((resolve) => s.on('close', () => resolve())));
    s.on('close', () => sockets.delete(s));
  });
  return { open: () => sockets.size, closed };
}

/** Reads a whole stream. */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

/** A FetchRequest with a fresh signal. */
export function req(maxLength = 1 << 20, signal = new AbortController().signal): FetchRequest {
  return { signal, maxLength };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<TufError> {
  try {
    await p;
  } catch (e) {
    return e as TufError;
  }
  throw new Error('expected a rejection');
}

/** Every message and stack in an error's cause chain, for "no secret leaks" checks. */
export function errorText(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; cur !== undefined && i < 10; i++) {
    if (cur instanceof Error) {
      parts.push(String(cur), cur.message, cur.stack ?? '');
      cur = cur.cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join('\n');
}

/** Every entry under `dir`, recursively, as sorted relative paths (directories end in `/`). */
export async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        out.push(`${p}/`);
        await walk(p);
      } else {
        out.push(p);
      }
    }
  };
  await walk('');
  return out.sort();
}
