/** Test helpers: the committed Notary collection (test-vectors/notary) as an in-memory source. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hexDigest } from '../../src/crypto/hash.js';
import type { NotarySource } from '../../src/notary/source.js';

export const VECTORS = join(import.meta.dirname, '../../../../test-vectors/notary');
export const GUN = 'example.com/notary/app';
/** When the vectors were made: the reference time the tests judge expiry at (plus an hour). */
export const CREATED = new Date(readFileSync(join(VECTORS, 'created.txt'), 'utf8').trim());
export const AS_OF = new Date(CREATED.getTime() + 3_600_000);
export const SERVER_FILES = [
  'root.json',
  '1.root.json',
  '2.root.json',
  'timestamp.json',
  'snapshot.json',
  'targets.json',
  'targets/releases.json',
];

export function serverFiles(): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const f of SERVER_FILES) m.set(f, new Uint8Array(readFileSync(join(VECTORS, 'server', f))));
  return m;
}

export function trustDirRoot(): Uint8Array {
  return new Uint8Array(readFileSync(join(VECTORS, 'trust/tuf', GUN, 'metadata/root.json')));
}

/** A notary-server in memory: `ROLE.SHA256.json` is derived from `ROLE.json`, as the server serves it. */
export class MemorySource implements NotarySource {
  readonly description = 'memory';
  readonly reads: string[] = [];
  constructor(
    readonly files: Map<string, Uint8Array>,
    readonly versionedRoots = true,
    readonly hashedNames = true,
  ) {}
  async read(name: string, maxLength: number): Promise<Uint8Array | undefined> {
    this.reads.push(name);
    let b = this.files.get(name);
    const m = /^(.*)\.([0-9a-f]{64})\.json$/.exec(name);
    if (b === undefined && m && this.hashedNames) {
      const plain = this.files.get(`${m[1]}.json`);
      if (plain && hexDigest('sha256', plain) === m[2]) b = plain;
    }
    if (b !== undefined && b.length > maxLength) throw new Error(`${name}: more than ${maxLength} bytes`);
    return b;
  }
}

/** Replaces the first occurrence of `from` with `to` in a file (same length keeps the length check). */
export function tamper(files: Map<string, Uint8Array>, name: string, from: string, to: string): void {
  const text = Buffer.from(files.get(name) as Uint8Array).toString('utf8');
  if (!text.includes(from)) throw new Error(`${name} has no ${from}`);
  files.set(name, new Uint8Array(Buffer.from(text.replace(from, to), 'utf8')));
}
