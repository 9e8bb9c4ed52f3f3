import type { Fetcher, FetchRequest } from '../../src/client/fetcher.js';
import { MemoryMetadataStore } from '../../src/client/store.js';
import { Updater } from '../../src/client/updater.js';
import { NotFoundError } from '../../src/errors.js';
import type { MemoryRepositoryStorage } from '../../src/repository/storage.js';

export const BASE = 'https://repo.test/';

/** Serves a repository storage over the Fetcher interface (metadata/ and targets/). */
export class StorageFetcher implements Fetcher {
  readonly requests: string[] = [];
  constructor(private readonly storage: MemoryRepositoryStorage) {}
  async *fetch(url: string, _r: FetchRequest): AsyncIterable<Uint8Array> {
    const path = decodeURIComponent(url.slice(BASE.length));
    this.requests.push(path);
    const b = this.storage.files.get(path);
    if (!b) throw new NotFoundError(`${url}: 404`, { status: 404 });
    yield b;
  }
}

/** A client trusting `rootVersion` of the repository in `storage`. */
export async function client(
  storage: MemoryRepositoryStorage,
  options: { rootVersion?: number; now?: Date; store?: MemoryMetadataStore } = {},
) {
  const store = options.store ?? new MemoryMetadataStore();
  if (!(await store.read('root'))) {
    const root = storage.files.get(`metadata/${options.rootVersion ?? 1}.root.json`);
    if (!root) throw new Error('no root');
    await store.write('root', root);
  }
  const fetcher = new StorageFetcher(storage);
  const updater = new Updater({
    metadataBaseUrl: `${BASE}metadata/`,
    targetBaseUrl: `${BASE}targets/`,
    fetcher,
    store,
    ...(options.now ? { now: () => options.now as Date } : {}),
  });
  return { updater, store, fetcher };
}
