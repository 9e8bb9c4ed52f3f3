/**
 * The trusted previous root a root signing request is compared with (DESIGN rule 13): a root
 * the person signing vouches for (`--previous FILE`), or one this machine trusts for the GUN
 * the person names — never anything the request carries, since whoever wrote the request would
 * then choose what its changes are measured against.
 *
 * `--previous` must be the immediate predecessor (version N-1 for a request for version N): it
 * is the root whose threshold the new root must also meet (spec 5.3.4), and a person giving a
 * file states that it is the root being replaced, which the version checks. `tufa root sign`
 * runs offline, without the repository, so it could not fetch the versions in between to
 * chain-check an older file. The roots this machine keeps itself may be older than N-1 (a
 * client cache last updated a while ago): they are used, with a note that the changes shown
 * span several versions, since that is still everything that changes against what this
 * machine trusts.
 */

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LATEST_ROOT_FILE_NAME, METADATA_DIR, Metadata, type Root, rootFileName, TufError } from '@tufa/core';
import { CliError, usage } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { exists, readOrExplain } from './files.js';
import { publishedDir, readRepoConfig, repoConfigPath, trustedRootFiles } from './home.js';
import { locationId } from './locations.js';
import { publicationFor } from './repo.js';

export interface TrustedPrevious {
  /** The root to compare with; undefined when there is none (see `unavailable`). */
  root?: Root;
  /** Where it came from, for people. */
  source?: string;
  /** Why no comparison is possible, when `root` is undefined. */
  unavailable?: string;
  /** What the signer should know besides (a version gap, a root as new as the request). */
  notes: string[];
}

interface Candidate {
  root: Root;
  source: string;
  /** sha256 of the canonical signed bytes, as a signing request's `signed_sha256`. */
  signedSha256: string;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Parses a root and checks that it is signed by its own root role's threshold. */
async function readRoot(bytes: Uint8Array, source: string): Promise<Candidate> {
  const md = Metadata.fromBytes(bytes, 'root');
  await md.verifyDelegate('root', md);
  return { root: md.signed, source, signedSha256: sha256(md.signedBytes()) };
}

/** `--previous FILE`: checked, and refused (not ignored) when it is not the root replaced. */
async function fromFile(file: string, version: number): Promise<TrustedPrevious> {
  const bytes = new Uint8Array(await readOrExplain(file, 'read --previous'));
  const found = Metadata.fromBytes(bytes, 'root').signed.version;
  if (found !== version - 1) {
    throw usage(
      `--previous ${file} is root version ${found}, but the request is for version ${version}: give version ${version - 1}, the root it replaces`,
    );
  }
  try {
    const c = await readRoot(bytes, `--previous ${file}`);
    return { root: c.root, source: c.source, notes: [] };
  } catch (e) {
    if (e instanceof TufError) {
      throw new CliError(`--previous ${file} is not a validly signed root: ${e.message}`, EXIT.UNTRUSTED);
    }
    throw e;
  }
}

/** The roots this machine trusts for `gun`: its client caches, then the root it publishes. */
async function candidates(gun: string, version: number, notes: string[]): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const add = async (file: string | Uint8Array, source: string) => {
    try {
      const bytes = typeof file === 'string' ? new Uint8Array(await readFile(file)) : file;
      out.push(await readRoot(bytes, source));
    } catch (e) {
      notes.push(`ignored ${source}: ${(e as Error).message}`);
    }
  };
  for (const file of await trustedRootFiles(gun)) {
    await add(file, `the root this machine last verified for ${gun} (${file})`);
  }
  if (exists(repoConfigPath(gun))) {
    // The version the request replaces, when published, and the current root (which may be as
    // new as the request), read where the repository is published.
    const publication = await publicationFor(await readRepoConfig(gun));
    const at = publication.location;
    for (const name of [rootFileName(version - 1), LATEST_ROOT_FILE_NAME]) {
      const file =
        at.kind === 'dir'
          ? join(publishedDir(at.dir, gun), METADATA_DIR, name)
          : `${name} at ${locationId(at)}`;
      const source = `the root this machine publishes for ${gun} (${file})`;
      let bytes: Uint8Array | undefined;
      try {
        bytes = await publication.storage.read(`${METADATA_DIR}/${name}`);
      } catch (e) {
        notes.push(`could not read ${source}: ${(e as Error).message}`);
      }
      if (bytes !== undefined) await add(bytes, source);
    }
  }
  return out;
}

/**
 * The root to compare a request for root `version` (whose signed part hashes to `signedSha256`)
 * with: `--previous FILE`, else the newest root older than the request that this machine trusts
 * for `gun`, else none, with the reason.
 */
export async function trustedPreviousRoot(
  version: number,
  signedSha256: string,
  opts: { previous?: string | undefined; gun?: string | undefined },
): Promise<TrustedPrevious> {
  if (opts.previous) return fromFile(opts.previous, version);
  if (!opts.gun) {
    return {
      unavailable:
        'no trusted previous root was given (--previous ROOT.json, the root this request replaces; or --gun GUN, to use the root this machine verified or publishes)',
      notes: [],
    };
  }
  const notes: string[] = [];
  const all = await candidates(opts.gun, version, notes);
  for (const c of all.filter((c) => c.root.version >= version)) {
    notes.push(
      c.root.version === version && c.signedSha256 === signedSha256
        ? `this very root (version ${version}) is already trusted: ${c.source}`
        : `this machine already trusts root version ${c.root.version}, as new as this request: ${c.source}. Clients that trust it will never accept this request's root; a different root with a version already in use forks the chain of trust`,
    );
  }
  const older = all.filter((c) => c.root.version < version);
  const best = Math.max(0, ...older.map((c) => c.root.version));
  const chosen = older.filter((c) => c.root.version === best);
  const first = chosen[0];
  if (!first) {
    return {
      unavailable: `this machine trusts no root older than version ${version} for ${opts.gun}`,
      notes,
    };
  }
  if (chosen.some((c) => c.signedSha256 !== first.signedSha256)) {
    return {
      unavailable: `the roots this machine trusts for ${opts.gun} differ at version ${best} (${chosen.map((c) => c.source).join('; ')})`,
      notes,
    };
  }
  if (best < version - 1) {
    notes.push(
      `the trusted root is version ${best} and the request is for version ${version}: the changes shown span versions ${best + 1} to ${version}`,
    );
  }
  return { root: first.root, source: first.source, notes };
}
