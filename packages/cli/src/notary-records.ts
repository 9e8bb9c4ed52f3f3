/**
 * The Notary role versions this machine last verified, per notary-server and GUN, kept in
 * $TUFA_HOME/trust/notary/ (next to the TUF trust caches): read before a verification, so that
 * the server cannot go back to an older collection (core notary/state.ts), and written only
 * after a verification succeeded, atomically, private to the user (0600 in 0700 directories).
 *
 * Only collections read from a server are recorded. A trust directory (`--trust-dir` alone) is
 * this machine's own copy, or an archive kept on purpose: verifying last year's archive at
 * `--as-of` is a normal thing to do, so it is neither checked against nor recorded.
 */

import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TufError } from '@tufa/core';
import { ensureDir, writeFileAtomic } from '@tufa/core/node';
import { type NotaryRecords, parseNotaryRecords, serializeNotaryRecords } from '@tufa/core/notary';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { notaryRecordsPath, notaryServerId } from './home.js';

function where(server: string, gun: string): { id: string; file: string } {
  return { id: notaryServerId(server), file: notaryRecordsPath(server, gun) };
}

/** What was verified from `server` for `gun` before (empty the first time). */
export async function readNotaryRecords(server: string, gun: string): Promise<NotaryRecords> {
  const { id, file } = where(server, gun);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new CliError(`cannot read ${file} (${(e as Error).message})`, EXIT.IO);
  }
  try {
    return parseNotaryRecords(new Uint8Array(bytes), id, gun);
  } catch (e) {
    if (!(e instanceof TufError)) throw e;
    throw new CliError(
      `${file}: ${e.message}`,
      EXIT.UNTRUSTED,
      `restore ${file} from a backup; only if you cannot, remove it (the next verification then trusts whatever ${id} sends)`,
    );
  }
}

/** Records what was verified now (after a successful verification only). */
export async function writeNotaryRecords(server: string, gun: string, records: NotaryRecords): Promise<void> {
  const { id, file } = where(server, gun);
  await ensureDir(dirname(file), 0o700);
  await writeFileAtomic(file, serializeNotaryRecords(id, gun, records), { mode: 0o600 });
}

/** The hint for a refused replay: what to check before ever removing the record. */
export function replayHint(server: string, gun: string): string {
  return `${notaryServerId(server)} sent older trust data for ${gun} than this machine verified before; if ${gun} was deleted and re-created there on purpose (ask its publisher), remove ${notaryRecordsPath(server, gun)} and run again`;
}
