/**
 * `tufa notary verify|list|migrate`: read Notary v1 (Docker Content Trust) trust collections
 * from a notary-server or a client trust directory, verify them in full, and import what
 * verifies into a tufa repository. Read-only towards Notary: nothing is ever written there.
 */

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  CredentialsRefusedError,
  generateKeyPair,
  isLoopbackUrl,
  MemoryRepositoryStorage,
  normalizeRealmHost,
  Repository,
  visible,
} from '@tufa/core';
import {
  DCT_ROLES,
  dctList,
  dctResolve,
  importNotaryCollection,
  type NotaryCollection,
  type NotaryMigrationPlan,
  type NotaryReadOptions,
  type NotaryTarget,
  notaryProvenance,
  notaryServerSource,
  notaryTrustDirMetadata,
  notaryTrustDirSource,
  parseNotaryTime,
  readNotaryCollection,
  tagNameProblem,
} from '@tufa/core/notary';
import { CliError, isCode, usage } from '../cli-error.js';
import { argument, defineCommand, type OptionsOf, option, type RegisteredCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { exists, readOrExplain } from '../files.js';
import { readRepoConfig, repoConfigPath } from '../home.js';
import { locationId, parsePublishTo } from '../locations.js';
import { checkDigest, checkGun, checkTag, parseImageReference } from '../names.js';
import { readNotaryRecords, replayHint, writeNotaryRecords } from '../notary-records.js';
import { collect } from '../options.js';
import { connectionFlags, insecureRegistryOption } from '../registry.js';
import { openRepository, transaction } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';
import { readSettings, settingsPath } from '../settings.js';

/** Where a Notary collection is read from, and what its trust is anchored to. */
const notarySourceOptions = [
  option('--server <url>', 'notary-server URL, e.g. https://notary.docker.io'),
  option(
    '--trust-dir <dir>',
    'Notary/Docker trust directory, e.g. ~/.docker/trust (its cached root is trusted)',
  ),
  option('--root <file>', 'a Notary root.json to trust'),
  option('--root-cert <file>', 'pin a root certificate, PEM (repeatable)', { parse: collect }),
  option('--root-key-id <id>', 'pin a root key id, as notary trust_pinning.certs (repeatable)', {
    parse: collect,
  }),
  option('--unsafe-tofu', 'trust the oldest root the server sends (unsafe)'),
  option('--as-of <time>', 'judge expiry and certificates at this RFC 3339 time instead of now'),
  option('--header <header>', 'extra HTTP header, e.g. "Authorization: Bearer $TOKEN" (repeatable)', {
    parse: collect,
  }),
  option('--ca <file>', 'extra CA certificates (PEM)'),
  option('--username <user>', 'user for the registry token service (password from TUFA_REGISTRY_PASSWORD)'),
  option(
    '--token-realm-host <host>',
    'also send the credentials to a token realm on this host (repeatable; see tokenRealmHosts in $TUFA_HOME/config.json)',
    { parse: collect },
  ),
] as const;
type NotarySourceOptions = OptionsOf<typeof notarySourceOptions>;

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

function parseAsOf(value: string | undefined): Date {
  if (value === undefined) return new Date();
  try {
    return parseNotaryTime(value, '--as-of');
  } catch {
    throw usage(`--as-of takes an RFC 3339 time, e.g. 2026-12-01T00:00:00Z (found ${JSON.stringify(value)})`);
  }
}

async function readArg(path: string, what: string): Promise<Buffer> {
  return readOrExplain(expandHome(path), `read ${what}`);
}

function parseHeaders(list: string[] | undefined): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  for (const h of list ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw usage('--header takes "Name: value"');
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  return headers;
}

/**
 * Reads and verifies the collection for `gun` as the options say. `publishing`: `migrate`, whose
 * `--ca` and `--token-realm-host` also reach where the tufa repository is published, so they
 * are not refused without `--server`.
 */
async function loadCollection(
  gun: string,
  opts: NotarySourceOptions,
  publishing = false,
): Promise<NotaryCollection> {
  if (!opts.server && !opts.trustDir) {
    throw usage(
      'give --server URL (a notary-server) or --trust-dir DIR (e.g. ~/.docker/trust)',
      `tufa notary verify --trust-dir ~/.docker/trust ${gun}`,
    );
  }
  if (
    !opts.server &&
    (opts.header?.length || opts.username || (!publishing && (opts.ca || opts.tokenRealmHost?.length)))
  ) {
    throw usage(
      publishing
        ? '--header and --username apply to --server only'
        : '--header, --ca, --username and --token-realm-host apply to --server only',
    );
  }
  for (const h of opts.tokenRealmHost ?? []) {
    if (normalizeRealmHost(h) === undefined) {
      throw usage(
        `--token-realm-host takes a host name or IP address without scheme, port or path (found ${JSON.stringify(h)})`,
        '--token-realm-host auth.example.com',
      );
    }
  }
  const asOf = parseAsOf(opts.asOf);
  const trustDir = opts.trustDir ? expandHome(opts.trustDir) : undefined;
  let source: ReturnType<typeof notaryTrustDirSource>;
  if (opts.server) {
    const password = process.env.TUFA_REGISTRY_PASSWORD;
    if (opts.username && !password) {
      throw new CliError(
        `no password for ${opts.username} (TUFA_REGISTRY_PASSWORD is not set)`,
        EXIT.KEY,
        'export TUFA_REGISTRY_PASSWORD=… (a personal access token) and run the command again',
      );
    }
    const ca = opts.ca ? (await readArg(opts.ca, '--ca')).toString('utf8') : undefined;
    const settings = await readSettings();
    source = notaryServerSource(opts.server, gun, {
      headers: parseHeaders(opts.header),
      ...(ca ? { ca } : {}),
      ...(opts.username ? { username: opts.username, password: password ?? '' } : {}),
      tokenRealmHosts: [...settings.tokenRealmHosts, ...(opts.tokenRealmHost ?? [])],
    });
  } else {
    source = notaryTrustDirSource(trustDir as string, gun);
  }
  const trust: Partial<NotaryReadOptions> = {};
  const pins = (opts.rootCert?.length ?? 0) + (opts.rootKeyId?.length ?? 0);
  if ([opts.root !== undefined, pins > 0, opts.unsafeTofu === true].filter(Boolean).length > 1) {
    throw usage('give one of --root, --root-cert/--root-key-id and --unsafe-tofu');
  }
  if (opts.root) trust.trustedRoot = new Uint8Array(await readArg(opts.root, '--root'));
  else if (pins > 0) {
    const certs: string[] = [];
    for (const f of opts.rootCert ?? []) certs.push((await readArg(f, '--root-cert')).toString('utf8'));
    trust.rootCertificates = certs;
    trust.rootKeyIds = opts.rootKeyId ?? [];
  } else if (opts.unsafeTofu) {
    trust.unsafeTrustOnFirstUse = true;
    process.stderr.write(
      `Warning: trusting the first root ${visible(String(opts.server ?? trustDir))} sends for ${gun} (--unsafe-tofu)\n`,
    );
  } else if (trustDir) {
    // The root this machine's Docker/Notary client already trusts.
    const cached = join(notaryTrustDirMetadata(trustDir, gun), 'root.json');
    if (!exists(cached)) {
      throw new CliError(
        `no trusted root for ${gun} in ${trustDir}`,
        EXIT.NOT_FOUND,
        `docker trust inspect ${gun}  (or: tufa notary verify --server URL --root-cert ROOT.crt ${gun})`,
      );
    }
    trust.trustedRoot = new Uint8Array(await readFile(cached));
  } else {
    throw usage(
      `no trusted root for ${gun}: give --trust-dir (the root your Docker client trusts), --root, --root-cert or --root-key-id`,
      `tufa notary verify --server ${opts.server} --trust-dir ~/.docker/trust ${gun}`,
    );
  }
  // Rollback protection across runs, for what a server sends (see notary-records.ts).
  const server = opts.server;
  const recorded = server ? await readNotaryRecords(server, gun) : undefined;
  let c: NotaryCollection;
  try {
    c = await readNotaryCollection(source, { gun, asOf, ...trust, ...(recorded ? { recorded } : {}) });
  } catch (e) {
    if (server && isCode(e, 'ROLLBACK')) throw Object.assign(e, { hint: replayHint(server, gun) });
    if (e instanceof CredentialsRefusedError) throw Object.assign(e, { hint: refusalHint(e) });
    throw e;
  }
  if (server) await writeNotaryRecords(server, gun, c.records);
  return c;
}

/** What the user can do about a refusal to send credentials, if anything. */
function refusalHint(e: CredentialsRefusedError): string | undefined {
  const realm = e.realmHost;
  const server = e.serverHost;
  if (e.refusal === 'realm-host' && realm !== undefined) {
    return `only if ${realm} is the token service of ${server}: add --token-realm-host ${realm} (or "tokenRealmHosts": ["${realm}"] in ${settingsPath()})`;
  }
  if (e.refusal === 'insecure-challenge' && server !== undefined) {
    return isLoopbackUrl(new URL(`http://${server}/`))
      ? `no_proxy=${server} (plain http to loopback counts only without a proxy)`
      : `--server https://${server}`;
  }
  return undefined;
}

function describe(t: NotaryTarget) {
  return { tag: t.name, digest: t.digest ?? null, size: t.length, role: t.role };
}

function failureSummary(c: NotaryCollection) {
  return c.failedRoles.map((f) => ({ role: f.role, code: f.error.code, message: f.error.message }));
}

function splitRef(ref: string): { gun: string; tag: string | undefined; digest: string | undefined } {
  return parseImageReference(ref);
}

function table(rows: { tag: string; digest: string | null; size: number; role: string }[]): string {
  const header = ['NAME', 'DIGEST', 'SIZE (BYTES)', 'ROLE'];
  // Escaped before the widths are measured, so the columns line up on what is shown.
  const cells = rows.map((e) =>
    [e.tag, (e.digest ?? '-').replace(/^sha256:/, ''), String(e.size), e.role].map((v) => visible(v)),
  );
  const width = header.map((h, i) => Math.max(h.length, ...cells.map((c) => [...(c[i] ?? '')].length)));
  const line = (c: string[]) =>
    c.map((v, i) => (i === c.length - 1 ? v : v + ' '.repeat((width[i] ?? 0) - [...v].length + 4))).join('');
  return [line(header), line(header.map((h) => '-'.repeat(h.length))), ...cells.map(line)].join('\n');
}

function parseRoleMap(list: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0 || i === item.length - 1)
      throw usage(`--role-map takes NOTARY_ROLE=TUFA_ROLE (found ${item})`);
    m.set(item.slice(0, i), item.slice(i + 1));
  }
  return m;
}

/**
 * Why tufa cannot sign a tag a Notary server sends (names from there are as untrusted as any):
 * core's tag-name policy for signing, then the command line's own rule (no white space).
 */
function tagProblem(name: string): string | undefined {
  const problem = tagNameProblem(name);
  if (problem !== undefined) return problem;
  try {
    checkTag(name);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** An empty repository in memory, with one throwaway key for every role: never published. */
async function scratchRepository(): Promise<Repository> {
  const { key, signer } = await generateKeyPair('ed25519');
  return Repository.create(new MemoryRepositoryStorage(), {
    keys: { root: [key], targets: [key], snapshot: [key], timestamp: [key] },
    signers: [signer],
  });
}

/**
 * `notary migrate --publish-to LOCATION`: the migration publishes where `tufa init` set the GUN
 * up (a directory, a registry, a trust server), and `--publish-to` states where that is, so a
 * script migrating into a registry or a server fails before anything is read if the GUN is set
 * up elsewhere, or not at all. The keys are made by `tufa init`, in one place.
 */
async function checkPublishTo(gun: string, value: string, dryRun: boolean): Promise<void> {
  const wanted = parsePublishTo(value);
  if (!exists(repoConfigPath(gun))) {
    if (dryRun) return;
    throw new CliError(
      `${gun} is not set up in tufa yet: create the repository at ${locationId(wanted)} first, then migrate into it`,
      EXIT.NOT_FOUND,
      `tufa init ${gun} --publish-to ${value} --root-key-out /media/OFFLINE-USB, then tufa notary migrate ${gun} … --publish-to ${value}`,
    );
  }
  const at = (await readRepoConfig(gun)).publishTo;
  if (locationId(at) !== locationId(wanted)) {
    throw usage(
      `--publish-to ${locationId(wanted)}: ${gun} is published at ${locationId(at)} on this machine`,
      `tufa notary migrate ${gun} … --publish-to ${locationId(at)} (to move the repository first: tufa publish ${gun} --to ${value} --switch)`,
    );
  }
}

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'verify',
    description: 'verify a Notary trust collection, or what Docker Content Trust resolves a tag to',
    arguments: [argument('<ref>', 'GUN, or GUN:TAG[@sha256:HEX]')],
    options: [
      option('-d, --digest <digest>', 'exit 0 only if the tag is signed with this digest'),
      ...notarySourceOptions,
    ],
    async handler(ctx, [ref], opts) {
      const r = splitRef(ref);
      const wanted = opts.digest ?? r.digest;
      if (opts.digest !== undefined && r.digest !== undefined && opts.digest !== r.digest)
        throw usage('the digest in the reference and --digest differ');
      // An empty --digest is a malformed digest, never "no digest given" (that would fail open).
      if (wanted !== undefined) checkDigest(wanted);
      if (wanted !== undefined && r.tag === undefined) throw usage('--digest needs a tag: GUN:TAG');
      const c = await loadCollection(r.gun, opts);
      if (r.tag === undefined) {
        const tags = dctList(c);
        const failed = failureSummary(c);
        ctx.out.result(
          {
            gun: r.gun,
            verified: failed.length === 0,
            ...notaryProvenance(c),
            rootVersions: c.rootVersions,
            roles: c.roles.map((x) => ({
              role: x.role,
              version: x.version,
              expires: x.expires.toISOString(),
            })),
            tags: tags.length,
            failedRoles: failed,
          },
          () =>
            [
              `${r.gun}: Notary trust collection verified (root v${c.root.version}, as of ${c.asOf.toISOString()})`,
              ...c.roles.map((x) => `  ${visible(x.role)} v${x.version}, expires ${x.expires.toISOString()}`),
              `  ${tags.length} signed tag(s) Docker Content Trust accepts`,
            ].join('\n'),
        );
        if (failed.length > 0) {
          throw new CliError(
            `${failed.length} delegated role(s) did not verify: ${failed.map((f) => `${visible(f.role)} (${visible(f.message)})`).join('; ')}`,
            EXIT.UNTRUSTED,
          );
        }
        return EXIT.OK;
      }
      const tag = checkTag(r.tag);
      const resolution = dctResolve(c, tag);
      const hit = resolution.target;
      if (!hit) {
        throw new CliError(
          resolution.refusal
            ? `Docker Content Trust refuses ${r.gun}:${visible(tag)}: ${visible(resolution.refusal)}`
            : `${r.gun}:${visible(tag)} is not signed by ${DCT_ROLES.join(' or ')}`,
          EXIT.NOT_FOUND,
          `tufa notary list ${opts.server ? `--server ${opts.server}` : `--trust-dir ${opts.trustDir}`} ${r.gun}`,
        );
      }
      const d = describe(hit);
      if (wanted !== undefined && d.digest !== wanted) {
        ctx.out.result(
          { gun: r.gun, verified: false, ...d, expected: wanted, ...notaryProvenance(c) },
          () => '',
        );
        throw new CliError(
          `digest mismatch for ${r.gun}:${visible(tag)} (expected the signed ${visible(String(d.digest))}, found ${wanted})`,
          EXIT.DIGEST_MISMATCH,
        );
      }
      ctx.out.result(
        { gun: r.gun, verified: true, ...d, ...notaryProvenance(c) },
        () =>
          `${r.gun}:${visible(tag)} ${visible(String(d.digest))} ${d.size} bytes (signed by ${visible(d.role)}; Notary root v${c.root.version}, as of ${c.asOf.toISOString()})${wanted !== undefined ? ' — digest matches' : ''}`,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'list',
    description: 'list signed tags as Docker Content Trust sees them (targets/releases, then targets)',
    arguments: [argument('<gun>')],
    options: [
      option('--all-roles', 'every verified (tag, role) pair, as notary list shows them'),
      ...notarySourceOptions,
    ],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      const c = await loadCollection(gun, opts);
      const entries = (
        opts.allRoles
          ? [...c.targets].sort((a, b) =>
              a.name < b.name ? -1 : a.name > b.name ? 1 : a.role < b.role ? -1 : a.role > b.role ? 1 : 0,
            )
          : dctList(c)
      ).map(describe);
      const failed = failureSummary(c);
      ctx.out.result({ gun, tags: entries, failedRoles: failed, ...notaryProvenance(c) }, () =>
        entries.length === 0 ? `no signed tags in ${gun}` : table(entries),
      );
      for (const f of failed)
        ctx.out.warn(`${visible(f.role)} did not verify and is left out: ${visible(f.message)}`);
      return failed.length > 0 ? EXIT.UNTRUSTED : EXIT.OK;
    },
  }),
  defineCommand({
    name: 'migrate',
    description:
      'import what Docker Content Trust resolves each tag to into a tufa repository, with its provenance',
    arguments: [argument('<gun>', 'the GUN in Notary and of the tufa repository (set up with tufa init)')],
    options: [
      option('--role-map <map>', 'NOTARY_ROLE=TUFA_ROLE, e.g. targets/releases=releases (repeatable)', {
        parse: collect,
      }),
      option(
        '--all-roles',
        'also import tags Docker Content Trust does not resolve, as notary lookup resolves them',
      ),
      option(
        '--replace',
        'replace tags tufa already signs with another digest, also where clients would find them first',
      ),
      option('--dry-run', 'show what would be imported, publish nothing'),
      option(
        '--publish-to <location>',
        'where the tufa repository is published (DIR, oci://REGISTRY/REPOSITORY or https://TRUST-SERVER), as tufa init set it up; checked',
      ),
      ...notarySourceOptions,
      // --ca and --token-realm-host (notarySourceOptions) apply to both ends.
      insecureRegistryOption,
    ],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      if (opts.publishTo !== undefined) await checkPublishTo(gun, opts.publishTo, opts.dryRun === true);
      const roleMap = parseRoleMap(opts.roleMap);
      const c = await loadCollection(gun, opts, true);
      const failed = failureSummary(c);
      const secrets = secretsFromEnvironment();
      const connection = connectionFlags(opts);
      let plan: NotaryMigrationPlan = { imports: [], removals: [], unchanged: [], refused: [] };
      // Planned and staged by core (notary/import.ts): one live copy per tag, where every TUF client
      // resolves it to Docker's digest; planned again if the transaction runs the edit again.
      const edit = async (repo: Repository): Promise<void> => {
        plan = await importNotaryCollection(repo, c, {
          allRoles: opts.allRoles === true,
          replace: opts.replace === true,
          roleMap,
          checkName: tagProblem,
        });
      };
      let versions: Record<string, number> = {};
      if (opts.dryRun) {
        // Staged in memory only: never published. Before `tufa init` there is no repository to
        // plan against, so the plan is made against a new, empty one with throwaway keys: what
        // a migration right after init would import.
        const setUp = exists(repoConfigPath(gun));
        const repo = setUp
          ? (await openRepository(gun, { roles: [], secrets, connection })).repo
          : await scratchRepository();
        if (!setUp)
          ctx.out.info(
            `${gun} is not set up in tufa yet: planned against a new, empty repository (tufa init ${gun} … first)`,
          );
        await edit(repo);
      } else {
        const config = await readRepoConfig(gun);
        const roles = new Set(['targets', ...roleMap.values(), ...config.delegations.keys()]);
        const r = await transaction(
          gun,
          { roles: [...roles, 'snapshot', 'timestamp'], secrets, connection },
          edit,
        );
        versions = Object.fromEntries(r.versions);
      }
      const imported = plan.imports.map((p) => ({
        ...describe(p.source),
        tufaRole: p.tufaRole,
        shadowed: p.shadowed.map(describe),
      }));
      const removed = plan.removals.map((r) => ({ tag: r.tag, tufaRole: r.tufaRole, digest: r.digest }));
      ctx.out.result(
        {
          gun,
          dryRun: opts.dryRun === true,
          imported,
          removed,
          unchanged: plan.unchanged.length,
          refused: plan.refused,
          failedRoles: failed,
          ...notaryProvenance(c),
          versions,
        },
        () =>
          [
            `${opts.dryRun ? 'would import' : 'imported'} ${imported.length} tag(s) from ${visible(c.source)} into ${gun} (as of ${c.asOf.toISOString()})`,
            ...imported.map(
              (i) =>
                `  ${visible(i.tag)} ${visible(String(i.digest))} ${i.size} bytes  ${visible(i.role)} -> ${visible(i.tufaRole)}${i.shadowed.length ? ` (shadows ${i.shadowed.map((x) => `${visible(x.role)} ${visible(String(x.digest))}`).join(', ')})` : ''}`,
            ),
            ...removed.map(
              (x) =>
                `  ${opts.dryRun ? 'would remove' : 'removed'} ${visible(x.tag)} ${visible(String(x.digest))} from ${visible(x.tufaRole)}: clients found it there before the Notary copy`,
            ),
            ...(plan.unchanged.length
              ? [`  ${plan.unchanged.length} tag(s) already resolve to the same digest`]
              : []),
            ...plan.refused.map(
              (x) => `  refused ${visible(x.tag)} (${visible(x.role)}): ${visible(x.reason)}`,
            ),
          ].join('\n'),
      );
      for (const f of failed)
        ctx.out.warn(
          `${visible(f.role)} did not verify; none of its tags were imported: ${visible(f.message)}`,
        );
      if (failed.length > 0) {
        throw new CliError(
          `${failed.length} Notary role(s) did not verify and were not imported: ${visible(failed.map((f) => f.role).join(', '))}`,
          EXIT.UNTRUSTED,
        );
      }
      return EXIT.OK;
    },
  }),
];
