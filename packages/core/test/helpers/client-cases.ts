/**
 * The client test table shared by the browser, Deno and Bun tests (issue 16): repositories built
 * here on the Node side with the simulator and real keys of every type, what each case serves,
 * and what the client must conclude. `serveCases` serves them over loopback HTTP.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  generateKeyPair,
  hashPrefixedTargetPath,
  hexDigest,
  type KeyKind,
  MemoryRepositoryStorage,
  Repository,
  TargetFile,
} from '../../src/index-node.js';
import { NOW } from './client.js';
import { Simulator } from './simulator.js';

export interface Outcome {
  ok: boolean;
  code?: string;
  message?: string;
  role?: string;
  content?: string;
  persisted?: boolean;
  secure?: boolean;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export async function keyedSim(kind: KeyKind): Promise<Simulator> {
  const sim = new Simulator();
  for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
    // RSA at 2048 bits: the size only costs time here; RSA-PSS signs with a 32-byte salt.
    sim.rotateKey(role, (await generateKeyPair(kind, { rsaBits: 2048 })).signer);
  }
  await sim.publishRoot();
  await sim.addTarget('app/1.0', `built with ${kind}`);
  await sim.publish();
  return sim;
}

/** What a case serves; `change` alters the repository between two runs of the same client. */
/** What the server needs of a repository: its files by path, and its published roots. */
export interface Served {
  readonly files: Map<string, Uint8Array>;
  rootBytes(version?: number): Uint8Array;
}

/**
 * A repository made by tufa's own `Repository` (not the simulator), every role's key of `kind`:
 * what a publisher using tufa would serve.
 */
export async function publishedRepository(kind: KeyKind): Promise<Served> {
  const pairs = await Promise.all(
    ['root', 'targets', 'snapshot', 'timestamp'].map(() => generateKeyPair(kind, { rsaBits: 2048 })),
  );
  const [root, targets, snapshot, timestamp] = pairs as [
    (typeof pairs)[0],
    (typeof pairs)[0],
    (typeof pairs)[0],
    (typeof pairs)[0],
  ];
  const storage = new MemoryRepositoryStorage();
  const repo = await Repository.create(storage, {
    keys: { root: [root.key], targets: [targets.key], snapshot: [snapshot.key], timestamp: [timestamp.key] },
    signers: pairs.map((p) => p.signer),
  });
  const content = new TextEncoder().encode(`built with ${kind}`);
  const sha256 = hexDigest('sha256', content);
  await repo.addTargets([new TargetFile('app/1.0', content.length, new Map([['sha256', sha256]]))]);
  await repo.publish();
  const files = new Map(storage.files);
  files.set(`targets/${hashPrefixedTargetPath('app/1.0', sha256)}`, content);
  return {
    files,
    rootBytes: (version = 1) => {
      const b = files.get(`metadata/${version}.root.json`);
      if (!b) throw new Error(`no root version ${version}`);
      return b;
    },
  };
}

export interface Case {
  name: string;
  make: () => Promise<Served>;
  /** The client reads the real clock (the repository has real expiries), not the fixed NOW. */
  realClock?: boolean;
  target: string;
  first: Partial<Outcome>;
  change?: (sim: Simulator) => Promise<void> | void;
  second?: Partial<Outcome>;
}

export const CASES: Case[] = [
  ...(['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'] as const).map(
    (kind): Case => ({
      name: `keys-${kind}`,
      make: () => publishedRepository(kind),
      realClock: true,
      target: 'app/1.0',
      first: { ok: true, role: 'targets', content: `built with ${kind}`, persisted: true },
    }),
  ),
  {
    name: 'root-rotation',
    make: () => keyedSim('ed25519'),
    target: 'app/1.0',
    first: { ok: true },
    change: async (sim) => {
      const old = sim.signers.get('root') ?? [];
      const next = (await generateKeyPair('ecdsa-p256')).signer;
      sim.rotateKey('root', next);
      sim.root.version = 2;
      await sim.publishRoot([...old, next]); // 5.3.4/5.3.5: signed by the old and the new keys
      sim.timestamp.version += 1;
      await sim.publish();
    },
    second: { ok: true, content: 'built with ed25519' },
  },
  {
    name: 'rotation-without-old-keys',
    make: () => keyedSim('ed25519'),
    target: 'app/1.0',
    first: { ok: true },
    change: async (sim) => {
      const next = (await generateKeyPair('ed25519')).signer;
      sim.rotateKey('root', next);
      sim.root.version = 2;
      await sim.publishRoot([next]);
    },
    second: { ok: false, code: 'THRESHOLD' },
  },
  {
    // 5.4.3.2: the client trusts timestamp version 2; the server then serves version 1 again.
    name: 'rollback',
    make: async () => {
      const sim = await keyedSim('ed25519');
      const v1 = sim.files.get('metadata/timestamp.json') ?? new Uint8Array();
      sim.timestamp.version = 2;
      await sim.publish();
      sim.files.set('old-timestamp', v1);
      return sim;
    },
    target: 'app/1.0',
    first: { ok: true },
    change: (sim) => {
      sim.files.set('rollback-to', sim.files.get('old-timestamp') ?? new Uint8Array());
    },
    second: { ok: false, code: 'ROLLBACK' },
  },
  {
    name: 'tampered-target',
    make: async () => {
      const sim = await keyedSim('ed25519');
      for (const [path, bytes] of sim.files) {
        if (path.startsWith('targets/'))
          sim.files.set(
            path,
            bytes.map((b, i) => (i === 0 ? b ^ 1 : b)),
          );
      }
      return sim;
    },
    target: 'app/1.0',
    first: { ok: false, code: 'LENGTH_OR_HASH' },
  },
  {
    name: 'tampered-metadata',
    make: async () => {
      const sim = await keyedSim('ecdsa-p384');
      const ts = new TextDecoder().decode(sim.files.get('metadata/timestamp.json'));
      sim.files.set(
        'metadata/timestamp.json',
        new TextEncoder().encode(ts.replace('"version": 1', '"version": 9')),
      );
      return sim;
    },
    target: 'app/1.0',
    first: { ok: false, code: 'THRESHOLD' },
  },
  {
    name: 'delegation',
    make: async () => {
      const sim = await keyedSim('ed25519');
      sim.delegate('targets', 'team', { paths: ['team/*'] });
      sim.delegate('team', 'release', { paths: ['team/release-*'], terminating: true });
      await sim.addTarget('team/release-1', 'delegated twice', 'release');
      sim.targets.version += 1;
      sim.snapshot.version += 1;
      sim.timestamp.version += 1;
      await sim.publish();
      return sim;
    },
    target: 'team/release-1',
    first: { ok: true, role: 'release', content: 'delegated twice' },
  },
  {
    name: 'hash-bins',
    make: async () => {
      const sim = await keyedSim('ed25519');
      const path = 'bins/app.tar';
      const prefix = sha256(path).slice(0, 2);
      for (let i = 0; i < 16; i++) {
        const p = i.toString(16);
        sim.delegate('targets', `bin-${p}`, { path_hash_prefixes: [p] });
      }
      await sim.addTarget(path, 'in its bin', `bin-${prefix[0]}`);
      sim.targets.version += 1;
      sim.snapshot.version += 1;
      sim.timestamp.version += 1;
      await sim.publish();
      return sim;
    },
    target: 'bins/app.tar',
    first: { ok: true, content: 'in its bin' },
  },
];

export interface CaseServer {
  readonly base: string;
  /** The input of a client run for case `c` (a fresh store name each call). */
  input(c: Case, where: string): CaseInput;
  /** Rebuilds a case's repository (before a run that will change it). */
  reset(c: Case): Promise<void>;
  /** Applies a case's change (also reachable as POST /change/NAME, for runtimes out of reach). */
  change(c: Case): Promise<void>;
  close(): Promise<void>;
}

export interface CaseInput {
  name: string;
  db: string;
  root: string;
  metadata: string;
  targets: string;
  now: string;
  target: string;
}

/**
 * Serves every case under /case/NAME/ on 127.0.0.1; `extra` answers other paths (the page and
 * the bundle of the browser test) or returns false.
 */
export async function serveCases(
  extra: (url: string, res: http.ServerResponse) => boolean = () => false,
): Promise<CaseServer> {
  const sims = new Map<string, Served>();
  for (const c of CASES) sims.set(c.name, await c.make());
  const byName = new Map(CASES.map((c) => [c.name, c]));
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (extra(url, res)) return;
    const change = /^\/change\/([^/]+)$/.exec(url);
    const c = change ? byName.get(change[1] ?? '') : undefined;
    if (req.method === 'POST' && c?.change) {
      Promise.resolve(c.change(sims.get(c.name) as Simulator)).then(
        () => res.end('changed'),
        (e: unknown) => {
          res.writeHead(500);
          res.end(String(e));
        },
      );
      return;
    }
    const m = /^\/case\/([^/]+)\/(.*)$/.exec(url);
    const sim = m ? sims.get(m[1] ?? '') : undefined;
    let file = sim?.files.get(decodeURIComponent(m?.[2] ?? ''));
    if (m?.[2] === 'metadata/timestamp.json' && sim?.files.has('rollback-to'))
      file = sim.files.get('rollback-to');
    res.writeHead(file ? 200 : 404, { 'access-control-allow-origin': '*' });
    res.end(file);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let run = 0;
  return {
    base,
    input: (c, where) => ({
      name: c.name,
      db: `${where}-${c.name}-${run++}`,
      root: Buffer.from((sims.get(c.name) as Served).rootBytes(1)).toString('base64'),
      metadata: `${base}/case/${c.name}/metadata/`,
      targets: `${base}/case/${c.name}/targets/`,
      now: (c.realClock ? new Date() : NOW).toISOString(),
      target: c.target,
    }),
    reset: async (c) => {
      sims.set(c.name, await c.make());
    },
    change: async (c) => {
      await c.change?.(sims.get(c.name) as Simulator);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
