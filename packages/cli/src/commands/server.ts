/**
 * `tufa server`: the trust server (@tufa/server, ADR 0021, docs/server.md). With `--store DIR`
 * it serves and takes uploads for every GUN under DIR, holding their online keys; with
 * `--read-only DIR` it serves a publish root as `tufa serve` does (which stays as an alias).
 * Secrets come from the environment only: the online-key passphrase
 * (`TUFA_SERVER_KEY_PASSPHRASE`) and, instead of `--tokens FILE`, the token list
 * (`TUFA_SERVER_TOKENS`).
 */
import { readFile } from 'node:fs/promises';
import { isLoopbackUrl, isTufError, type Signer } from '@tufa/core';
import {
  AllowAll,
  type Authorizer,
  parseStaticTokens,
  RegistryTokenAuthorizer,
  StaticTokenAuthorizer,
  startTrustServer,
} from '@tufa/server';
import { CliError, usage } from '../cli-error.js';
import { defineCommand, option, type RegisteredCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { loadSigner } from '../keys.js';
import { collect, positiveInt } from '../options.js';
import { secretsFromEnvironment } from '../secrets.js';
import { onInterrupt } from '../signals.js';
import { serveReadOnly } from '../static-server.js';

const PASSPHRASE_ENV = 'TUFA_SERVER_KEY_PASSPHRASE';
const TOKENS_ENV = 'TUFA_SERVER_TOKENS';

/** `HOST:PORT`, `[IPv6]:PORT`; port 0 picks a free one. */
function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw usage(`--listen: expected HOST:PORT (port 0 picks a free one), found ${JSON.stringify(value)}`);
  return { host: (m[1] ?? m[2]) as string, port };
}

async function authorizerFrom(
  file: string | undefined,
  anonymousRead: boolean,
): Promise<Authorizer | undefined> {
  let bytes: Uint8Array | undefined;
  let source = '';
  if (file !== undefined) {
    source = file;
    bytes = await readFile(file).catch((e: unknown) => {
      throw new CliError(
        `cannot read the token file ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
        EXIT.IO,
      );
    });
  } else if (process.env[TOKENS_ENV]) {
    source = TOKENS_ENV;
    bytes = new TextEncoder().encode(process.env[TOKENS_ENV]);
  }
  if (!bytes) return undefined;
  try {
    return new StaticTokenAuthorizer(parseStaticTokens(bytes), { anonymousPull: anonymousRead });
  } catch (e) {
    if (isTufError(e)) {
      throw new CliError(
        `${source}: ${e.message}`,
        EXIT.USAGE,
        'the token list is a JSON array of {"sha256": "<hex of the token>", "scopes": ["repository:<gun>:pull,push"]}',
      );
    }
    throw e;
  }
}

async function registryAuthorizer(
  file: string,
  options: { issuer: string; audience: string; realm: string; anonymousPull: boolean },
): Promise<Authorizer> {
  const certificates = await readFile(file, 'utf8').catch((e: unknown) => {
    throw new CliError(
      `cannot read the token certificates ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      EXIT.IO,
    );
  });
  try {
    return new RegistryTokenAuthorizer({ certificates, ...options });
  } catch (e) {
    throw new CliError(
      `${file}: ${(e as Error).message}`,
      EXIT.USAGE,
      '--token-certs is the PEM bundle the registry names as rootcertbundle',
    );
  }
}

/** `--tls-cert` and `--tls-key` together, read as PEM text; neither: plain HTTP. */
async function tlsFrom(cert: string | undefined, key: string | undefined) {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw usage(
      `--tls-cert and --tls-key go together (found only ${cert === undefined ? '--tls-key' : '--tls-cert'})`,
      'tufa server … --tls-cert server.pem --tls-key server-key.pem',
    );
  }
  const read = (file: string, what: string) =>
    readFile(file, 'utf8').catch((e: unknown) => {
      throw new CliError(
        `cannot read the TLS ${what} ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
        EXIT.IO,
      );
    });
  return { cert: await read(cert, 'certificate'), key: await read(key, 'key') };
}

/** `--metadata-cache` in MiB as bytes; more than the process could hold is a typo, not a setting. */
function metadataCacheBytes(mib: number): number {
  if (mib > 65_536) {
    throw usage(`--metadata-cache: expected at most 65536 MiB (64 GiB), found ${mib}`);
  }
  return mib * 1024 * 1024;
}

/** The most repositories `--repository-cache` keeps: more is a typo, not a setting. */
const MAX_REPOSITORY_CACHE = 1_000_000;
/** The most memory `--repository-cache-mib` may give the kept repositories (64 GiB). */
const MAX_REPOSITORY_CACHE_MIB = 65_536;

/** `--repository-cache COUNT`: how many GUNs' verified published state is kept between uploads. */
function repositoryCount(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n > MAX_REPOSITORY_CACHE) {
    throw usage(
      `--repository-cache: expected a whole number of repositories from 0 to ${MAX_REPOSITORY_CACHE}, found ${JSON.stringify(value)}`,
      'tufa server … --repository-cache 256 (0 keeps none: every upload reads its repository again)',
    );
  }
  return n;
}

/** `--repository-cache-mib MIB`: the published metadata the kept repositories hold together. */
function repositoryCacheMib(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n > MAX_REPOSITORY_CACHE_MIB) {
    throw usage(
      `--repository-cache-mib: expected a whole number of MiB from 0 to ${MAX_REPOSITORY_CACHE_MIB}, found ${JSON.stringify(value)}`,
      'tufa server … --repository-cache-mib 64',
    );
  }
  return n;
}

/** A database URL must not carry its password: URLs end up in argv, logs and process lists. */
function checkNoPassword(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usage('--store: expected a directory or postgres://[USER@]HOST[:PORT]/DATABASE');
  }
  if (u.password !== '') {
    throw usage(
      '--store: the database URL carries a password (command lines are visible to other users)',
      'give the password in PGPASSWORD or a password file (PGPASSFILE), or the whole URL in TUFA_SERVER_DATABASE_URL',
    );
  }
  return url;
}

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'server',
    description: 'run the trust server: serve and take uploads of TUF metadata for many repositories',
    arguments: [],
    options: [
      option('--listen <host:port>', 'address and port to listen on (port 0 picks a free one)', {
        default: '127.0.0.1:8080',
      }),
      option(
        '--store <dir|url>',
        'a directory holding every repository (one server process per directory), or postgres://[USER@]HOST[:PORT]/DB (password from PGPASSWORD or a password file)',
      ),
      option('--read-only <dir>', 'serve a publish root read-only instead (what `tufa serve` does)'),
      option('--tokens <file>', `static tokens with per-repository scopes (or ${TOKENS_ENV})`),
      option('--anonymous-read', 'with tokens: let requests without a token read metadata'),
      option('--token-certs <file>', "registry tokens: the token service's certificate bundle (PEM)"),
      option('--token-issuer <iss>', 'registry tokens: the issuer (iss) the token service writes'),
      option('--token-service <aud>', 'registry tokens: the service (aud) the tokens are for'),
      option('--token-realm <url>', 'registry tokens: where clients get tokens (named in 401 challenges)'),
      option('--base-path <path>', 'the path prefix of every route', { default: '/' }),
      option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM; with --tls-key)'),
      option('--tls-key <file>', 'the private key of --tls-cert (PEM, unencrypted; keep it 0600)'),
      option(
        '--snapshot-key <ref>',
        "sign every GUN's snapshot with this key instead of generated ones (file, env:, pkcs11:; repeatable, newest last)",
        { parse: collect },
      ),
      option(
        '--timestamp-key <ref>',
        "sign every GUN's timestamp with this key instead of generated ones (file, env:, pkcs11:; repeatable, newest last)",
        { parse: collect },
      ),
      option('--unsafe-no-auth', 'take uploads from anyone on a non-loopback address (no tokens)'),
      option(
        '--metadata-cache <MiB>',
        'memory for committed metadata files answered without reading the store (default 128; 0: off)',
        { parse: positiveInt },
      ),
      option(
        '--repository-cache <count>',
        'repositories whose verified published state is kept between uploads (default 256; 0: none)',
        { parse: repositoryCount },
      ),
      option(
        '--repository-cache-mib <MiB>',
        'memory for the published metadata those repositories hold together (default 64)',
        { parse: repositoryCacheMib },
      ),
    ],
    async handler(ctx, _args, opts) {
      const { host, port } = parseListen(opts.listen);
      const tls = await tlsFrom(opts.tlsCert, opts.tlsKey);
      if (opts.readOnly !== undefined) {
        if (opts.store !== undefined) throw usage('--store and --read-only exclude each other');
        return serveReadOnly(ctx, opts.readOnly, host, port, tls);
      }
      const fromEnv = process.env['TUFA_SERVER_DATABASE_URL'];
      if (opts.store === undefined && !fromEnv) {
        throw usage(
          'tufa server needs --store DIR|postgres://HOST/DB, TUFA_SERVER_DATABASE_URL, or --read-only DIR',
          'tufa server --listen 127.0.0.1:8080 --store ./trust',
        );
      }
      if (opts.store !== undefined && /^postgres(ql)?:/.test(opts.store)) checkNoPassword(opts.store);
      const store = opts.store ?? (fromEnv as string);
      const shownStore = opts.store ?? 'TUFA_SERVER_DATABASE_URL';
      const passphrase = process.env[PASSPHRASE_ENV];
      if (!passphrase) {
        throw new CliError(
          `no passphrase for the online keys (${PASSPHRASE_ENV} is not set)`,
          EXIT.KEY,
          `export ${PASSPHRASE_ENV}=<a long random secret, kept with the store's backups>`,
        );
      }
      const registry = [opts.tokenCerts, opts.tokenIssuer, opts.tokenService, opts.tokenRealm];
      if (registry.some((v) => v !== undefined) && registry.some((v) => v === undefined)) {
        throw usage(
          'registry tokens need --token-certs, --token-issuer, --token-service and --token-realm together',
        );
      }
      if (opts.tokenCerts !== undefined && opts.tokens !== undefined) {
        throw usage('give static tokens (--tokens) or registry tokens (--token-certs …), not both');
      }
      const authorizer =
        opts.tokenCerts !== undefined
          ? await registryAuthorizer(opts.tokenCerts, {
              issuer: opts.tokenIssuer as string,
              audience: opts.tokenService as string,
              realm: opts.tokenRealm as string,
              anonymousPull: opts.anonymousRead === true,
            })
          : await authorizerFrom(opts.tokens, opts.anonymousRead === true);
      const loopback = isLoopbackUrl(new URL(`http://${host.includes(':') ? `[${host}]` : host}/`));
      if (!authorizer && !loopback && opts.unsafeNoAuth !== true) {
        throw usage(
          `no tokens given: anyone who reaches ${host} could upload metadata and create keys`,
          `give --tokens FILE (or ${TOKENS_ENV}); or --unsafe-no-auth behind a proxy that authorises`,
        );
      }
      const cacheBytes =
        opts.metadataCache === undefined ? undefined : metadataCacheBytes(opts.metadataCache);
      // Loaded (and unlocked: passphrases and PINs from the environment) before listening, so a
      // key that cannot be used stops the start rather than the first upload.
      const onlineSigners: Partial<Record<'snapshot' | 'timestamp', Signer[]>> = {};
      const secrets = secretsFromEnvironment();
      for (const [role, refs] of [
        ['snapshot', opts.snapshotKey],
        ['timestamp', opts.timestampKey],
      ] as const) {
        if (refs === undefined) continue;
        onlineSigners[role] = [];
        for (const ref of refs) onlineSigners[role].push(await loadSigner(ref, secrets));
      }
      let running: Awaited<ReturnType<typeof startTrustServer>>;
      try {
        running = await startTrustServer({
          store,
          keyPassphrase: passphrase,
          host,
          port,
          basePath: opts.basePath,
          authorizer: authorizer ?? new AllowAll(),
          ...(tls ? { tls } : {}),
          onlineSigners,
          ...(cacheBytes !== undefined ? { metadataCacheBytes: cacheBytes } : {}),
          ...(opts.repositoryCache !== undefined ? { repositoryCacheSize: opts.repositoryCache } : {}),
          ...(opts.repositoryCacheMib !== undefined
            ? { repositoryCacheBytes: opts.repositoryCacheMib * 1024 * 1024 }
            : {}),
          log: (line) => process.stderr.write(`${line}\n`),
        });
      } catch (e) {
        if (isTufError(e) && e.code === 'CONFLICT') {
          throw new CliError(e.message, EXIT.CONFLICT, 'stop the other server, or give another --store');
        }
        if (isTufError(e) && e.code === 'USAGE') throw new CliError(e.message, EXIT.USAGE);
        if (!isTufError(e)) {
          throw new CliError(`cannot listen on ${opts.listen} (${(e as Error).message})`, EXIT.IO);
        }
        throw e;
      }
      ctx.out.result(
        { url: running.url, store: shownStore },
        () => `tufa server at ${running.url} (store ${shownStore}; Ctrl-C to stop)`,
      );
      // Requests in flight finish; then the store is released.
      await new Promise<void>((done) => {
        onInterrupt(() => {
          running.close().then(done, done);
        });
      });
      return EXIT.OK;
    },
  }),
];
