/**
 * The root this machine last verified as the publisher of a GUN, `$TUFA_HOME/repos/GUN/root.json`:
 * the anchor `Repository.open` walks the published root chain from (ADR 0032), so that a registry
 * or trust server that replaced the whole chain with roots of its own cannot get its metadata
 * signed by this publisher's keys. Written by `init` and `attach` (trust on first use there,
 * as the client's `--unsafe-tofu` is not: the publisher has just made or been handed the root),
 * then moved forward to the newest root each time a publish verified one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, type Repository, type Root, TufError } from '@tufa/core';
import { CorruptStateError } from '@tufa/core/errors';
import { ensureDir, writeFileAtomic } from '@tufa/core/node';
import { asFileProblem, isSystemError } from './files.js';
import { repoConfigPath } from './home.js';

function pinPath(gun: string): string {
  return join(repoConfigPath(gun), '..', 'root.json');
}

/**
 * The pinned root's bytes, checked to be a root signed by its own keys; undefined when this
 * machine has none yet (a configuration older than the pin).
 * @throws CorruptStateError the file is not such a root (a Hint says to remove it).
 */
export async function pinnedPublisherRoot(gun: string): Promise<Uint8Array | undefined> {
  const file = pinPath(gun);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    if (isSystemError(e) && e.code === 'ENOENT') return undefined;
    return asFileProblem(e, file, 'read the pinned root');
  }
  try {
    const md = Metadata.fromBytes(bytes, 'root');
    await md.verifyDelegate('root', md);
  } catch (e) {
    if (!(e instanceof TufError)) throw e;
    throw Object.assign(
      new CorruptStateError(file, '', `not a root signed by its own root keys (${e.message})`, { cause: e }),
      {
        hint: `remove ${file} to trust the published root again on the next publish (after checking it)`,
      },
    );
  }
  return bytes;
}

/** Pins `root` (verified by the caller) for `gun`, unless the pin is already at its version or newer. */
export async function pinPublisherRoot(gun: string, root: Metadata<Root>): Promise<void> {
  const current = await pinnedPublisherRoot(gun).catch(() => undefined);
  if (current && Metadata.fromBytes(current, 'root').signed.version >= root.signed.version) return;
  const file = pinPath(gun);
  await ensureDir(join(file, '..'), 0o700);
  await writeFileAtomic(file, root.toBytes(), { mode: 0o644 });
}

/** After `repo` was opened (and perhaps published) with the pin: the pin follows its root. */
export function pinRootOf(gun: string, repo: Repository): Promise<void> {
  return pinPublisherRoot(gun, repo.rootMetadata);
}
