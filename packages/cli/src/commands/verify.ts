/**
 * `tufa verify`, `tufa lookup`, `tufa list`: the client side. Trust is pinned on first use from
 * `--root` (never from the server unless `--unsafe-tofu`) and cached per server and GUN; every
 * root the cache accepts is recorded, so a later `--root` outside that chain is refused.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CorruptStateError, RootNotInChainError, type TargetInfo, type Updater, visible } from '@tufa/core';
import { FileFetcher, fileBaseUrl, HttpFetcher, PinnedTrust } from '@tufa/core/node';
import { CliError, isCode, usage } from '../cli-error.js';
import {
  argument,
  defineCommand,
  type OptionsOf,
  option,
  type RegisteredCommand,
  requiredOption,
} from '../command.js';
import { EXIT } from '../exit-codes.js';
import { trustDir } from '../home.js';
import { checkDigest, checkGun, gunAndTag } from '../names.js';
import { collect } from '../options.js';
import { openRepository } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';

/** How a client reaches a repository and pins its trust. */
const serverOption = requiredOption(
  '--server <url|dir>',
  'where repositories are published (URL or directory)',
);
const trustOptions = [
  option('--root <file>', 'root.json to pin trust to on first use'),
  option('--unsafe-tofu', 'trust whatever root the server sends the first time (unsafe)'),
  option('--header <header>', 'extra HTTP header, e.g. "Authorization: Bearer $TOKEN" (repeatable)', {
    parse: collect,
  }),
  option('--ca <file>', 'extra CA certificates (PEM)'),
] as const;
type ClientOptions = OptionsOf<readonly [typeof serverOption, ...typeof trustOptions]>;

function isUrl(server: string): boolean {
  return /^https?:\/\//i.test(server);
}

async function fetcherFor(opts: ClientOptions) {
  if (!isUrl(opts.server)) {
    if (opts.header?.length || opts.ca) throw usage('--header and --ca apply to an HTTP(S) server only');
    return new FileFetcher();
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
  const ca = opts.ca ? await readFile(opts.ca, 'utf8') : undefined;
  return new HttpFetcher({ headers, ...(ca ? { ca } : {}) });
}

function baseUrls(server: string, gun: string): { metadata: string; targets: string } {
  if (isUrl(server)) {
    const base = `${server.replace(/\/+$/, '')}/${gun.split('/').map(encodeURIComponent).join('/')}/`;
    return { metadata: `${base}metadata/`, targets: `${base}targets/` };
  }
  const dir = join(resolve(server), ...gun.split('/'));
  return { metadata: fileBaseUrl(join(dir, 'metadata')), targets: fileBaseUrl(join(dir, 'targets')) };
}

/**
 * A refreshed updater for `gun` on `server`, with trust pinned per server and GUN in
 * `$TUFA_HOME/trust/…` by core's PinnedTrust (ADR 0009): the CLI only names the directory,
 * reads `--root` and words the errors.
 */
async function clientFor(gun: string, opts: ClientOptions): Promise<Updater> {
  const serverId = isUrl(opts.server) ? opts.server.replace(/\/+$/, '') : resolve(opts.server);
  const dir = trustDir(serverId, gun);
  const urls = baseUrls(opts.server, gun);
  const fetcher = await fetcherFor(opts);
  const repin = `remove ${dir} and run again with --root ROOT.json (the root you trust, from the publisher)`;
  const given = opts.root
    ? new Uint8Array(
        await readFile(opts.root).catch(() => {
          throw new CliError(`cannot read ${opts.root}`, EXIT.NOT_FOUND);
        }),
      )
    : undefined;
  try {
    const trust = await PinnedTrust.open(dir);
    const { updater, rootSource } = await trust.refresh({
      metadataBaseUrl: urls.metadata,
      targetBaseUrl: urls.targets,
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
    if (e instanceof RootNotInChainError) {
      throw new CliError(
        `the root given with --root is not in the chain of trust this machine holds for ${gun} on ${serverId} (${e.message})`,
        EXIT.UNTRUSTED,
        `if the repository was re-created on purpose, remove ${dir} and run again with --root`,
      );
    }
    if (isCode(e, 'USAGE') && !given && !opts.unsafeTofu) {
      throw new CliError(
        `no trusted root for ${gun} on ${serverId}`,
        EXIT.USAGE,
        `tufa verify --server ${opts.server} --root ROOT.json ${gun} …  (ROOT.json from the publisher, e.g. its metadata/1.root.json)`,
      );
    }
    throw e;
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
      `tufa list ${gun} --server ${opts.server}`,
    );
  return info;
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
      serverOption,
      ...trustOptions,
    ],
    async handler(ctx, [first, second], opts) {
      const ref = gunAndTag(first, second);
      const wanted = opts.digest ?? ref.digest;
      if (opts.digest !== undefined && ref.digest !== undefined && opts.digest !== ref.digest)
        throw usage('the digest in the reference and --digest differ');
      // An empty --digest is a malformed digest, never "no digest given" (that would fail open).
      if (wanted !== undefined) checkDigest(wanted);
      const info = await lookupTag(ref.gun, ref.tag, opts);
      const d = describe(info);
      if (wanted !== undefined && d.digest !== wanted) {
        throw new CliError(
          `the digest given for ${ref.gun}:${visible(ref.tag)} is not the signed one (expected ${visible(String(d.digest))}, found ${wanted})`,
          EXIT.DIGEST_MISMATCH,
        );
      }
      ctx.out.result(
        { gun: ref.gun, tag: ref.tag, verified: true, ...d },
        () =>
          `${ref.gun}:${visible(ref.tag)} ${visible(String(d.digest))} ${d.size} bytes (signed by ${visible(d.role)})${wanted !== undefined ? ' — digest matches' : ''}`,
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
      if (opts.server) {
        const updater = await clientFor(gun, { ...opts, server: opts.server });
        entries = [];
        for await (const info of updater.listTargets())
          entries.push({ tag: info.target.path, ...describe(info) });
      } else {
        const { repo } = await openRepository(gun, { roles: [], secrets: secretsFromEnvironment() });
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
];
