/**
 * Cancellation (an AbortSignal per call; shared work stops only when nobody waits for it) and
 * the event hook (what the updater fetched, used from the cache, persisted, skipped, refused).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Fetcher, FetchRequest } from '../../src/client/fetcher.js';
import type { MemoryMetadataStore } from '../../src/client/store.js';
import type { UpdaterEvent, UpdaterOptions } from '../../src/client/updater.js';
import { newUpdater, trustingStore } from '../helpers/client.js';
import { METADATA_URL, newSigner, Simulator } from '../helpers/simulator.js';

let sim: Simulator;
let store: MemoryMetadataStore;

/** The simulator behind a gate: requests for `path` wait until `open()`; records their signals. */
class Gated implements Fetcher {
  readonly signals: AbortSignal[] = [];
  #reached!: () => void;
  /** Settles when the first request for `path` waits at the gate (no guess at how long that takes). */
  readonly reached = new Promise<void>((r) => {
    this.#reached = r;
  });
  #open!: () => void;
  readonly #gate = new Promise<void>((r) => {
    this.#open = r;
  });
  constructor(readonly path: string) {}
  open(): void {
    this.#open();
  }
  async *fetch(url: string, request: FetchRequest): AsyncIterable<Uint8Array> {
    if (url.endsWith(this.path)) {
      this.signals.push(request.signal);
      this.#reached();
      await Promise.race([
        this.#gate,
        new Promise((_, reject) =>
          request.signal.addEventListener('abort', () => reject(new Error('aborted'))),
        ),
      ]);
    }
    yield* sim.fetch(url, request);
  }
}

const updater = (extra: Partial<UpdaterOptions> = {}) => newUpdater(sim, store, extra);

beforeEach(async () => {
  sim = new Simulator();
  await sim.publishRoot();
  await sim.addTarget('app/1.0', 'one');
  await sim.publish();
  store = await trustingStore(sim);
});

describe('cancellation', () => {
  it('an aborted refresh is ABORTED, persists nothing past what verified, and the next one works', async () => {
    const gated = new Gated('timestamp.json');
    const u = updater({ fetcher: gated });
    const controller = new AbortController();
    const run = u.refresh({ signal: controller.signal });
    await gated.reached;
    controller.abort();
    await expect(run).rejects.toMatchObject({ code: 'ABORTED', category: 'cancelled' });
    expect(gated.signals[0]?.aborted).toBe(true); // the transfer itself was stopped
    expect([...store.files.keys()]).toEqual(['root']);
    gated.open();
    await u.refresh();
    expect(await u.getTargetInfo('app/1.0')).toBeDefined();
  });

  it("one caller's cancellation does not fail another caller sharing the refresh", async () => {
    const gated = new Gated('timestamp.json');
    const u = updater({ fetcher: gated });
    const a = new AbortController();
    const first = u.refresh({ signal: a.signal });
    const second = u.getTargetInfo('app/1.0');
    await gated.reached;
    a.abort();
    await expect(first).rejects.toMatchObject({ code: 'ABORTED' });
    expect(gated.signals[0]?.aborted).toBe(false); // still wanted by the second caller
    gated.open();
    await expect(second).resolves.toMatchObject({ role: 'targets' });
    expect(sim.requests.filter((p) => p === 'metadata/timestamp.json')).toHaveLength(1);
  });

  it('the shared work stops when every caller has cancelled', async () => {
    const gated = new Gated('timestamp.json');
    const u = updater({ fetcher: gated });
    const a = new AbortController();
    const b = new AbortController();
    const runs = [u.refresh({ signal: a.signal }), u.getTargetInfo('app/1.0', { signal: b.signal })];
    await gated.reached;
    a.abort();
    expect(gated.signals[0]?.aborted).toBe(false);
    b.abort();
    for (const r of runs) await expect(r).rejects.toMatchObject({ code: 'ABORTED' });
    expect(gated.signals[0]?.aborted).toBe(true);
  });

  it('a look-up with an already aborted signal makes no request', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(updater().getTargetInfo('app/1.0', { signal: controller.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    expect(sim.requests).toEqual([]);
  });

  it('a target download stops on its signal', async () => {
    const u = updater();
    const info = await u.getTargetInfo('app/1.0');
    const controller = new AbortController();
    controller.abort(new Error('user pressed Ctrl-C'));
    await expect(u.downloadTarget(info!.target, { signal: controller.signal })).rejects.toMatchObject({
      code: 'ABORTED',
      message: expect.stringContaining('user pressed Ctrl-C'),
    });
    await expect(u.downloadTarget(info!.target)).resolves.toEqual(new TextEncoder().encode('one'));
  });
});

describe('events', () => {
  function recorder() {
    const events: UpdaterEvent[] = [];
    return { events, onEvent: (e: UpdaterEvent) => events.push(e) };
  }

  it('a first refresh reports each download and each persisted role, in order', async () => {
    const r = recorder();
    await updater({ onEvent: r.onEvent }).refresh();
    expect(r.events.map((e) => `${e.type} ${'role' in e ? e.role : ''}`)).toEqual([
      'not-found root',
      'fetched timestamp',
      'persisted timestamp',
      'fetched snapshot',
      'persisted snapshot',
      'fetched targets',
      'persisted targets',
    ]);
    expect(r.events[1]).toMatchObject({ url: `${METADATA_URL}timestamp.json`, bytes: expect.any(Number) });
  });

  it('a second refresh reports what it used from the cache', async () => {
    await updater().refresh();
    const r = recorder();
    await updater({ onEvent: r.onEvent }).refresh();
    expect(r.events.filter((e) => e.type === 'cache-used').map((e) => (e as { role: string }).role)).toEqual([
      'timestamp',
      'snapshot',
      'targets',
    ]);
  });

  it('reports a refused download with its code, and a skipped cache entry', async () => {
    await updater().refresh();
    sim.timestamp.version = 2;
    sim.files.set('metadata/timestamp.json', await sim.sign(sim.timestamp, [newSigner()]));
    const r = recorder();
    await expect(updater({ onEvent: r.onEvent }).refresh()).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(r.events).toContainEqual(
      expect.objectContaining({ type: 'refused', role: 'timestamp', code: 'THRESHOLD' }),
    );
    expect(r.events.some((e) => e.type === 'persisted')).toBe(false);
  });

  it('reports the deletion of spec 5.3.11 after a snapshot key rotation', async () => {
    await updater().refresh();
    sim.rotateKey('snapshot', newSigner());
    sim.root.version = 2;
    await sim.publishRoot();
    sim.snapshot.version = 2;
    sim.timestamp.version = 2;
    await sim.publish();
    const r = recorder();
    await updater({ onEvent: r.onEvent }).refresh();
    expect(r.events).toContainEqual({
      type: 'cache-deleted',
      roles: ['timestamp', 'snapshot'],
      rootVersion: 2,
    });
  });

  it('a hook that throws changes nothing', async () => {
    await expect(
      updater({
        onEvent: () => {
          throw new Error('broken logger');
        },
      }).getTargetInfo('app/1.0'),
    ).resolves.toMatchObject({ role: 'targets' });
  });
});
