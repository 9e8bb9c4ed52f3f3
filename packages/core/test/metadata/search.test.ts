/**
 * `searchTargets` (the spec 5.6.7 search over trusted metadata, for publishers) must find what a
 * client finds: on seeded random delegation graphs (cycles, diamonds, terminating roles, paths)
 * it is compared with `Updater.getTargetInfo` on the same published repository.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/client/updater.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { searchTargets, type TargetsGraph } from '../../src/metadata/search.js';
import type { Targets } from '../../src/metadata/signed.js';
import { newUpdater, trustingStore } from '../helpers/client.js';
import { Simulator } from '../helpers/simulator.js';

const ROLES = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
const PATTERNS = ['*', 'a/*', 'b/*', '*/x', 'c'];
const PATHS = ['a/x', 'a/y', 'b/x', 'c', 'd/x'];

/** A small deterministic generator (LCG), so every run checks the same graphs. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function randomRepository(seed: number): Promise<Simulator> {
  const r = rng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;
  const sim = new Simulator();
  await sim.publishRoot();
  const reachable = ['targets'];
  for (let i = 0; i < 8; i++) {
    const from = pick(reachable);
    const to = pick(ROLES);
    const init = { paths: [pick(PATTERNS)], terminating: r() < 0.25 };
    const listed = (from === 'targets' ? sim.targets : sim.delegated.get(from))?.delegations?.roles ?? [];
    if (listed.some((d: { name: string }) => d.name === to)) continue; // a name is listed once
    if (sim.delegated.has(to)) {
      // Another edge to an existing role: delegate with the key it is signed with.
      const parent = from === 'targets' ? sim.targets : sim.delegated.get(from);
      const signer = sim.signers.get(to)?.[0];
      if (!parent || !signer) continue;
      parent.delegations ??= { keys: {}, roles: [] };
      parent.delegations.keys[signer.keyid] = signer.key.toJSON();
      parent.delegations.roles.push({ name: to, keyids: [signer.keyid], threshold: 1, ...init });
    } else {
      sim.delegate(from, to, init);
      reachable.push(to);
    }
  }
  for (const path of PATHS) {
    for (const role of reachable) if (r() < 0.3) await sim.addTarget(path, `${role} ${path}`, role);
  }
  await sim.publish();
  return sim;
}

/** The published targets metadata of the simulator, parsed, as the search reads it. */
function graphOf(sim: Simulator): TargetsGraph {
  const parsed = new Map<string, Targets>();
  const get = async (role: string): Promise<Targets> => {
    let t = parsed.get(role);
    if (!t) {
      const signed = role === 'targets' ? sim.targets : sim.delegated.get(role);
      if (!signed) throw new Error(`no role ${role}`);
      t = Metadata.fromBytes(await sim.sign(signed, []), 'targets').signed;
      parsed.set(role, t);
    }
    return t;
  };
  return {
    target: async (role, path) => (await get(role)).targets.get(path),
    delegations: async (role) => (await get(role)).delegations,
  };
}

describe('searchTargets', () => {
  it('finds what the client finds, on 40 random delegation graphs', async () => {
    let found = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const sim = await randomRepository(seed);
      const updater = newUpdater(sim, await trustingStore(sim));
      const graph = graphOf(sim);
      for (const path of PATHS) {
        const client = await updater.getTargetInfo(path);
        const ours = await searchTargets(graph, path, DEFAULT_LIMITS.maxDelegations);
        expect([ours?.role, ours?.target.hashes.get('sha256')], `seed ${seed}, path ${path}`).toEqual([
          client?.role,
          client?.target.hashes.get('sha256'),
        ]);
        if (client) found++;
      }
    }
    // The graphs are not trivial: many look-ups find something, many do not.
    expect(found).toBeGreaterThan(40);
    expect(found).toBeLessThan(160);
  });

  it('stops after maxRoles roles, as the client does', async () => {
    const sim = new Simulator();
    await sim.publishRoot();
    let parent = 'targets';
    for (let i = 0; i < 5; i++) {
      sim.delegate(parent, `r${i}`);
      parent = `r${i}`;
    }
    await sim.addTarget('deep', 'x', 'r4');
    await sim.publish();
    expect(await searchTargets(graphOf(sim), 'deep', 3)).toBeUndefined();
    expect((await searchTargets(graphOf(sim), 'deep', 32))?.role).toBe('r4');
  });
});
