/**
 * The client side of the simulator tests: a fixed clock, an Updater pointed at the simulator's
 * URLs, and a client store that trusts the simulator's first root, as a fresh client would.
 */
import type { Fetcher } from '../../src/client/fetcher.js';
import { MemoryMetadataStore, type MetadataStore } from '../../src/client/store.js';
import { Updater, type UpdaterOptions } from '../../src/client/updater.js';
import { METADATA_URL, type Simulator, TARGETS_URL } from './simulator.js';

/** The client's clock: before the simulator's expiry (FAR_FUTURE) and fixed, so no test ages. */
export const NOW = new Date('2030-01-01T00:00:00Z');
/** An `expires` one second before NOW: metadata that has just expired. */
export const PAST = '2029-12-31T23:59:59Z';

/** An Updater over the simulator's URLs at NOW; `fetcher` is the simulator or a wrapper around it. */
export function newUpdater(
  fetcher: Fetcher,
  store: MetadataStore,
  extra: Partial<UpdaterOptions> = {},
): Updater {
  return new Updater({
    metadataBaseUrl: METADATA_URL,
    targetBaseUrl: TARGETS_URL,
    fetcher,
    store,
    now: () => NOW,
    ...extra,
  });
}

/** A client store holding only the simulator's published root version 1: the trusted root. */
export async function trustingStore(sim: Simulator): Promise<MemoryMetadataStore> {
  const store = new MemoryMetadataStore();
  await store.write('root', sim.rootBytes(1));
  return store;
}

/**
 * An Updater that has refreshed once, with the simulator's request log cleared after it, so a
 * test sees only the requests of what it does next.
 */
export async function refreshedUpdater(sim: Simulator, store: MetadataStore): Promise<Updater> {
  const updater = newUpdater(sim, store);
  await updater.refresh();
  sim.requests.length = 0;
  return updater;
}
