/**
 * `tufa sign` and `tufa unsign`: one transaction, published atomically. `tufa sign REF` without
 * a digest signs what the registry serves for the tag now (the digest and length of the bytes
 * received); `--all-tags`/`--tags PATTERN` sign many tags listed by the registry.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  applyHashBinPolicy,
  checkTagName,
  DEFAULT_HASH_BIN_THRESHOLD,
  type HashBinDecision,
  matchPathPattern,
  measure,
  type Repository,
  showTagName,
  type TagNameWarning,
  TargetFile,
  visible,
} from '@tufa/core';

import { type BulkEntries, readBulk } from '../bulk.js';
import { CliError, usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand } from '../command.js';
import type { Context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { asFileProblem } from '../files.js';
import { checkDigest, checkTag, gunAndTag, parseImageReference } from '../names.js';
import { positiveInt } from '../options.js';
import {
  connectionFlags,
  connectionOptions,
  imageReference,
  registryClientOptions,
  registryOptions,
  withRegistryHint,
} from '../registry.js';
import { transaction } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';

/** Tags signed by targets above which they move into hash bins: TUFA_HASH_BIN_THRESHOLD, or core's default. */
function hashBinThreshold(): number {
  const raw = process.env.TUFA_HASH_BIN_THRESHOLD;
  if (raw === undefined || raw === '') return DEFAULT_HASH_BIN_THRESHOLD;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw usage(
      `TUFA_HASH_BIN_THRESHOLD must be a whole number of at least 1 (found ${JSON.stringify(raw)})`,
      `TUFA_HASH_BIN_THRESHOLD=${DEFAULT_HASH_BIN_THRESHOLD} (the default)`,
    );
  }
  return n;
}

function parseCustom(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw usage('--custom must be a JSON object');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw usage('--custom must be a JSON object');
  return v;
}

/**
 * A target for one tag. Every tag signed goes through here, or through `checkEntry` then
 * `target` (a bulk): the tag-name policy of core (`checkTagName`: refusals throw, warnings are
 * collected), then the command line's own rule (no white space, which the bulk format could not
 * carry).
 */
function entry(
  tag: string,
  hex: string,
  size: number,
  custom: unknown,
  warnings: TagNameWarning[],
): TargetFile {
  checkEntry(tag, warnings);
  return target(tag, hex, size, custom);
}

/** The target for a tag that `checkEntry` accepted. */
function target(tag: string, hex: string, size: number, custom: unknown): TargetFile {
  const extra: Record<string, unknown> = Object.create(null);
  if (custom !== undefined) extra['custom'] = custom;
  return new TargetFile(tag, size, new Map([['sha256', hex]]), extra);
}

/** The checks of `entry`; `where` names the line of a bulk file, made only when needed. */
function checkEntry(tag: string, warnings: TagNameWarning[], where?: () => string): void {
  // Where the tag came from is named only when there is something to say: a bulk of a million
  // tags would otherwise make a million `file:line` strings.
  let source: string | undefined;
  let found: TagNameWarning[];
  try {
    found = checkTagName(tag);
  } catch (e) {
    if (where === undefined) throw e;
    found = checkTagName(tag, { source: where() }); // throws the same refusal, naming the line
  }
  if (found.length > 0 && where !== undefined) {
    source = where();
    found = checkTagName(tag, { source });
  }
  warnings.push(...found);
  // Tags under this prefix hold TUF metadata in a registry (docs/tuf-in-oci.md): an image tag
  // there could be read as, or overwrite, a metadata tag.
  if (tag.startsWith(TUF_TAG_PREFIX)) {
    source ??= where?.();
    throw usage(
      `${source === undefined ? '' : `${source}: `}the tag ${showTagName(tag)} starts with ${TUF_TAG_PREFIX}, which is reserved for TUF metadata in registries (docs/tuf-in-oci.md)`,
      'push the image under another tag',
    );
  }
  checkTag(tag);
}

/**
 * The targets a command signs, made when iterated: a bulk of a million tags keeps its parsed
 * lines (about 40 bytes each beside the strings), not a million TargetFiles (about six times
 * that), and core stages each as it comes.
 */
interface TargetList extends Iterable<TargetFile> {
  readonly length: number;
  readonly first: TargetFile;
  /** The tag names, without making targets. */
  paths(): Iterable<string>;
}

function listOf(targets: TargetFile[]): TargetList {
  return {
    length: targets.length,
    first: targets[0] as TargetFile,
    paths: () => targets.map((t) => t.path),
    [Symbol.iterator]: () => targets[Symbol.iterator](),
  };
}

/** A bulk's entries as a TargetList (each checked once, here, before anything is signed). */
function bulkList(entries: BulkEntries, warnings: TagNameWarning[]): TargetList {
  for (let i = 0; i < entries.length; i++)
    checkEntry(entries.tags[i] as string, warnings, () => entries.source(i));
  const make = (i: number) =>
    target(entries.tags[i] as string, entries.hex(i), entries.size(i), entries.customOf(i));
  return {
    length: entries.length,
    first: make(0),
    paths: () => entries.tags,
    *[Symbol.iterator]() {
      for (let i = 0; i < entries.length; i++) yield make(i);
    },
  };
}

/**
 * The reserved prefix of TUF-in-OCI metadata tags, as `@tufa/oci` defines it (`isReservedTag`).
 * Repeated here so that signing from a file does not load the registry client; a test checks
 * that the two agree.
 */
export const TUF_TAG_PREFIX = '_tufa.';

/** What the registry serves for GUN:TAG, as the target to sign; an index lists its platforms. */
async function fromRegistry(
  client: import('@tufa/oci').RegistryClient,
  gun: string,
  tag: string,
  custom: unknown,
  warnings: TagNameWarning[],
): Promise<TargetFile> {
  // The tag is checked before anything is asked of the registry.
  entry(tag, '0'.repeat(64), 0, custom, []);
  const ref = await imageReference(gun, tag);
  let got: Awaited<ReturnType<typeof client.getManifest>>;
  try {
    got = await client.getManifest(ref);
  } catch (e) {
    throw withRegistryHint(e);
  }
  const { digest, size } = got.descriptor;
  let withPlatforms = custom;
  if (got.manifests !== undefined) {
    // Signed by the index digest; the platforms' manifests are recorded too, so a client that
    // pulls one platform by digest can check it belongs to the signed index.
    const platforms = got.manifests.map((m) => ({
      digest: m.digest,
      size: m.size,
      mediaType: m.mediaType,
      ...(m.platform ? { platform: m.platform } : {}),
    }));
    withPlatforms = { ...(custom as object | undefined), mediaType: got.descriptor.mediaType, platforms };
  }
  return entry(tag, checkDigest(digest), size, withPlatforms, warnings);
}
/** Warnings about tags, on stderr: a few, then how many more (a bulk file may hold thousands). */
function warnAboutTags(ctx: Context, warnings: TagNameWarning[]): void {
  const SHOWN = 5;
  for (const w of warnings.slice(0, SHOWN)) ctx.out.warn(w.message);
  if (warnings.length > SHOWN)
    ctx.out.warn(`${warnings.length - SHOWN} more tag(s) are not OCI image tags (--json lists them all)`);
}

/**
 * Refuses to sign into `targets` a tag that a delegated role signs, unless forced: clients search
 * `targets` first, so its entry would silently replace the delegated team's signature. Refuses,
 * always, a tag bound for a hash bin that a role searched before the bins hides from clients.
 */
async function refuseShadowing(
  ctx: Context,
  repo: Repository,
  gun: string,
  targets: Iterable<TargetFile>,
  force: boolean,
): Promise<void> {
  // No delegated role listed by targets: nothing can be shadowed or searched before the bins
  // (a bulk of a million tags would otherwise walk the delegations once per tag).
  if ((await repo.getTargets('targets')).delegations?.roles === undefined) return;
  const shadowed: string[] = [];
  for (const t of targets) {
    if ((await repo.roleForTarget(t.path)) !== 'targets') {
      // A hash bin listed after the delegated roles (ADR 0025): a role searched before it that
      // signs the tag, or ends the search for it, would hide the bin's entry. --force cannot help.
      const hit = await repo.searchedBeforeBins(t.path);
      if (hit) {
        const why = hit.why === 'signs' ? 'signs it' : 'is a terminating delegation for it';
        throw usage(
          `${visible(t.path)} cannot go into the hash bins of ${gun}: clients search ${visible(hit.role)} first, and it ${why}`,
          `tufa sign ${gun}:${visible(t.path)} --role ${visible(hit.role)}`,
        );
      }
      continue;
    }
    const signers = await repo.delegatedSignersOf(t.path);
    if (signers.length > 0)
      shadowed.push(`${visible(t.path)} (signed by ${signers.map((r) => visible(r)).join(', ')})`);
  }
  if (shadowed.length === 0) return;
  const list =
    shadowed.length > 5
      ? `${shadowed.slice(0, 5).join(', ')} and ${shadowed.length - 5} more`
      : shadowed.join(', ');
  if (!force) {
    throw usage(
      `signing into targets would override what a delegated role signs for ${gun}: ${list}`,
      'sign into that role with --role ROLE, or give --force to override it in targets',
    );
  }
  ctx.out.warn(`targets now overrides the delegated role's signature for ${list}`);
}

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'sign',
    description: 'sign tags and publish',
    arguments: [argument('<gun>', 'repository, or GUN:TAG'), argument('[tag]', 'tag')],
    options: [
      option('-d, --digest <digest>', 'manifest digest, sha256:HEX'),
      option('-s, --size <bytes>', 'manifest size in bytes', { parse: positiveInt }),
      option('-m, --manifest <file>', 'compute digest and size from a manifest (or any file)'),
      option(
        '-b, --bulk <file>',
        'sign many tags from a file (or - for stdin): lines "TAG sha256:HEX SIZE", or a JSON array',
      ),
      option('--all-tags', 'sign every tag the registry lists for GUN (as it serves them now)'),
      option('--tags <pattern>', 'sign the tags the registry lists for GUN that match PATTERN (*, ?, [seq])'),
      option('-r, --role <role>', 'sign into a delegated role'),
      option('--custom <json>', 'custom metadata (a JSON object) for the target'),
      option(
        '-f, --force',
        'sign into targets even where a delegated role signs the tag (targets then wins)',
      ),
      option(
        '--ca <file>',
        'extra CA certificates (PEM) for the registry, and for the registry or trust server the repository is published on',
      ),
      ...registryOptions,
    ],
    async handler(ctx, [first, second], opts) {
      const custom = parseCustom(opts.custom);
      const warnings: TagNameWarning[] = [];
      let gun: string;
      let targets: TargetList;
      const registryClient = async () => {
        const { RegistryClient } = await import('@tufa/oci');
        return new RegistryClient(await registryClientOptions(opts));
      };
      if (opts.allTags || opts.tags !== undefined) {
        if (opts.allTags && opts.tags !== undefined)
          throw usage('give --all-tags or --tags PATTERN, not both');
        if (second !== undefined || opts.bulk || opts.digest || opts.manifest || opts.size !== undefined)
          throw usage('--all-tags and --tags take the tags and digests from the registry: give only GUN');
        const ref = parseImageReference(first);
        if (ref.tag !== undefined || ref.digest !== undefined)
          throw usage(
            `give the repository without a tag: tufa sign ${ref.gun} ${opts.allTags ? '--all-tags' : '--tags PATTERN'}`,
          );
        gun = ref.gun;
        const client = await registryClient();
        let listed: string[];
        try {
          listed = await client.listTags(await imageReference(gun, undefined));
        } catch (e) {
          throw withRegistryHint(e);
        }
        // Metadata tags of a TUF repository in the same registry repository are not images.
        const pattern = opts.tags;
        const chosen = listed.filter(
          (t) => !t.startsWith(TUF_TAG_PREFIX) && (pattern === undefined || matchPathPattern(t, pattern)),
        );
        if (chosen.length === 0) {
          throw new CliError(
            `the registry lists no image tags${pattern === undefined ? '' : ` matching ${JSON.stringify(pattern)}`} for ${gun}`,
            EXIT.NOT_FOUND,
            pattern === undefined ? undefined : `tufa sign ${gun} --all-tags`,
          );
        }
        const bar = ctx.out.progress(`reading ${chosen.length} manifest(s)`, chosen.length);
        const fetched: TargetFile[] = [];
        for (const t of chosen) {
          fetched.push(await fromRegistry(client, gun, t, custom, warnings));
          bar.update(fetched.length);
        }
        bar.end();
        targets = listOf(fetched);
      } else if (opts.bulk) {
        const ref = parseImageReference(first);
        if (
          second !== undefined ||
          ref.tag !== undefined ||
          ref.digest !== undefined ||
          opts.digest ||
          opts.manifest
        )
          throw usage(
            '--bulk takes the tags from the file: give only GUN',
            `tufa sign ${ref.gun} --bulk ${opts.bulk}`,
          );
        gun = ref.gun;
        const bulk = await readBulk(opts.bulk, custom);
        if (bulk.length === 0) throw usage(`${opts.bulk} lists no tags`);
        for (const f of bulk.folded) ctx.out.warn(f);
        targets = bulkList(bulk, warnings);
      } else {
        const ref = gunAndTag(first, second);
        gun = ref.gun;
        if (opts.manifest) {
          if (opts.digest || opts.size !== undefined)
            throw usage('give --manifest, or --digest and --size, not both');
          const file = opts.manifest;
          const st = await stat(file).catch((e: unknown) => asFileProblem(e, file, 'read'));
          if (!st.isFile())
            throw usage(
              `cannot read ${file}: not a regular file`,
              'give the manifest file itself (--manifest FILE)',
            );
          const size = st.size;
          const bar = ctx.out.progress(`hashing ${file}`, size);
          const m = await measure(createReadStream(file), ['sha256'], (n) => bar.update(n));
          bar.end();
          targets = listOf([entry(ref.tag, m.hashes.get('sha256') as string, m.length, custom, warnings)]);
        } else {
          if (!(opts.digest ?? ref.digest) && opts.size === undefined) {
            // Neither given: sign what the registry serves for the tag now.
            targets = listOf([await fromRegistry(await registryClient(), gun, ref.tag, custom, warnings)]);
          } else if (!(opts.digest ?? ref.digest) || opts.size === undefined) {
            throw usage(
              'give --digest sha256:HEX and --size BYTES together (or --manifest FILE, or neither to sign what the registry serves)',
              `tufa sign ${gun} ${ref.tag} --digest sha256:… --size …`,
            );
          } else {
            const hex = checkDigest((ref.digest ?? opts.digest) as string);
            if (ref.digest && opts.digest && ref.digest !== opts.digest)
              throw usage('the digest in the reference and --digest differ');
            targets = listOf([entry(ref.tag, hex, opts.size, custom, warnings)]);
          }
        }
      }
      warnAboutTags(ctx, warnings);
      const roles = [opts.role ?? 'targets', 'snapshot', 'timestamp'];
      const threshold = hashBinThreshold();
      const bar = ctx.out.progress(`signing ${targets.length} tag(s)`, targets.length);
      let layout: HashBinDecision | undefined;
      const {
        result: role,
        written,
        versions,
      } = await transaction(
        gun,
        { roles, secrets: secretsFromEnvironment(), connection: connectionFlags(opts) },
        async (repo) => {
          if (!opts.role) await refuseShadowing(ctx, repo, gun, targets, opts.force === true);
          // Tags signed by targets itself may grow past the threshold: core decides whether they
          // move into hash bins (and does it). A delegated role's tags are not targets' own. When
          // targets delegates nothing yet, the decision is made for the count after this edit and
          // before it, so a bulk goes straight into its bins (never one flat role of a million).
          // With bins already, a bulk larger than they suit re-bins them first (ADR 0031).
          let before: HashBinDecision | undefined;
          if (!opts.role) {
            const top = await repo.getTargets('targets');
            if (top.delegations === undefined) {
              let expected = top.targets.size;
              for (const p of targets.paths()) if (!top.targets.has(p)) expected++;
              before = await applyHashBinPolicy(repo, threshold, { expected });
            } else if (await repo.hashBinRoles()) {
              before = await applyHashBinPolicy(repo, threshold, { expected: targets.length });
            }
          }
          await repo.addTargets(targets, opts.role ? { role: opts.role } : {});
          bar.update(targets.length);
          layout =
            opts.role !== undefined
              ? undefined
              : before?.action === 'move' || before?.action === 'rebin'
                ? before
                : await applyHashBinPolicy(repo, threshold);
          return opts.role ?? (await repo.roleForTarget(targets.first.path));
        },
      );
      bar.end();
      if (layout?.action === 'move')
        ctx.out.info(`${gun}: moved the tags into hash bins (TAP 15): ${layout.reason}`);
      if (layout?.action === 'rebin') ctx.out.info(`${gun}: ${layout.reason}`);
      if (layout?.action === 'cannot-move')
        ctx.out.warn(`${gun}: tags not moved into hash bins: ${layout.reason}`);
      ctx.out.result(
        {
          gun,
          // A getter: only --json reads it (a million entries built for nothing otherwise).
          get signed() {
            return [...targets].map((t) => ({
              tag: t.path,
              digest: `sha256:${t.hashes.get('sha256')}`,
              size: t.length,
              role,
            }));
          },
          versions: Object.fromEntries(versions),
          written,
          warnings: warnings.map((w) => w.message),
          hashBins: layout ? { action: layout.action, reason: layout.reason } : null,
        },
        () =>
          targets.length === 1
            ? `signed ${gun}:${visible(targets.first.path)} sha256:${targets.first.hashes.get('sha256')} (${targets.first.length} bytes) in ${visible(role)}`
            : `signed ${targets.length} tags in ${gun} (${visible(role)})`,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'unsign',
    description: 'remove a signed tag and publish',
    arguments: [argument('<gun>', 'repository, or GUN:TAG'), argument('[tag]', 'tag')],
    options: [option('-r, --role <role>', 'the delegated role the tag is in'), ...connectionOptions],
    async handler(ctx, [first, second], opts) {
      const { gun, tag } = gunAndTag(first, second);
      const roles = [opts.role ?? 'targets', 'snapshot', 'timestamp'];
      const { written } = await transaction(
        gun,
        { roles, secrets: secretsFromEnvironment(), connection: connectionFlags(opts) },
        async (repo) => {
          if (!opts.role && (await repo.roleForTarget(tag)) === 'targets') {
            const signers = (await repo.getTargets('targets')).targets.has(tag)
              ? []
              : await repo.delegatedSignersOf(tag);
            if (signers.length > 0) {
              throw new CliError(
                `${gun}:${visible(tag)} is not signed by targets: it is in the delegated role ${signers.map((r) => visible(r)).join(', ')}`,
                EXIT.NOT_FOUND,
                `tufa unsign ${gun} ${visible(tag)} --role ${visible(signers[0] as string)}`,
              );
            }
          }
          await repo.removeTarget(tag, opts.role ? { role: opts.role } : {});
        },
      );
      ctx.out.result({ gun, unsigned: tag, written }, () => `removed ${gun}:${visible(tag)}`);
      return EXIT.OK;
    },
  }),
];
