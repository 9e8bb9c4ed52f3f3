/** `tufa sign` and `tufa unsign`: one transaction, published atomically. */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import {
  applyHashBinPolicy,
  checkTagName,
  DEFAULT_HASH_BIN_THRESHOLD,
  type HashBinDecision,
  measure,
  type TagNameWarning,
  TargetFile,
  visible,
} from '@tufa/core';
import { CliError, usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand } from '../command.js';
import type { Context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { checkDigest, checkTag, gunAndTag, parseImageReference } from '../names.js';
import { positiveInt } from '../options.js';
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
 * A target for one tag. Every tag signed goes through here: the tag-name policy of core
 * (`checkTagName`: refusals throw, warnings are collected), then the command line's own rule
 * (no white space, which the bulk format could not carry).
 */
function entry(
  tag: string,
  hex: string,
  size: number,
  custom: unknown,
  warnings: TagNameWarning[],
  source?: string,
): TargetFile {
  warnings.push(...checkTagName(tag, source === undefined ? {} : { source }));
  const extra: Record<string, unknown> = Object.create(null);
  if (custom !== undefined) extra['custom'] = custom;
  return new TargetFile(checkTag(tag), size, new Map([['sha256', hex]]), extra);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readBulk(source: string, custom: unknown, warnings: TagNameWarning[]): Promise<TargetFile[]> {
  const text =
    source === '-'
      ? await readStdin()
      : await readFile(source, 'utf8').catch(() => {
          throw new CliError(`cannot read ${source}`, EXIT.NOT_FOUND);
        });
  const out: TargetFile[] = [];
  if (text.trimStart().startsWith('[')) {
    let items: unknown;
    try {
      items = JSON.parse(text);
    } catch {
      throw usage(`${source}: not a JSON array`);
    }
    if (!Array.isArray(items)) throw usage(`${source}: not a JSON array`);
    for (const [i, it] of items.entries()) {
      const item: Record<string, unknown> =
        typeof it === 'object' && it !== null && !Array.isArray(it) ? it : Object.create(null);
      const own = (k: string) => (Object.hasOwn(item, k) ? item[k] : undefined);
      const tag = own('tag');
      const digest = own('digest');
      const size = own('size');
      if (
        typeof tag !== 'string' ||
        typeof digest !== 'string' ||
        typeof size !== 'number' ||
        !Number.isSafeInteger(size) ||
        size < 0
      ) {
        throw usage(`${source}[${i}]: expected {"tag", "digest": "sha256:…", "size"}`);
      }
      out.push(entry(tag, checkDigest(digest), size, own('custom') ?? custom, warnings, `${source}[${i}]`));
    }
    return out;
  }
  for (const [n, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [tag, digest, size, extra] = line.split(/\s+/);
    if (!tag || !digest || !size || extra !== undefined || !/^\d+$/.test(size)) {
      throw usage(`${source}:${n + 1}: expected "TAG sha256:HEX SIZE"`);
    }
    out.push(entry(tag, checkDigest(digest), Number(size), custom, warnings, `${source}:${n + 1}`));
  }
  return out;
}

/** Warnings about tags, on stderr: a few, then how many more (a bulk file may hold thousands). */
function warnAboutTags(ctx: Context, warnings: TagNameWarning[]): void {
  const SHOWN = 5;
  for (const w of warnings.slice(0, SHOWN)) ctx.out.warn(w.message);
  if (warnings.length > SHOWN)
    ctx.out.warn(`${warnings.length - SHOWN} more tag(s) are not OCI image tags (--json lists them all)`);
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
      option('-r, --role <role>', 'sign into a delegated role'),
      option('--custom <json>', 'custom metadata (a JSON object) for the target'),
    ],
    async handler(ctx, [first, second], opts) {
      const custom = parseCustom(opts.custom);
      const warnings: TagNameWarning[] = [];
      let gun: string;
      let targets: TargetFile[];
      if (opts.bulk) {
        if (second !== undefined || opts.digest || opts.manifest)
          throw usage('--bulk takes the tags from the file: give only GUN');
        gun = parseImageReference(first).gun;
        targets = await readBulk(opts.bulk, custom, warnings);
        if (targets.length === 0) throw usage(`${opts.bulk} lists no tags`);
      } else {
        const ref = gunAndTag(first, second);
        gun = ref.gun;
        if (opts.manifest) {
          if (opts.digest || opts.size !== undefined)
            throw usage('give --manifest, or --digest and --size, not both');
          const size = (
            await stat(opts.manifest).catch(() => {
              throw new CliError(`cannot read ${opts.manifest}`, EXIT.NOT_FOUND);
            })
          ).size;
          const bar = ctx.out.progress(`hashing ${opts.manifest}`, size);
          const m = await measure(createReadStream(opts.manifest), ['sha256'], (n) => bar.update(n));
          bar.end();
          targets = [entry(ref.tag, m.hashes.get('sha256') as string, m.length, custom, warnings)];
        } else {
          if (!(opts.digest ?? ref.digest) || opts.size === undefined) {
            throw usage(
              'give --digest sha256:HEX and --size BYTES (or --manifest FILE)',
              `tufa sign ${gun} ${ref.tag} --digest sha256:… --size …`,
            );
          }
          const hex = checkDigest((ref.digest ?? opts.digest) as string);
          if (ref.digest && opts.digest && ref.digest !== opts.digest)
            throw usage('the digest in the reference and --digest differ');
          targets = [entry(ref.tag, hex, opts.size, custom, warnings)];
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
      } = await transaction(gun, { roles, secrets: secretsFromEnvironment() }, async (repo) => {
        await repo.addTargets(targets, opts.role ? { role: opts.role } : {});
        bar.update(targets.length);
        // Tags signed by targets itself may have grown past the threshold: core decides whether
        // they move into hash bins (and does it). A delegated role's tags are not targets' own.
        layout = opts.role ? undefined : await applyHashBinPolicy(repo, threshold);
        return opts.role ?? (await repo.roleForTarget((targets[0] as TargetFile).path));
      });
      bar.end();
      if (layout?.action === 'move')
        ctx.out.info(`${gun}: moved the tags into hash bins (TAP 15): ${layout.reason}`);
      if (layout?.action === 'cannot-move')
        ctx.out.warn(`${gun}: tags not moved into hash bins: ${layout.reason}`);
      ctx.out.result(
        {
          gun,
          signed: targets.map((t) => ({
            tag: t.path,
            digest: `sha256:${t.hashes.get('sha256')}`,
            size: t.length,
            role,
          })),
          versions: Object.fromEntries(versions),
          written,
          warnings: warnings.map((w) => w.message),
          hashBins: layout ? { action: layout.action, reason: layout.reason } : null,
        },
        () =>
          targets.length === 1
            ? `signed ${gun}:${visible(String(targets[0]?.path))} sha256:${targets[0]?.hashes.get('sha256')} (${targets[0]?.length} bytes) in ${visible(role)}`
            : `signed ${targets.length} tags in ${gun} (${visible(role)})`,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'unsign',
    description: 'remove a signed tag and publish',
    arguments: [argument('<gun>', 'repository, or GUN:TAG'), argument('[tag]', 'tag')],
    options: [option('-r, --role <role>', 'the delegated role the tag is in')],
    async handler(ctx, [first, second], opts) {
      const { gun, tag } = gunAndTag(first, second);
      const roles = [opts.role ?? 'targets', 'snapshot', 'timestamp'];
      const { written } = await transaction(gun, { roles, secrets: secretsFromEnvironment() }, (repo) =>
        repo.removeTarget(tag, opts.role ? { role: opts.role } : {}),
      );
      ctx.out.result({ gun, unsigned: tag, written }, () => `removed ${gun}:${visible(tag)}`);
      return EXIT.OK;
    },
  }),
];
