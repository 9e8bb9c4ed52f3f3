/**
 * A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution registry 2.8)
 * started as a child process on 127.0.0.1 port 0 with filesystem storage in a temp dir, in one
 * of three modes — anonymous, htpasswd (bcrypt) or token auth with the small token issuer below —
 * and images pushed into it with `skopeo copy` from OCI layouts written here.
 *
 * Shared by the @tufa/oci tests and (later) the CLI tests. Tests that use it skip when the
 * tools are missing, except under CI=true, where `requireRegistryTools()` fails them.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash, createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import bcrypt from 'bcryptjs';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const SKOPEO_BIN = '/usr/bin/skopeo';

function onPath(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether docker-registry, skopeo and openssl are installed. */
export const HAVE_REGISTRY_TOOLS = existsSync(REGISTRY_BIN) && existsSync(SKOPEO_BIN) && onPath('openssl');

/** Call at the top of a test file: under CI=true missing tools fail the run instead of skipping it. */
export function requireRegistryTools(): void {
  if (!HAVE_REGISTRY_TOOLS && process.env['CI'] === 'true') {
    throw new Error(
      'docker-registry, skopeo and openssl are required under CI=true (apt-get install -y docker-registry skopeo openssl)',
    );
  }
}

export interface User {
  username: string;
  password: string;
}

// ---------------------------------------------------------------------------------------------
// Token issuer

export interface TokenRequestSeen {
  method: string;
  /** Path and query as received. */
  url: string;
  authorization: string | undefined;
  /** The form of a POST, as received. */
  body: string;
}

export interface TokenIssuer {
  /** The realm URL the registry names in its challenge. */
  realm: string;
  service: string;
  issuer: string;
  /** PEM of the self-signed certificate whose key signs the tokens (the registry's rootcertbundle). */
  certificatePath: string;
  /** libtrust's fingerprint of the signing key: the `kid` docker_auth and GitLab send. */
  libtrustKeyId: string;
  /** Every token request, in order. */
  requests: TokenRequestSeen[];
  stop(): Promise<void>;
}

export interface TokenIssuerOptions {
  /** Host in the realm URL (the issuer listens on 127.0.0.1; `localhost` reaches it too). Default 127.0.0.1. */
  realmHost?: string;
  users?: readonly User[];
  /** Identity (refresh) tokens → user name, for the OAuth2 POST. */
  refreshTokens?: ReadonlyMap<string, string>;
  /** Whether an anonymous request gets pull access. Default false (anonymous gets no access). */
  anonymousPull?: boolean;
  /**
   * How tokens name their signing key: absent, by its certificate in `x5c`; `libtrust`, by a
   * `kid` that is libtrust's fingerprint (as docker_auth and GitLab do); `thumbprint`, by its
   * RFC 7638 JWK thumbprint (distribution 3); another string, by that `kid`.
   */
  kid?: 'libtrust' | 'thumbprint' | (string & {});
  /** Certificate validity in days (openssl -days). Default 2. */
  days?: number;
}

/**
 * libtrust's key fingerprint, written here independently of the server's (the registry, which
 * checks it, is the oracle): SHA-256 of the DER public key, 240 bits, base32, groups of four.
 */
function libtrustFingerprint(spki: Buffer): string {
  const digest = createHash('sha256').update(spki).digest().subarray(0, 30);
  const n = BigInt(`0x${digest.toString('hex')}`);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let text = '';
  for (let i = 47; i >= 0; i--) text += alphabet[Number((n >> BigInt(i * 5)) & 31n)];
  return Array.from({ length: 12 }, (_, i) => text.slice(i * 4, i * 4 + 4)).join(':');
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** Starts a token issuer on loopback that signs ES256 JWTs naming their key by `x5c` (or `kid`). */
export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const dir = mkdtempSync(join(tmpdir(), 'tufa-token-issuer-'));
  const keyPath = join(dir, 'issuer-key.pem');
  const certificatePath = join(dir, 'issuer.pem');
  // A self-signed P-256 certificate; the registry trusts it as its rootcertbundle.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certificatePath,
      '-days',
      String(options.days ?? 2),
      '-subj',
      '/CN=tufa test token issuer',
    ],
    { stdio: 'ignore' },
  );
  const key = createPrivateKey(readFileSync(keyPath));
  const certificate = new X509Certificate(readFileSync(certificatePath));
  const der = certificate.raw;
  const libtrustKeyId = libtrustFingerprint(certificate.publicKey.export({ type: 'spki', format: 'der' }));
  const jwk = certificate.publicKey.export({ format: 'jwk' });
  const thumbprint = createHash('sha256')
    .update(`{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`)
    .digest('base64url');
  const keyHeader =
    options.kid === undefined
      ? { x5c: [der.toString('base64')] }
      : {
          kid:
            options.kid === 'libtrust'
              ? libtrustKeyId
              : options.kid === 'thumbprint'
                ? thumbprint
                : options.kid,
        };
  const service = 'tufa-test-registry';
  const issuer = 'tufa-test-issuer';
  const users = new Map((options.users ?? []).map((u) => [u.username, u.password]));
  const requests: TokenRequestSeen[] = [];

  const token = (subject: string, scopes: string[], authenticated: boolean): string => {
    const access = scopes.flatMap((s) => {
      const parts = s.split(':');
      if (parts.length < 3) return [];
      const type = parts[0] ?? '';
      const actions = (parts[parts.length - 1] ?? '').split(',').filter((a) => a !== '');
      const name = parts.slice(1, -1).join(':');
      const granted = authenticated
        ? actions
        : options.anonymousPull
          ? actions.filter((a) => a === 'pull')
          : [];
      return granted.length > 0 ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', ...keyHeader };
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service,
      exp: now + 600,
      nbf: now - 60,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    // JOSE ES256: the raw r‖s signature, not DER.
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(signature)}`;
  };

  const server = http.createServer((q, s) => {
    const chunks: Buffer[] = [];
    q.on('data', (c: Buffer) => chunks.push(c));
    q.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: q.method ?? '',
        url: q.url ?? '',
        authorization: q.headers.authorization,
        body,
      });
      const url = new URL(q.url ?? '/', 'http://issuer');
      const reply = (status: number, value: unknown) =>
        s.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (url.pathname !== '/token') return reply(404, { error: 'not found' });
      if (q.method === 'POST') {
        const form = new URLSearchParams(body);
        const subject = options.refreshTokens?.get(form.get('refresh_token') ?? '');
        if (
          form.get('grant_type') !== 'refresh_token' ||
          subject === undefined ||
          form.get('service') !== service
        ) {
          return reply(401, { error: 'invalid_grant' });
        }
        const scopes = (form.get('scope') ?? '').split(' ').filter((x) => x !== '');
        return reply(200, { access_token: token(subject, scopes, true), expires_in: 600 });
      }
      if (url.searchParams.get('service') !== service) return reply(400, { error: 'wrong service' });
      let subject = '';
      const auth = q.headers.authorization;
      if (auth !== undefined) {
        const decoded = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        const [user, pass] = [decoded.slice(0, i), decoded.slice(i + 1)];
        if (!auth.startsWith('Basic ') || users.get(user) !== pass)
          return reply(401, { error: 'unauthorized' });
        subject = user;
      }
      const t = token(subject, url.searchParams.getAll('scope'), subject !== '');
      return reply(200, { token: t, access_token: t, expires_in: 600, issued_at: new Date().toISOString() });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://${options.realmHost ?? '127.0.0.1'}:${port}/token`,
    service,
    issuer,
    certificatePath,
    libtrustKeyId,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Registry

export type RegistryAuth =
  | { mode: 'none' }
  | { mode: 'htpasswd'; users: readonly User[] }
  | { mode: 'token'; issuer: TokenIssuer };

export interface Registry {
  /** `127.0.0.1:PORT`: the registry part of a reference. */
  host: string;
  /** `http://127.0.0.1:PORT` (`https://…` with `tls`). */
  url: string;
  /** What the registry logged (for a failing test's message). */
  log(): string;
  stop(): Promise<void>;
}

/** A certificate and its key (PEM files) the registry serves HTTPS with, instead of plain HTTP. */
export interface RegistryTls {
  certificate: string;
  key: string;
}

/** The test CA of `test-vectors/tls` (TEST ONLY) and the 127.0.0.1 certificate it issued. */
export const TEST_TLS_DIR = new URL('../../../../test-vectors/tls/', import.meta.url).pathname;
export const TEST_TLS: RegistryTls = {
  certificate: join(TEST_TLS_DIR, 'server.pem'),
  key: join(TEST_TLS_DIR, 'server-key.pem'),
};

/**
 * Starts docker-registry with filesystem storage in a temp dir on 127.0.0.1, port 0; with `tls`,
 * serving HTTPS only (a registry with a private CA).
 */
export async function startRegistry(
  auth: RegistryAuth = { mode: 'none' },
  tls?: RegistryTls,
): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'tufa-registry-'));
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(join(dir, 'data'))}`,
    '  delete:',
    '    enabled: true',
    'http:',
    '  addr: 127.0.0.1:0',
    `  secret: ${JSON.stringify(randomUUID())}`,
    ...(tls
      ? [
          '  tls:',
          `    certificate: ${JSON.stringify(tls.certificate)}`,
          `    key: ${JSON.stringify(tls.key)}`,
        ]
      : []),
  ];
  if (auth.mode === 'htpasswd') {
    const file = join(dir, 'htpasswd');
    // bcrypt at the lowest cost the registry accepts: these are throwaway test passwords.
    writeFileSync(file, auth.users.map((u) => `${u.username}:${bcrypt.hashSync(u.password, 4)}\n`).join(''));
    lines.push('auth:', '  htpasswd:', '    realm: tufa-test', `    path: ${JSON.stringify(file)}`);
  } else if (auth.mode === 'token') {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(auth.issuer.realm)}`,
      `    service: ${JSON.stringify(auth.issuer.service)}`,
      `    issuer: ${JSON.stringify(auth.issuer.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(auth.issuer.certificatePath)}`,
    );
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
  });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`docker-registry did not start:\n${log}`)), 20_000);
    const onData = (c: Buffer) => {
      log += c.toString('utf8');
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`docker-registry exited with ${code}:\n${log}`));
    });
  });
  return {
    host: `127.0.0.1:${port}`,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    log: () => log,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Images: OCI layouts written here, pushed with skopeo

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

export interface WrittenImage {
  /** The OCI layout directory. */
  layout: string;
  /** The name the image has in the layout's index.json (`org.opencontainers.image.ref.name`). */
  refName: string;
  mediaType: string;
  digest: string;
  size: number;
  /** For an index: the platform manifests it lists. */
  platforms: { digest: string; size: number; platform: PlatformSpec }[];
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

function putBlob(layout: string, bytes: Buffer): { digest: string; size: number } {
  const hex = createHash('sha256').update(bytes).digest('hex');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/**
 * Writes an OCI layout holding one image (one platform) or an image index (several), with a
 * tiny layer (an empty tar, gzipped) and a config that carries `seed`, so that two seeds give two
 * different digests.
 */
export function writeImageLayout(
  parent: string,
  options: { seed: string; platforms?: readonly PlatformSpec[]; refName?: string },
): WrittenImage {
  const layout = mkdtempSync(join(parent, 'layout-'));
  const refName = options.refName ?? 'image';
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const tar = Buffer.alloc(1024); // two zero blocks: an empty tar archive
  const layer = putBlob(layout, gzipSync(tar));
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const manifestFor = (p: PlatformSpec) => {
    const config = putBlob(
      layout,
      Buffer.from(
        JSON.stringify({
          architecture: p.architecture,
          os: p.os,
          ...(p.variant ? { variant: p.variant } : {}),
          config: { Labels: { 'tufa.test.seed': options.seed } },
          rootfs: { type: 'layers', diff_ids: [diffId] },
        }),
      ),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    );
    return putBlob(layout, manifest);
  };
  const platforms = options.platforms ?? [{ os: 'linux', architecture: 'amd64' }];
  let top: { mediaType: string; digest: string; size: number };
  const listed: WrittenImage['platforms'] = [];
  if (platforms.length === 1 && options.platforms === undefined) {
    top = { mediaType: OCI_MANIFEST, ...manifestFor(platforms[0] as PlatformSpec) };
  } else {
    for (const p of platforms) listed.push({ ...manifestFor(p), platform: p });
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: listed.map((m) => ({
          mediaType: OCI_MANIFEST,
          digest: m.digest,
          size: m.size,
          platform: m.platform,
        })),
      }),
    );
    top = { mediaType: OCI_INDEX, ...putBlob(layout, index) };
  }
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': refName } }],
    }),
  );
  return { layout, refName, ...top, platforms: listed };
}

/**
 * Pushes a layout image to `destination` (`host/repo:tag`) with `skopeo copy`. Credentials go
 * through a temp auth file (`--authfile`), never on the command line. `format: 'v2s2'` converts
 * to Docker's schema 2 manifest. Asynchronous: a token
 * issuer in this process must be able to answer skopeo meanwhile.
 */
export async function pushImage(
  image: WrittenImage,
  destination: string,
  options: { credentials?: User; format?: 'oci' | 'v2s2' } = {},
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tufa-skopeo-'));
  try {
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const args = ['--policy', policy, 'copy', '--quiet', '--dest-tls-verify=false'];
    if (image.mediaType === OCI_INDEX) args.push('--all');
    if (options.format !== undefined) args.push('--format', options.format);
    const authfile = join(dir, 'auth.json');
    const host = destination.slice(0, destination.indexOf('/'));
    const auths = options.credentials
      ? {
          [host]: {
            auth: Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString(
              'base64',
            ),
          },
        }
      : {};
    writeFileSync(authfile, JSON.stringify({ auths }), { mode: 0o600 });
    args.push('--authfile', authfile, `oci:${image.layout}:${image.refName}`, `docker://${destination}`);
    await new Promise<void>((resolve, reject) => {
      execFile(
        SKOPEO_BIN,
        args,
        { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir }, timeout: 60_000 },
        (error, _stdout, stderr) => {
          if (error) reject(Object.assign(error, { stderr: Buffer.from(stderr) }));
          else resolve();
        },
      );
    });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString('utf8') ?? '';
    throw new Error(`skopeo copy to ${destination} failed: ${stderr || String(e)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
