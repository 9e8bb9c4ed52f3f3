/**
 * `tufa verify`, `tufa lookup`, `tufa list`, `tufa resolve`, `tufa inspect`: the client side.
 * Trust is pinned on first use from `--root` (never from the server unless `--unsafe-tofu`) and
 * cached per server and GUN; every root the cache accepts is recorded, so a later `--root`
 * outside that chain is refused. `--server` is a directory, an HTTP(S) trust server or a TUF
 * repository in an OCI registry (locations.ts); `--registry` also asks the image's registry
 * what the tag is now (registry.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CorruptStateError,
  type Fetcher,
  type Metadata,
  RootNotInChainError,
  type TargetInfo,
  type Targets,
  type Updater,
  visible,
} from '@tufa/core';
import { FileFetcher, fileBaseUrl, HttpFetcher, PinnedTrust } from '@tufa/core/node';
import { CliError, isCode, usage } from '../cli-error.js';
import { argument, defineCommand, type OptionsOf, option, type RegisteredCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { trustDir } from '../home.js';
import { type Location, locationId, parseServer } from '../locations.js';
import { checkDigest, checkGun, gunAndTag, parseImageReference as parseGunReference } from '../names.js';
import { collect, seconds } from '../options.js';
import {
  checkTokenRealmHosts,
  connectionFlags,
  imageReference,
  type RegistryFlags,
  registryClientOptions,
  registryOptions,
  withRegistryHint,
} from '../registry.js';
import { openRepository } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';
import { TokenOnChallengeFetcher } from '../server-token.js';

/** How a client reaches a repository and pins its trust. */
const serverOption = option(
  '--server <url|dir>',
  'where the metadata is read: https://SERVER, oci://REGISTRY/REPOSITORY or a directory (default: $TUFA_SERVER)',
);
const trustOptions = [
  option('--root <file>', 'root.json to pin trust to on first use (default: $TUFA_ROOT)'),
  option('--timeout <seconds>', 'seconds to wait for a connection or for the next byte (default 30)', {
    parse: seconds,
  }),
  option('--unsafe-tofu', 'trust whatever root the server sends the first time (unsafe)'),
  option('--header <header>', 'extra HTTP header, e.g. "Authorization: Bearer $TOKEN" (repeatable)', {
    parse: collect,
  }),
  option('--ca <file>', 'extra CA certificates (PEM), for the server and the registry'),
  ...registryOptions,
] as const;
type ClientOptions = OptionsOf<readonly [typeof serverOption, ...typeof trustOptions]>;

/**
 * `--server`, or TUFA_SERVER: a CI job sets it once for every command it runs. An empty
 * variable counts as unset.
 */
function serverOf(opts: { server?: string | undefined }): string {
  const server = opts.server ?? (process.env.TUFA_SERVER || undefined);
  if (server === undefined) {
    throw usage(
      'give --server (https://SERVER, oci://REGISTRY/REPOSITORY or a directory), or set TUFA_SERVER',
      'tufa verify --server https://trust.example.com GUN:TAG',
    );
  }
  return server;
}

/** `--root`, or TUFA_ROOT (the root.json a CI job pins trust to on first use). */
function rootOf(opts: { root?: string | undefined }): string | undefined {
  return opts.root ?? (process.env.TUFA_ROOT || undefined);
}

/** The transport for `location`, and for a registry the metadata base URL its fetcher answers. */
async function fetcherFor(
  location: Location,
  gun: string,
  opts: ClientOptions,
): Promise<{ fetcher: Fetcher; metadataBaseUrl?: string }> {
  if (location.kind !== 'http' && opts.header?.length)
    throw usage('--header applies to an HTTP(S) server only');
  if (location.kind === 'dir') {
    if (opts.ca) throw usage('--ca applies to an HTTP(S) server or a registry only');
    return { fetcher: new FileFetcher() };
  }
  if (location.kind === 'oci') {
    const { OciFetcher } = await import('@tufa/oci');
    const clientOptions = await registryClientOptions(opts);
    if (opts.timeout !== undefined) clientOptions.timeoutMs = opts.timeout * 1000;
    const fetcher = new OciFetcher(location.location, { clientOptions });
    return { fetcher, metadataBaseUrl: fetcher.metadataBaseUrl };
  }
  // Header names come from the command line: no prototype to reach (`__proto__`, DESIGN rule 4).
  const headers: Record<string, string> = Object.create(null);
  // A token in argv is visible to every user of the machine: TUFA_AUTH_TOKEN keeps it out.
  const token = process.env.TUFA_AUTH_TOKEN;
  if (token) headers['Authorization'] = `Bearer ${token}`;
  for (const h of opts.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw usage('--header takes "Name: value"');
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const ca = opts.ca
    ? await readFile(opts.ca, 'utf8').catch(() => {
        throw new CliError(`cannot read the CA file ${opts.ca}`, EXIT.NOT_FOUND);
      })
    : undefined;
  const timeouts =
    opts.timeout === undefined
      ? {}
      : { connectTimeoutMs: opts.timeout * 1000, idleTimeoutMs: opts.timeout * 1000 };
  const options = { headers, ...(ca ? { ca } : {}), ...timeouts };
  // No token given: a server that challenges (one behind a registry's token service) gets the
  // registry credentials' token flow on its first 401, and anonymous reads cost nothing extra.
  const given = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization');
  if (!given) {
    return {
      fetcher: new TokenOnChallengeFetcher(
        location.url,
        gun,
        options,
        checkTokenRealmHosts(opts.tokenRealmHost),
      ),
    };
  }
  return { fetcher: new HttpFetcher(options) };
}

function baseUrls(
  location: Location,
  gun: string,
  ociBase: string | undefined,
): { metadata: string; targets?: string } {
  if (location.kind === 'http') {
    const base = `${location.url}/${gun.split('/').map(encodeURIComponent).join('/')}/`;
    return { metadata: `${base}metadata/`, targets: `${base}targets/` };
  }
  // In a registry the images are the targets: no target files to download.
  if (location.kind === 'oci') return { metadata: ociBase as string };
  const dir = join(location.dir, ...gun.split('/'));
  return { metadata: fileBaseUrl(join(dir, 'metadata')), targets: fileBaseUrl(join(dir, 'targets')) };
}

/**
 * A refreshed updater for `gun` on `server`, with trust pinned per server and GUN in
 * `$TUFA_HOME/trust/…` by core's PinnedTrust (ADR 0009): the CLI only names the directory,
 * reads `--root` and words the errors.
 */
async function clientFor(gun: string, opts: ClientOptions): Promise<Updater> {
  const server = serverOf(opts);
  const root = rootOf(opts);
  const location = parseServer(server);
  const serverId = locationId(location);
  const dir = trustDir(serverId, gun);
  const { fetcher, metadataBaseUrl } = await fetcherFor(location, gun, opts);
  const urls = baseUrls(location, gun, metadataBaseUrl);
  const repin = `remove ${dir} and run again with --root ROOT.json (the root you trust, from the publisher)`;
  const given = root
    ? new Uint8Array(
        await readFile(root).catch(() => {
          throw new CliError(`cannot read ${root}`, EXIT.NOT_FOUND);
        }),
      )
    : undefined;
  try {
    const trust = await PinnedTrust.open(dir);
    const { updater, rootSource } = await trust.refresh({
      metadataBaseUrl: urls.metadata,
      ...(urls.targets !== undefined ? { targetBaseUrl: urls.targets } : {}),
      fetcher,
      ...(given ? { root: given } : {}),
      unsafeTrustOnFirstUse: opts.unsafeTofu === true,
    });
    if (rootSource === 'unsafe-first-use') {
      process.stderr.write(
        `Warning: trusting the root ${visible(urls.metadata)}1.root.json sent by the server (--unsafe-tofu)\n`,
      );
    }
    return updater;
  } catch (e) {
    if (e instanceof CorruptStateError) throw Object.assign(e, { hint: repin });
    // "timestamp.json is missing" alone does not say where it was looked for.
    if (isCode(e, 'NOT_FOUND') && !e.message.includes(serverId)) {
      e.message = `${e.message} (no repository for ${gun} at ${serverId}?)`;
      throw Object.assign(e, {
        hint: `tufa verify --server ${server} …: check the server and the GUN (${gun})`,
      });
    }
    if (e instanceof RootNotInChainError) {
      throw new CliError(
        `the root given with --root is not in the chain of trust this machine holds for ${gun} on ${serverId} (${e.message})`,
        EXIT.UNTRUSTED,
        `if the repository was re-created on purpose, remove ${dir} and run again with --root`,
        'ROOT_NOT_IN_CHAIN',
      );
    }
    if (isCode(e, 'USAGE') && !given && !opts.unsafeTofu) {
      throw new CliError(
        `no trusted root for ${gun} on ${serverId}`,
        EXIT.USAGE,
        `tufa verify --server ${server} --root ROOT.json ${gun} …  (ROOT.json from the publisher, e.g. its metadata/1.root.json)`,
      );
    }
    throw withRegistryHint(e);
  }
}

function describe(info: TargetInfo) {
  const hex = info.target.hashes.get('sha256');
  return {
    digest: hex ? `sha256:${hex}` : null,
    size: info.target.length,
    role: info.role,
    custom: info.target.custom ?? null,
  };
}

async function lookupTag(gun: string, tag: string, opts: ClientOptions): Promise<TargetInfo> {
  const updater = await clientFor(gun, opts);
  const info = await updater.getTargetInfo(tag);
  if (!info)
    throw new CliError(
      `${gun}:${visible(tag)} is not signed`,
      EXIT.NOT_FOUND,
      `tufa list ${gun} --server ${serverOf(opts)}`,
    );
  return info;
}

/**
 * What the registry serves for GUN:TAG now, checked against the signed digest and size (exit 4
 * unless it is exactly what was signed). `verify`/`resolve` may use HEAD (the library GETs and
 * hashes when the answer lacks the digest, length or type).
 */
async function checkRegistry(
  gun: string,
  tag: string,
  signed: { digest: string | null; size: number },
  flags: RegistryFlags,
): Promise<{ digest: string; mediaType: string; size: number }> {
  const ref = await imageReference(gun, tag);
  const { RegistryClient } = await import('@tufa/oci');
  const client = new RegistryClient(await registryClientOptions(flags));
  let served: { digest: string; mediaType: string; size: number };
  try {
    served = await client.resolve(ref);
  } catch (e) {
    if (isCode(e, 'NOT_FOUND')) {
      throw Object.assign(e, {
        message: `${e.message}: ${gun}:${visible(tag)} is signed but the registry does not serve it`,
        hint: `tufa sign ${gun}:${visible(tag)}  (after pushing the image), or ask the publisher`,
      });
    }
    throw withRegistryHint(e);
  }
  if (served.digest !== signed.digest || served.size !== signed.size) {
    throw new CliError(
      `the registry serves ${ref.name}:${visible(tag)} as ${served.digest} (${served.size} bytes), not as signed (expected ${visible(String(signed.digest))}, ${signed.size} bytes)`,
      EXIT.DIGEST_MISMATCH,
      `docker pull ${ref.name}@${visible(String(signed.digest))}  (the signed image), or sign the new one: tufa sign ${gun}:${visible(tag)}`,
    );
  }
  return served;
}

/** `registry/repo@sha256:…` for a GUN and digest, or null when the GUN is no registry name. */
async function pinned(gun: string, digest: string | null): Promise<string | null> {
  if (digest === null) return null;
  const { parseImageReference, pinnedReference } = await import('@tufa/oci');
  try {
    return pinnedReference(parseImageReference(gun), digest);
  } catch {
    return null;
  }
}

/** Verifies GUN:TAG (and the digest it was given, if any); with `registry`, the registry too. */
async function verifyTag(
  first: string,
  second: string | undefined,
  given: string | undefined,
  opts: ClientOptions,
  registry: boolean,
) {
  const ref = gunAndTag(first, second);
  const wanted = given ?? ref.digest;
  if (given !== undefined && ref.digest !== undefined && given !== ref.digest)
    throw usage('the digest in the reference and --digest differ');
  // An empty --digest is a malformed digest, never "no digest given" (that would fail open).
  if (wanted !== undefined) checkDigest(wanted);
  // A bad reference is a usage error before anything is fetched.
  if (registry) await imageReference(ref.gun, ref.tag);
  const info = await lookupTag(ref.gun, ref.tag, opts);
  const d = describe(info);
  if (wanted !== undefined && d.digest !== wanted) {
    throw new CliError(
      `the digest given for ${ref.gun}:${visible(ref.tag)} is not the signed one (expected ${visible(String(d.digest))}, found ${wanted})`,
      EXIT.DIGEST_MISMATCH,
    );
  }
  const served = registry ? await checkRegistry(ref.gun, ref.tag, d, opts) : undefined;
  return { ref, wanted, d, served, pinned: await pinned(ref.gun, d.digest) };
}

interface RoleReport {
  role: string;
  version: number;
  expires: string;
  threshold: number | null;
  keyids: string[];
  signedBy: string[];
}

/**
 * The roles of the trusted metadata that list the given tags' roles: version, expiry, the keys
 * the delegating role authorises and those whose signatures are on it (already verified to a
 * threshold by the updater).
 */
function roleReports(updater: Updater, wanted: ReadonlySet<string>): RoleReport[] {
  const trusted = updater.trustedSet;
  const targets = trusted?.targets;
  if (!trusted || !targets) return [];
  const out: RoleReport[] = [];
  const report = (
    role: string,
    m: Metadata<Targets>,
    keyids: readonly string[],
    threshold: number | null,
  ) => {
    const authorised = new Set(keyids);
    out.push({
      role,
      version: m.signed.version,
      expires: m.signed.expires.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      threshold,
      keyids: [...keyids],
      signedBy: [...m.signatures.keys()].filter((k) => authorised.has(k)),
    });
  };
  const top = trusted.root.signed.roles.get('targets');
  const queue: [string, Metadata<Targets>][] = [['targets', targets]];
  const seen = new Set<string>();
  if (wanted.has('targets')) report('targets', targets, top?.keyids ?? [], top?.threshold ?? null);
  while (queue.length > 0) {
    const [, delegator] = queue.shift() as [string, Metadata<Targets>];
    for (const d of delegator.signed.delegations?.roles ?? []) {
      const m = trusted.getDelegated(d.name, delegator);
      if (!m || seen.has(d.name)) continue;
      seen.add(d.name);
      if (wanted.has(d.name)) report(d.name, m, d.keyids, d.threshold);
      queue.push([d.name, m]);
    }
  }
  return out;
}

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'verify',
    description: 'verify a tag with the full TUF client workflow (the CI gate)',
    arguments: [
      argument('<gun>', 'repository, or an image reference GUN:TAG[@sha256:HEX]'),
      argument('[tag]', 'tag'),
    ],
    options: [
      option('-d, --digest <digest>', 'exit 0 only if the tag is signed with this digest'),
      option(
        '--registry',
        "also ask the image's registry what the tag is now: exit 4 unless it is the signed digest",
      ),
      serverOption,
      ...trustOptions,
    ],
    async handler(ctx, [first, second], opts) {
      const {
        ref,
        wanted,
        d,
        served,
        pinned: pin,
      } = await verifyTag(first, second, opts.digest, opts, opts.registry === true);
      ctx.out.result(
        {
          gun: ref.gun,
          tag: ref.tag,
          verified: true,
          ...d,
          pinned: pin,
          registry: served ? { checked: true, digest: served.digest, mediaType: served.mediaType } : null,
        },
        () =>
          `${ref.gun}:${visible(ref.tag)} ${visible(String(d.digest))} ${d.size} bytes (signed by ${visible(d.role)})${wanted !== undefined ? ' — digest matches' : ''}${served ? ' — the registry serves it' : ''}`,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'lookup',
    description: 'show what a tag is signed as',
    arguments: [argument('<gun>'), argument('[tag]')],
    options: [serverOption, ...trustOptions],
    async handler(ctx, [first, second], opts) {
      const ref = gunAndTag(first, second);
      const d = describe(await lookupTag(ref.gun, ref.tag, opts));
      ctx.out.result({ gun: ref.gun, tag: ref.tag, ...d }, () =>
        [
          `${ref.gun}:${visible(ref.tag)} ${visible(String(d.digest))} ${d.size} bytes (${visible(d.role)})`,
          // `custom` is whatever the signer put there: shown as JSON, escaped.
          ...(d.custom === null ? [] : [`  custom: ${visible(JSON.stringify(d.custom))}`]),
        ].join('\n'),
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'list',
    description: 'list signed tags',
    arguments: [argument('<gun>', 'repository')],
    options: [
      option(
        '--server <url|dir>',
        'list as a client of this server (verified), instead of the local repository',
      ),
      ...trustOptions,
    ],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      let entries: { tag: string; digest: string | null; size: number; role: string }[];
      if (opts.server ?? process.env.TUFA_SERVER) {
        const updater = await clientFor(gun, opts);
        entries = [];
        for await (const info of updater.listTargets())
          entries.push({ tag: info.target.path, ...describe(info) });
      } else {
        const { repo } = await openRepository(gun, {
          roles: [],
          secrets: secretsFromEnvironment(),
          connection: connectionFlags(opts),
        });
        entries = [];
        for await (const { role, target } of repo.walkTargets()) {
          const hex = target.hashes.get('sha256');
          entries.push({ tag: target.path, digest: hex ? `sha256:${hex}` : null, size: target.length, role });
        }
      }
      entries.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
      ctx.out.result({ gun, tags: entries }, () =>
        entries.length === 0
          ? `no signed tags in ${gun}`
          : entries
              .map((e) => `${visible(e.tag)}\t${visible(String(e.digest))}\t${e.size}\t${visible(e.role)}`)
              .join('\n'),
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'resolve',
    description: 'print the pinned reference REGISTRY/REPO@sha256:… of a verified tag (for docker pull)',
    arguments: [argument('<ref>', 'image reference GUN:TAG'), argument('[tag]', 'tag')],
    options: [serverOption, ...trustOptions],
    async handler(ctx, [first, second], opts) {
      // Verified as `verify --registry` does: a tag the registry moved since it was signed is
      // refused (exit 4), not resolved to a digest the registry no longer serves for it.
      const { ref, d, pinned: pin } = await verifyTag(first, second, undefined, opts, true);
      if (pin === null) throw usage(`${ref.gun} is not an image repository name`);
      ctx.out.result(
        { gun: ref.gun, tag: ref.tag, digest: d.digest, size: d.size, role: d.role, pinned: pin },
        () => pin,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'inspect',
    description: 'show signed tags, their digests, the roles and keys that signed them, and expiry',
    arguments: [argument('<ref>', 'GUN (every signed tag) or GUN:TAG')],
    options: [serverOption, ...trustOptions],
    async handler(ctx, [refArg], opts) {
      const parsed = parseGunReference(refArg);
      if (parsed.digest !== undefined) throw usage('inspect takes GUN or GUN:TAG, without a digest');
      const gun = parsed.gun;
      const updater = await clientFor(gun, opts);
      const tags: { tag: string; digest: string | null; size: number; role: string; custom: unknown }[] = [];
      if (parsed.tag !== undefined) {
        const info = await updater.getTargetInfo(parsed.tag);
        if (!info) {
          throw new CliError(
            `${gun}:${visible(parsed.tag)} is not signed`,
            EXIT.NOT_FOUND,
            `tufa inspect ${gun} --server ${serverOf(opts)}`,
          );
        }
        tags.push({ tag: parsed.tag, ...describe(info) });
      } else {
        for await (const info of updater.listTargets())
          tags.push({ tag: info.target.path, ...describe(info) });
        tags.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
      }
      const roles = roleReports(updater, new Set(tags.map((t) => t.role)));
      const root = updater.trustedSet?.root;
      const rootInfo = root
        ? {
            version: root.signed.version,
            expires: root.signed.expires.toISOString().replace(/\.\d{3}Z$/, 'Z'),
            keyids: root.signed.roles.get('root')?.keyids ?? [],
          }
        : null;
      ctx.out.result({ gun, signedTags: tags, roles, root: rootInfo }, () =>
        [
          tags.length === 0 ? `no signed tags in ${gun}` : `signed tags in ${gun}:`,
          ...tags.map(
            (t) => `  ${visible(t.tag)}\t${visible(String(t.digest))}\t${t.size}\t${visible(t.role)}`,
          ),
          ...(roles.length ? ['roles that signed them:'] : []),
          ...roles.map(
            (r) =>
              `  ${visible(r.role)} v${r.version}, expires ${r.expires}, threshold ${r.threshold ?? '?'}, signed by ${r.signedBy.map((k) => `${k.slice(0, 16)}…`).join(', ') || 'none'} (keys: ${r.keyids.map((k) => `${k.slice(0, 16)}…`).join(', ')})`,
          ),
          ...(rootInfo ? [`root v${rootInfo.version}, expires ${rootInfo.expires}`] : []),
        ].join('\n'),
      );
      return EXIT.OK;
    },
  }),
];
