/**
 * `tufa init GUN`: keys and the first version of every role, published to a directory, a
 * registry or a trust server (which makes and holds the snapshot and timestamp keys itself).
 * `tufa attach GUN`: this machine signs for a repository published there already.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type Key,
  METADATA_DIR,
  Metadata,
  Repository,
  rootFileName,
  type Signer,
  TufError,
} from '@tufa/core';
import { CliError, usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand, requiredOption } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { readOrExplain } from '../files.js';
import { keyPath, repoConfigPath, writeRepoConfig } from '../home.js';
import { generateKeyFile, generateNamedKey, keyKind, loadPublicKey, loadSigner, toUri } from '../keys.js';
import { type Location, locationId, parsePublishTo } from '../locations.js';
import { checkGun, slug } from '../names.js';
import { collect, keyTypeOption, positiveInt } from '../options.js';
import { pinPublisherRoot } from '../publisher-root.js';
import { connectionGiven, connectionOptions, type RegistryFlags } from '../registry.js';
import { type Publication, publicationAt, serverCall, serverClientOf, whereOf } from '../repo.js';
import { forRole, secretsFromEnvironment } from '../secrets.js';

/**
 * `--publish-to LOCATION` and its older spelling `-p, --publish-root DIR`, and how a registry or
 * trust server there is reached (`--ca`, remembered; `--insecure-registry`, `--token-realm-host`).
 */
const publishOptions = [
  option(
    '--publish-to <location>',
    'where the repository is written: DIR, oci://REGISTRY/REPOSITORY or https://TRUST-SERVER',
  ),
  option('-p, --publish-root <dir>', 'the same as --publish-to DIR (<dir>/<gun>/metadata)'),
  ...connectionOptions,
] as const;

/**
 * The connection flags for `location`, refused for a directory (read from disk: they would do
 * nothing, and a CA remembered for it would mislead); and the `ca` to remember, absolute.
 */
function connectionAt(location: Location, flags: RegistryFlags): { connection: RegistryFlags; ca?: string } {
  if (location.kind === 'dir' && connectionGiven(flags)) {
    throw usage(
      '--ca, --insecure-registry and --token-realm-host apply to a registry (oci://) or a trust server (https://) only',
      `leave them out for a directory (${location.dir})`,
    );
  }
  if (flags.ca === undefined) return { connection: flags };
  const ca = resolve(flags.ca);
  return { connection: { ...flags, ca }, ca };
}

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
    'where is the repository published? give --publish-to DIR, oci://REGISTRY/REPOSITORY or https://TRUST-SERVER',
    `tufa ${command} ${gun} --publish-to DIR …`,
  );
}

/** `--publish-to` of a place that holds a repository of the GUN already is refused, wherever it is. */
async function refuseIfPublished(p: Publication): Promise<void> {
  if ((await serverCall(p.location, p.gun, () => p.storage.read('metadata/timestamp.json'))) !== undefined) {
    throw new CliError(
      `a repository is already published at ${whereOf(p)}`,
      EXIT.USAGE,
      p.location.kind === 'dir'
        ? 'choose another --publish-to, or remove it'
        : `choose another --publish-to, or sign for it: tufa attach ${p.gun} --publish-to ${locationId(p.location)} …`,
    );
  }
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
      const { connection, ca } = connectionAt(location, opts);
      refuseIfSetUp(gun);
      const publication = await publicationAt(gun, location, connection);
      // A trust server makes and holds the snapshot and timestamp keys (docs/server.md).
      const onServer = publication.signsOnline;
      for (const role of ['snapshot', 'timestamp'] as const) {
        if (onServer && opts[`${role}Key`] !== undefined) {
          throw usage(
            `--${role}-key: a trust server signs ${role} with a key it makes and holds itself`,
            `tufa init ${gun} --publish-to ${locationId(location)} --root-key-out DIR (without --snapshot-key and --timestamp-key)`,
          );
        }
      }
      await refuseIfPublished(publication);
      const rootRefs = opts.rootKey ?? [];
      if (rootRefs.length === 0 && !opts.rootKeyOut) {
        throw usage(
          'the root key must be kept offline: name where to write a new one, or give an existing one',
          `tufa init ${gun} --publish-to ${opts.publishTo ?? opts.publishRoot} --root-key-out /media/OFFLINE-USB`,
        );
      }
      const rootSigners: Signer[] = [];
      const generated: { role: string; path: string; keyid: string }[] = [];
      const online: Partial<Record<'targets' | 'snapshot' | 'timestamp', { ref: string; signer: Signer }>> =
        {};
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

        for (const role of onServer
          ? (['targets'] as const)
          : (['targets', 'snapshot', 'timestamp'] as const)) {
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
        const targets = online.targets as { ref: string; signer: Signer };
        const server = serverClientOf(publication);
        if (server) {
          const versions = await serverCall(location, gun, () =>
            server.create(gun, {
              keys: { root: rootSigners.map(keyOf), targets: [targets.signer.key] },
              thresholds: { root: opts.rootThreshold },
              signers: [...rootSigners, targets.signer],
            }),
          );
          written = versions.map(({ role, version }) =>
            role === 'timestamp' ? 'metadata/timestamp.json' : `metadata/${version}.${role}.json`,
          );
          // Pinned only if it is the root made here: the root keys are ours and offline, so a
          // server cannot make one they sign (publisher-root.ts).
          const bytes = await serverCall(location, gun, () =>
            publication.storage.read(`${METADATA_DIR}/${rootFileName(1)}`),
          );
          const root = bytes && Metadata.fromBytes(bytes, 'root');
          const ids = (keys: Iterable<Key | undefined>) =>
            [...keys]
              .map((k) => k?.materialId())
              .sort()
              .join(',');
          if (
            !root ||
            ids(root.signed.role('root').keyids.map((id) => root.signed.keys.get(id))) !==
              ids(rootSigners.map(keyOf))
          ) {
            throw new CliError(
              `${whereOf(publication)} does not serve the root made here as version 1 of ${gun}`,
              EXIT.UNTRUSTED,
            );
          }
          await root.verifyDelegate('root', root);
          await pinPublisherRoot(gun, root);
        } else {
          const { snapshot, timestamp } = online as Required<typeof online>;
          const repo = await Repository.create(publication.storage, {
            keys: {
              root: rootSigners.map(keyOf),
              targets: [targets.signer.key],
              snapshot: [snapshot.signer.key],
              timestamp: [timestamp.signer.key],
            },
            thresholds: { root: opts.rootThreshold },
            signers: [...rootSigners, targets.signer, snapshot.signer, timestamp.signer],
          });
          ({ written } = await repo.publish());
          await pinPublisherRoot(gun, repo.rootMetadata);
        }
        published = true;
        await writeRepoConfig({
          gun,
          publishTo: location,
          ...(ca !== undefined ? { ca } : {}),
          keys: {
            targets: targets.ref,
            ...(online.snapshot ? { snapshot: online.snapshot.ref } : {}),
            ...(online.timestamp ? { timestamp: online.timestamp.ref } : {}),
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
      const where = whereOf(publication);
      // A directory holds the root file itself; elsewhere a client gets it as an export.
      const rootPath = location.kind === 'dir' ? join(where, METADATA_DIR, rootFileName(1)) : null;
      ctx.out.result(
        {
          gun,
          repository: where,
          root: {
            version: 1,
            path: rootPath,
            keyids: rootSigners.map((s) => s.keyid),
            threshold: opts.rootThreshold,
          },
          keys: Object.fromEntries(
            Object.entries(online).map(([r, k]) => [r, { keyid: k.signer.keyid, ref: k.ref }]),
          ),
          generated,
          written,
        },
        () =>
          [
            `initialised ${gun}`,
            `  published:  ${where}`,
            rootPath !== null
              ? `  trust root: ${rootPath}  (give this file to clients: tufa verify --root ${rootPath} …)`
              : `  trust root: 1.root.json at ${where}  (export it for clients: tufa publish ${gun} --to DIR)`,
            ...(onServer ? [`  snapshot and timestamp: signed by ${where} with its own keys`] : []),
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
      option('--snapshot-key <ref>', 'the snapshot key (not on a trust server: it holds that key)'),
      option('--timestamp-key <ref>', 'the timestamp key (not on a trust server: it holds that key)'),
      option(
        '--root <file>',
        'a root of the repository you got out of band (its 1.root.json): the published root chain must lead from it (without it, the published root is trusted on first use)',
      ),
    ],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      const location = publishLocation(gun, 'attach', opts);
      // Read before anything else: a wrong file is a usage error, not a half-made attach.
      const trustedRoot = opts.root === undefined ? undefined : await readTrustedRoot(opts.root);
      const { connection, ca } = connectionAt(location, opts);
      refuseIfSetUp(gun);
      const publication = await publicationAt(gun, location, connection);
      const where = whereOf(publication);
      // The roles whose keys this machine signs with: a trust server signs snapshot and timestamp.
      const roles = publication.signsOnline
        ? (['targets'] as const)
        : (['targets', 'snapshot', 'timestamp'] as const);
      for (const role of ['snapshot', 'timestamp'] as const) {
        const given = opts[`${role}Key`] !== undefined;
        if (given && publication.signsOnline) {
          throw usage(
            `--${role}-key: ${where} is a trust server, which signs ${role} with its own key`,
            `tufa attach ${gun} --publish-to ${locationId(location)} --targets-key KEY`,
          );
        }
        if (!given && !publication.signsOnline) {
          throw usage(
            `--${role}-key is required: this machine signs ${role} for a repository at ${where}`,
            `tufa attach ${gun} --publish-to ${locationId(location)} --targets-key KEY --snapshot-key KEY --timestamp-key KEY`,
          );
        }
      }
      if (
        (await serverCall(location, gun, () => publication.storage.read('metadata/timestamp.json'))) ===
        undefined
      ) {
        throw new CliError(
          `no repository is published at ${where}`,
          EXIT.NOT_FOUND,
          `tufa init ${gun} --publish-to …`,
        );
      }
      const repo = await serverCall(location, gun, () =>
        Repository.open(publication.storage, trustedRoot ? { trustedRoot } : {}),
      );
      const root = repo.currentRoot;
      const secrets = secretsFromEnvironment();
      const keys: { targets: string; snapshot?: string; timestamp?: string } = { targets: '' };
      for (const role of roles) {
        const ref = toUri(opts[`${role}Key`] as string);
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
        publishTo: location,
        ...(ca !== undefined ? { ca } : {}),
        keys,
        delegations: new Map(),
      });
      // Trust on first use: the root as published now (its chain checked by open) is the anchor
      // of every later publish from this machine (publisher-root.ts).
      await pinPublisherRoot(gun, repo.rootMetadata);
      ctx.out.result({ gun, repository: where, keys }, () => `attached ${gun} at ${where}`);
      return EXIT.OK;
    },
  }),
];

/** `--root FILE`: a root signed by its own root keys, read before anything is attached. */
async function readTrustedRoot(file: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readOrExplain(file, 'read --root'));
  try {
    const md = Metadata.fromBytes(bytes, 'root');
    await md.verifyDelegate('root', md);
  } catch (e) {
    if (e instanceof TufError)
      throw usage(`--root ${file} is not a root signed by its own root keys: ${e.message}`);
    throw e;
  }
  return bytes;
}
