/** `tufa key rotate GUN ROLE`: new keys for a role, published (root signed by old and new root). */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Signer, TopLevelRoleName } from '@tufa/core';
import { usage } from '../cli-error.js';
import { argument, defineCommand, type OptionsOf, option, type RegisteredCommand } from '../command.js';
import type { Context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { exists } from '../files.js';
import { checkKeyName, keyPath, readRepoConfig, writeRepoConfig } from '../home.js';
import { generateKeyFile, generateNamedKey, keyKind, loadSigner, toUri } from '../keys.js';
import { checkGun, slug } from '../names.js';
import { collect, keyTypeOption } from '../options.js';
import { pinnedPublisherRoot, pinRootOf } from '../publisher-root.js';
import { connectionFlags, connectionOptions } from '../registry.js';
import { loadSigners, publicationFor, refuseAt } from '../repo.js';
import { forRole, secretsFromEnvironment } from '../secrets.js';

const rotateOptions = [
  option('-k, --key <ref>', 'the new key (default: generate one)'),
  keyTypeOption('type of a generated key'),
  option('--root-key <ref>', 'a current root key (repeatable)', { parse: collect }),
  option('--new-root-key-out <dir>', 'where a generated root key is written (offline media)'),
  option('--name <name>', 'name of the generated key (default: GUN-ROLE-N, the next free N)'),
  option('--delegator <role>', 'the role that delegates to a delegated role', { default: 'targets' }),
  ...connectionOptions,
] as const;
type RotateOptions = OptionsOf<typeof rotateOptions>;

async function rotateTo(
  ctx: Context,
  gun: string,
  role: string,
  newRef: string,
  opts: RotateOptions,
  topLevel: boolean,
  generated: Signer | undefined,
): Promise<number> {
  const secrets = secretsFromEnvironment();
  const config = await readRepoConfig(gun);
  const { Repository } = await import('@tufa/core');
  // A key generated for this rotation is used as it is, not unlocked again.
  const newSigner: Signer = generated ?? (await loadSigner(newRef, forRole(secrets, gun, role)));

  // The key being replaced is not needed (it may be lost or compromised): the role is signed by
  // its new key. Root changes need the root keys; everything needs snapshot and timestamp.
  const needed = ['targets', 'snapshot', 'timestamp', ...(topLevel ? [] : [opts.delegator])].filter(
    (r) => r !== role,
  );
  const signers = [
    ...(await loadSigners(config, { roles: needed, extraKeys: opts.rootKey ?? [], secrets })),
    newSigner,
  ];
  const publication = await publicationFor(config, connectionFlags(opts));
  const trustedRoot = await pinnedPublisherRoot(gun);
  const repo = await Repository.open(publication.storage, {
    signers,
    ...(trustedRoot ? { trustedRoot } : {}),
  });
  let removed: string[];
  if (topLevel) {
    removed = repo.currentRoot.role(role as TopLevelRoleName).keyids.filter((id) => id !== newSigner.keyid);
    // All keys are replaced by the new one, so the threshold becomes 1 (raise it afterwards with
    // an offline ceremony, `tufa root sign-request --add-key … --threshold N`).
    repo.rotateKeys(role as TopLevelRoleName, { add: [newSigner.key], remove: removed, threshold: 1 });
  } else {
    const d = (await repo.getTargets(opts.delegator)).delegations?.roles?.find((r) => r.name === role);
    if (!d) throw usage(`${opts.delegator} does not delegate to ${role}`, `tufa delegation list ${gun}`);
    removed = d.keyids.filter((id) => id !== newSigner.keyid);
    await repo.rotateDelegatedKeys(opts.delegator, role, {
      add: [newSigner.key],
      remove: removed,
      threshold: 1,
    });
  }
  const { written, versions } = await publication.publish(repo);
  await pinRootOf(gun, repo);
  if (role === 'targets' || role === 'snapshot' || role === 'timestamp') config.keys[role] = newRef;
  else if (!topLevel) config.delegations.set(role, newRef);
  await writeRepoConfig(config);
  ctx.out.result(
    {
      gun,
      role,
      added: newSigner.keyid,
      removed,
      key: newRef,
      written,
      versions: Object.fromEntries(versions),
    },
    () => `rotated ${role} of ${gun}: new key ${newSigner.keyid} (removed ${removed.length})`,
  );
  return EXIT.OK;
}

/**
 * `base-N` for the smallest N ≥ 2 whose file (`pathOf`) does not exist: `tufa init` made
 * `base`, so the first rotation's key is `base-2`. Predictable names let passphrase variables
 * be set ahead of a rotation.
 */
function nextFreeName(base: string, pathOf: (name: string) => string): string {
  for (let n = 2; ; n++) {
    const name = `${base}-${n}`;
    if (!exists(pathOf(name))) return name;
  }
}

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'rotate',
    description: "replace a role's keys and publish",
    arguments: [
      argument('<gun>', 'repository'),
      argument('<role>', 'root, targets, snapshot, timestamp or a delegated role'),
    ],
    options: rotateOptions,
    async handler(ctx, [gunArg, role], opts) {
      const gun = checkGun(gunArg);
      const secrets = forRole(secretsFromEnvironment(), gun, role);
      // Fail early when the repository is not set up here, or the server holds the role's key.
      refuseAt(
        await readRepoConfig(gun),
        role === 'snapshot' || role === 'timestamp' ? ['http'] : [],
        `the trust server holds the ${role} key and rotates it (through root) itself`,
        `tufa key rotate ${gun} targets|root|DELEGATED-ROLE`,
      );
      const topLevel = ['root', 'targets', 'snapshot', 'timestamp'].includes(role);
      if (topLevel && (opts.rootKey ?? []).length === 0) {
        throw usage(
          `rotating ${role} changes root, which the root key(s) must sign`,
          `tufa key rotate ${gun} ${role} --root-key /media/OFFLINE-USB/root-….json`,
        );
      }

      // The new key: given, or generated (a new root key goes to offline media).
      let newRef: string;
      let generatedPath: string | undefined;
      let generatedSigner: Signer | undefined;
      if (opts.key && opts.name) throw usage('--name names a generated key: give --key or --name, not both');
      if (opts.key) newRef = toUri(opts.key);
      else if (role === 'root') {
        if (!opts.newRootKeyOut)
          throw usage(
            'a new root key must go offline: name where to write it',
            `tufa key rotate ${gun} root --root-key OLD --new-root-key-out /media/OFFLINE-USB`,
          );
        const name =
          opts.name ??
          nextFreeName(`root-${slug(gun)}`, (n) => resolve(opts.newRootKeyOut as string, `${n}.json`));
        const path = resolve(opts.newRootKeyOut, `${checkKeyName(name)}.json`);
        if (exists(path)) throw usage(`${path} already exists`, 'choose another --name');
        generatedSigner = (await generateKeyFile(path, name, keyKind(opts.type), secrets)).signer;
        generatedPath = path;
        newRef = toUri(path);
      } else {
        const name = opts.name ?? nextFreeName(`${slug(gun)}-${slug(role)}`, keyPath);
        const k = await generateNamedKey(name, keyKind(opts.type), secrets);
        generatedPath = k.path;
        generatedSigner = k.signer;
        newRef = toUri(keyPath(name));
      }
      try {
        return await rotateTo(ctx, gun, role, newRef, opts, topLevel, generatedSigner);
      } catch (e) {
        // A key generated for a rotation that did not happen is of no use: do not leave it behind.
        if (generatedPath) await rm(generatedPath, { force: true });
        throw e;
      }
    },
  }),
];
