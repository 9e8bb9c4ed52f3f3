/**
 * Who verifies whom in a directory of TUF metadata files, worked out from the plain JSON (no
 * TUF library), so the tufa and the tuf-js tests walk the same edges:
 * each root by itself and by the previous root, timestamp/snapshot/targets by the newest root,
 * and every delegated role (listed or a succinct bin) by the targets file that delegates to it.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type RoleType = 'root' | 'timestamp' | 'snapshot' | 'targets';

export interface Edge {
  /** File name of the delegating metadata (a root or a targets role). */
  delegator: string;
  /** The role name looked up in the delegator. */
  role: string;
  /** File name of the delegated metadata. */
  delegate: string;
  /** `_type` of the delegated metadata. */
  type: RoleType;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, walked by hand
type Json = Record<string, any>;

const FILE = /^(?:(\d+)\.)?(.+)\.json$/;

export function readJson(dir: URL, name: string): Json {
  return JSON.parse(readFileSync(new URL(name, dir), 'utf8'));
}

/** Metadata file names in `dir`, as `{ file, version, role }`. */
export function metadataFiles(dir: URL): { file: string; version: number | undefined; role: string }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const m = FILE.exec(file);
      if (!m) throw new Error(`unexpected file name ${file}`);
      return { file, version: m[1] === undefined ? undefined : Number(m[1]), role: m[2] as string };
    });
}

/** Every verification edge of the repository in `dir`; throws when a file has no delegator. */
export function verificationEdges(dir: URL): Edge[] {
  const files = metadataFiles(dir);
  const fileFor = (role: string) => {
    const found = files.filter((f) => f.role === role);
    if (found.length !== 1) throw new Error(`expected one file for role ${role}, found ${found.length}`);
    return (found[0] as { file: string }).file;
  };
  const roots = files.filter((f) => f.role === 'root').sort((a, b) => (a.version ?? 0) - (b.version ?? 0));
  const edges: Edge[] = [];
  roots.forEach((r, i) => {
    edges.push({ delegator: r.file, role: 'root', delegate: r.file, type: 'root' });
    const prev = roots[i - 1];
    if (prev) edges.push({ delegator: prev.file, role: 'root', delegate: r.file, type: 'root' });
  });
  const newest = roots.at(-1)?.file;
  if (!newest) throw new Error(`no root in ${dir.pathname}`);
  for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
    edges.push({ delegator: newest, role, delegate: fileFor(role), type: role });
  }
  for (const f of files) {
    const signed = readJson(dir, f.file)['signed'];
    const d = signed?._type === 'targets' ? signed.delegations : undefined;
    if (!d) continue;
    for (const r of d.roles ?? []) {
      edges.push({ delegator: f.file, role: r.name, delegate: fileFor(r.name), type: 'targets' });
    }
    if (d.succinct_roles) {
      const { bit_length: bits, name_prefix: prefix } = d.succinct_roles;
      const width = Math.ceil(bits / 4);
      for (let bin = 0; bin < 2 ** bits; bin++) {
        const name = `${prefix}-${bin.toString(16).padStart(width, '0')}`;
        edges.push({ delegator: f.file, role: name, delegate: fileFor(name), type: 'targets' });
      }
    }
  }
  const covered = new Set(edges.map((e) => e.delegate));
  const orphans = files.filter((f) => !covered.has(f.file)).map((f) => f.file);
  if (orphans.length > 0) throw new Error(`no delegator found for ${orphans.join(', ')}`);
  return edges;
}
