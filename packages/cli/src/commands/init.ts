/** `tufa init GUN`: keys and the first version of every role, published. */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type Key,
  METADATA_DIR,
  Repository,
  rootFileName,
  type Signer,
  TIMESTAMP_FILE_NAME,
} from '@tufa/core';
import { CliError, usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand, requiredOption } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { keyPath, publishedDir, type RepoConfig, repoConfigPath, writeRepoConfig } from '../home.js';
import { generateKeyFile, generateNamedKey, keyKind, loadPublicKey, loadSigner, toUri } from '../keys.js';
import { type Location, parsePublishTo } from '../locations.js';
import { checkGun, slug } from '../names.js';
import { collect, keyTypeOption, positiveInt } from '../options.js';
import { publishStorage } from '../repo.js';
import { forRole, secretsFromEnvironment } from '../secrets.js';

/** `--publish-to LOCATION` and its older spelling `-p, --publish-root DIR`. */
const publishOptions = [
  option('--publish-to <location>', 'where the repository is written: DIR or oci://REGISTRY/REPOSITORY'),
  option('-p, --publish-root <dir>', 'the same as --publish-to DIR (<dir>/<gun>/metadata)'),
] as const;

/** Where to publish, from exactly one of the two spellings. */
function publishLocation(
  gun: string,
  command: string,
  opts: { publishTo?: string | undefined; publishRoot?: string | undefined },
): Location {
  if (opts.publishTo !== undefined && opts.publishRoot !== undefined)
    throw usage('give --publish-to or --publish-root, not both (--publish-root DIR is --publish-to DIR)');
  if (opts.publishRoot !== undefined) return parsePublishTo(opts.publishRoot, '--publish-root');
  if (opts.publishTo !== undefined) return parsePublishTo(opts.publishTo);
  throw usage(
    'where is the repository published? give --publish-to DIR or --publish-to oci://REGISTRY/REPOSITORY',
    `tufa ${command} ${gun} --publish-to DIR …`,
  );
}

/**
 * Writing a repository's configuration for a registry location (OciRepositoryStorage, issue 14)
 * is not wired into the CLI yet: said here, in one place, naming the location.
 */
function refuseOciPublish(location: Location, command: string): never {
  throw usage(
    `--publish-to ${location.kind === 'oci' ? location.location : location.kind}: tufa ${command} does not publish to an OCI registry yet`,
    `tufa ${command} … --publish-to DIR`,
  );
}

/** One machine holds one configuration per GUN. */
function refuseIfSetUp(gun: string): void {
  if (existsSync(repoConfigPath(gun))) {
    throw new CliError(
      `${gun} is already set up on this machine (${repoConfigPath(gun)})`,
      EXIT.USAGE,
      `tufa status ${gun}`,
    );
  }
}

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'init',
    description: 'create a repository and its keys',
    arguments: [argument('<gun>', 'repository name, e.g. registry.example.com/team/app')],
    options: [
      ...publishOptions,
      option('--root-key <ref>', 'an existing root key (repeatable)', { parse: collect }),
      option('--root-key-out <dir>', 'where to write a new root key: offline media'),
      option('--root-threshold <n>', 'root signatures required', { parse: positiveInt, default: 1 }),
      option('--targets-key <ref>', 'the targets key (default: generate GUN-targets)'),
      option('--snapshot-key <ref>', 'the snapshot key (default: generate)'),
      option('--timestamp-key <ref>', 'the timestamp key (default: generate)'),
      keyTypeOption('type of generated keys'),
      option('--unencrypted', 'store generated keys without a passphrase (not recommended)'),
    ],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      const secrets = secretsFromEnvironment();
      const kind = keyKind(opts.type);
      const location = publishLocation(gun, 'init', opts);
      refuseIfSetUp(gun);
      if (location.kind !== 'dir') refuseOciPublish(location, 'init');
      const publishRoot = location.dir;
      const dir = publishedDir(publishRoot, gun);
      if (existsSync(join(dir, METADATA_DIR, TIMESTAMP_FILE_NAME))) {
        throw new CliError(
          `a repository is already published at ${dir}`,
          EXIT.USAGE,
          'choose another --publish-to, or remove it',
        );
      }
      const rootRefs = opts.rootKey ?? [];
      if (rootRefs.length === 0 && !opts.rootKeyOut) {
        throw usage(
          'the root key must be kept offline: name where to write a new one, or give an existing one',
          `tufa init ${gun} --publish-to ${opts.publishTo ?? opts.publishRoot} --root-key-out /media/OFFLINE-USB`,
        );
      }
      const rootSigners: Signer[] = [];
      const generated: { role: string; path: string; keyid: string }[] = [];
      const online: Record<'targets' | 'snapshot' | 'timestamp', { ref: string; signer: Signer }> =
        {} as never;
      let written: string[];
      let published = false;
      try {
        for (const ref of rootRefs) rootSigners.push(await loadSigner(ref, secrets));
        if (rootRefs.length === 0 && opts.rootKeyOut) {
          const path = resolve(opts.rootKeyOut, `root-${slug(gun)}.json`);
          const k = await generateKeyFile(path, `root-${slug(gun)}`, kind, secrets, {
            unencrypted: opts.unencrypted === true,
          });
          generated.push({ role: 'root', path, keyid: k.key.keyid() });
          rootSigners.push(k.signer); // just made: asking for its passphrase again would be noise
        }
        if (opts.rootThreshold < 1 || opts.rootThreshold > rootSigners.length) {
          throw usage(
            `--root-threshold ${opts.rootThreshold} needs that many root keys (have ${rootSigners.length})`,
          );
        }

        for (const role of ['targets', 'snapshot', 'timestamp'] as const) {
          const given = opts[`${role}Key`];
          if (given) {
            const ref = toUri(given);
            online[role] = { ref, signer: await loadSigner(ref, forRole(secrets, gun, role)) };
            continue;
          }
          const name = `${slug(gun)}-${role}`;
          const k = await generateNamedKey(name, kind, forRole(secrets, gun, role), {
            unencrypted: opts.unencrypted === true,
          });
          generated.push({ role, path: k.path, keyid: k.key.keyid() });
          online[role] = { ref: toUri(keyPath(name)), signer: k.signer }; // not unlocked again
        }

        const keyOf = (s: Signer): Key => s.key;
        const repo = await Repository.create(publishStorage(dir, gun), {
          keys: {
            root: rootSigners.map(keyOf),
            targets: [online.targets.signer.key],
            snapshot: [online.snapshot.signer.key],
            timestamp: [online.timestamp.signer.key],
          },
          thresholds: { root: opts.rootThreshold },
          signers: [...rootSigners, online.targets.signer, online.snapshot.signer, online.timestamp.signer],
        });
        ({ written } = await repo.publish());
        published = true;
        await writeRepoConfig({
          gun,
          publishRoot,
          keys: {
            targets: online.targets.ref,
            snapshot: online.snapshot.ref,
            timestamp: online.timestamp.ref,
          },
          delegations: new Map(),
        });
      } catch (e) {
        // Nothing half-made may block the next attempt (a wrong passphrase for a given key, a
        // failed publish): the keys made for a repository that was not published go. Once it is
        // published they are its keys and stay.
        if (!published) for (const g of generated) await rm(g.path, { force: true });
        throw e;
      }
      const rootPath = join(dir, METADATA_DIR, rootFileName(1));
      ctx.out.result(
        {
          gun,
          repository: dir,
          root: {
            version: 1,
            path: rootPath,
            keyids: rootSigners.map((s) => s.keyid),
            threshold: opts.rootThreshold,
          },
          keys: Object.fromEntries(
            (['targets', 'snapshot', 'timestamp'] as const).map((r) => [
              r,
              { keyid: online[r].signer.keyid, ref: online[r].ref },
            ]),
          ),
          generated,
          written,
        },
        () =>
          [
            `initialised ${gun}`,
            `  published:  ${dir}`,
            `  trust root: ${rootPath}  (give this file to clients: tufa verify --root ${rootPath} …)`,
            ...generated.map((g) => `  new ${g.role} key ${g.keyid.slice(0, 16)}… in ${g.path}`),
          ].join('\n'),
      );
      for (const g of generated.filter((x) => x.role === 'root')) {
        ctx.out.warn(
          `the root key was written to ${g.path}: keep it offline; everyday signing never needs it`,
        );
      }
      return EXIT.OK;
    },
  }),
  /** `tufa attach`: records the keys for a repository published elsewhere, after checking root authorises them. */
  defineCommand({
    name: 'attach',
    description: 'sign for a repository that was initialised elsewhere (e.g. from a CI job)',
    arguments: [argument('<gun>', 'repository name')],
    options: [
      ...publishOptions,
      requiredOption('--targets-key <ref>', 'the targets key (a key name, path or URI such as env:VAR)'),
      requiredOption('--snapshot-key <ref>', 'the snapshot key'),
      requiredOption('--timestamp-key <ref>', 'the timestamp key'),
    ],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      const location = publishLocation(gun, 'attach', opts);
      refuseIfSetUp(gun);
      if (location.kind !== 'dir') refuseOciPublish(location, 'attach');
      const publishRoot = location.dir;
      const dir = publishedDir(publishRoot, gun);
      const repo = await Repository.open(publishStorage(dir, gun)).catch(() => {
        throw new CliError(
          `no repository is published at ${dir}`,
          EXIT.NOT_FOUND,
          `tufa init ${gun} --publish-to …`,
        );
      });
      const root = repo.currentRoot;
      const secrets = secretsFromEnvironment();
      const keys: Record<string, string> = {};
      for (const role of ['targets', 'snapshot', 'timestamp'] as const) {
        const ref = toUri(opts[`${role}Key`]);
        const key = await loadPublicKey(ref, secrets);
        const authorised = root.roles
          .get(role)
          ?.keyids.some((id) => root.keys.get(id)?.materialId() === key.materialId());
        if (!authorised) {
          throw new CliError(
            `the key given for ${role} is not one of its keys in root version ${root.version}`,
            EXIT.KEY,
            `tufa status ${gun}`,
          );
        }
        keys[role] = ref;
      }
      await writeRepoConfig({
        gun,
        publishRoot,
        keys: keys as RepoConfig['keys'],
        delegations: new Map(),
      });
      ctx.out.result({ gun, repository: dir, keys }, () => `attached ${gun} at ${dir}`);
      return EXIT.OK;
    },
  }),
];
