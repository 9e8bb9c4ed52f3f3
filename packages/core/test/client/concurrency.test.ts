/**
 * One Updater used by many callers at once: look-ups, downloads and refreshes started together
 * share one refresh (one set of requests, one result or one error for all), and a look-up keeps
 * answering from the trusted set it started with while a newer refresh runs.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Fetcher, FetchRequest } from '../../src/client/fetcher.js';
import type { MemoryMetadataStore } from '../../src/client/store.js';
import type { Updater } from '../../src/client/updater.js';
import { newUpdater, trustingStore } from '../helpers/client.js';
import { Simulator } from '../helpers/simulator.js';

const CALLERS = 50;
const dec = new TextDecoder();

let sim: Simulator;
let store: MemoryMetadataStore;

const updater = (fetcher: Fetcher = sim) => newUpdater(fetcher, store);

/** How many times each metadata file was requested. */
function metadataRequests(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of sim.requests) if (r.startsWith('metadata/')) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

const topPath = (i: number) => `top/file-${i}.txt`;
const delegatedPath = (i: number) => `team/file-${i}.txt`;

beforeEach(async () => {
  sim = new Simulator();
  await sim.publishRoot();
  sim.delegate('targets', 'team', { paths: ['team/*'] });
  for (let i = 0; i < 5; i++) {
    await sim.addTarget(topPath(i), `top ${i}`);
    await sim.addTarget(delegatedPath(i), `team ${i}`, 'team');
  }
  await sim.publish();
  store = await trustingStore(sim);
});

describe('concurrent callers on one Updater', () => {
  it(`shares one refresh among ${CALLERS} look-ups started together on a fresh Updater`, async () => {
    const u = updater();
    const paths = Array.from({ length: CALLERS }, (_, i) =>
      i % 5 === 4 ? `team/missing-${i}` : i % 2 === 0 ? topPath(i % 5) : delegatedPath(i % 5),
    );
    const results = await Promise.all([...paths.map((p) => u.getTargetInfo(p)), u.refresh(), u.refresh()]);
    paths.forEach((p, i) => {
      const info = results[i] as Awaited<ReturnType<Updater['getTargetInfo']>>;
      if (p.includes('missing')) expect(info).toBeUndefined();
      else
        expect(info).toMatchObject({ target: { path: p }, role: p.startsWith('team/') ? 'team' : 'targets' });
    });
    // One refresh and one load of the delegated role, whatever the number of callers.
    expect(Object.fromEntries(metadataRequests())).toEqual({
      'metadata/2.root.json': 1,
      'metadata/timestamp.json': 1,
      'metadata/1.snapshot.json': 1,
      'metadata/1.targets.json': 1,
      'metadata/1.team.json': 1,
    });
  });

  it(`downloads ${CALLERS} targets at once on a fresh Updater`, async () => {
    const u = updater();
    const paths = Array.from({ length: CALLERS }, (_, i) => (i % 2 ? topPath(i % 5) : delegatedPath(i % 5)));
    const bodies = await Promise.all(
      paths.map(async (p) => {
        const info = await u.getTargetInfo(p);
        if (!info) throw new Error(`${p} not found`);
        return dec.decode(await u.downloadTarget(info.target));
      }),
    );
    expect(bodies).toEqual(
      paths.map((p) => `${p.startsWith('team/') ? 'team' : 'top'} ${p.match(/(\d+)\.txt$/)?.[1]}`),
    );
    expect([...metadataRequests().values()].every((n) => n === 1)).toBe(true);
    expect(sim.requests.filter((r) => r.startsWith('targets/'))).toHaveLength(CALLERS);
  });

  it('rejects every caller with the one error of a failed refresh; a later call tries again', async () => {
    const u = updater();
    sim.misbehave.set('metadata/timestamp.json', 'drop');
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: CALLERS }, (_, i) => u.getTargetInfo(topPath(i % 5))),
      u.refresh(),
    ]);
    const reasons = outcomes.map((o) => (o.status === 'rejected' ? o.reason : undefined));
    expect(reasons.every((r) => r?.code === 'FETCH')).toBe(true);
    expect(new Set(reasons).size).toBe(1); // the same error object: one refresh failed once
    expect(metadataRequests().get('metadata/timestamp.json')).toBe(1);

    sim.misbehave.delete('metadata/timestamp.json');
    const again = await Promise.all(
      Array.from({ length: CALLERS }, (_, i) => u.getTargetInfo(topPath(i % 5))),
    );
    expect(again.every((info) => info?.role === 'targets')).toBe(true);
    expect(metadataRequests().get('metadata/timestamp.json')).toBe(2);
  });

  it('lets a look-up finish on its trusted set while a newer refresh replaces it', async () => {
    // A fetcher that holds back the first request for the delegated role until released.
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let holding = true;
    const gated: Fetcher = {
      async *fetch(url: string, request: FetchRequest) {
        if (holding && url.endsWith('/1.team.json')) {
          holding = false;
          await held;
        }
        yield* sim.fetch(url, request);
      },
    };
    const u = updater(gated);
    await u.refresh();
    const old = u.getTargetInfo(delegatedPath(1)); // walks trusted set 1; its team fetch waits

    // The repository publishes version 2 of team (and of targets, snapshot, timestamp).
    sim.delegated.get('team')!.version = 2;
    sim.targets.version = 2;
    sim.snapshot.version = 2;
    sim.timestamp.version = 2;
    await sim.addTarget(delegatedPath(1), 'team 1, v2', 'team');
    await sim.publish();
    await u.refresh(); // trusted set 2

    release();
    expect(dec.decode(await u.downloadTarget((await old)!.target))).toBe('team 1');
    // Set 2 must use its own team version 2, not the bytes the old look-up just fetched.
    const info = await u.getTargetInfo(delegatedPath(1));
    expect(dec.decode(await u.downloadTarget(info!.target))).toBe('team 1, v2');
  });
});
