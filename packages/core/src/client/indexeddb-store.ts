/**
 * A MetadataStore in IndexedDB, for clients in web pages, service workers and Web Workers.
 * Portable; its declarations use structural types, so they need no DOM library.
 */
import { StorageError } from '../errors.js';
import type { MetadataStore } from './store.js';

/** The part of an IDBRequest this store uses. */
interface RequestLike<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}

interface TransactionLike {
  objectStore(name: string): {
    get(key: string): RequestLike<unknown>;
    put(value: unknown, key: string): RequestLike<unknown>;
    delete(key: string): RequestLike<unknown>;
  };
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

interface DatabaseLike {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: 'readonly' | 'readwrite'): TransactionLike;
  close(): void;
}

/** `indexedDB`, an IDBFactory (structural, so no DOM types are needed). */
export interface IdbFactoryLike {
  /** Opens a database: an IDBOpenDBRequest. */
  open(name: string, version?: number): unknown;
}

type OpenRequest = RequestLike<unknown> & { onupgradeneeded: (() => void) | null };

/** Options of `IndexedDbMetadataStore.open`. */
export interface IndexedDbStoreOptions {
  /** The IDBFactory; by default `globalThis.indexedDB`. */
  indexedDB?: IdbFactoryLike;
}

const STORE = 'metadata';

function settle<T>(request: RequestLike<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new StorageError(`IndexedDB: ${what} failed`, { cause: request.error }));
  });
}

/**
 * Trusted metadata in one IndexedDB database (one per repository: name it after the
 * repository's URL). Each write is a single `put` in its own read-write transaction, which
 * IndexedDB commits atomically; the promise settles when the transaction has committed. Stores
 * exactly the bytes given (as a copy).
 */
export class IndexedDbMetadataStore implements MetadataStore {
  readonly #db: DatabaseLike;

  private constructor(db: DatabaseLike) {
    this.#db = db;
  }

  /**
   * Opens (creating if needed) the database `name`.
   * @throws {@link errors!StorageError | StorageError} there is no IndexedDB, or it cannot be opened.
   */
  static async open(name: string, options: IndexedDbStoreOptions = {}): Promise<IndexedDbMetadataStore> {
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IdbFactoryLike }).indexedDB;
    if (factory === undefined) {
      throw new StorageError('no IndexedDB in this runtime (expected globalThis.indexedDB)');
    }
    const request = factory.open(name, 1) as OpenRequest;
    request.onupgradeneeded = () => {
      const db = request.result as DatabaseLike;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
    };
    return new IndexedDbMetadataStore((await settle(request, `opening ${name}`)) as DatabaseLike);
  }

  /** The stored bytes for a role, or undefined. */
  async read(role: string): Promise<Uint8Array | undefined> {
    const tx = this.#db.transaction(STORE, 'readonly');
    const value = await settle(tx.objectStore(STORE).get(role), `reading ${role}`);
    if (value === undefined) return undefined;
    if (!(value instanceof Uint8Array)) {
      throw new StorageError(`IndexedDB: ${role} is not stored bytes (found ${typeof value})`);
    }
    return value;
  }

  /** Atomically replaces the bytes for a role; settles when the transaction has committed. */
  async write(role: string, bytes: Uint8Array): Promise<void> {
    await this.#commit((s) => s.put(bytes.slice(), role), `writing ${role}`);
  }

  /** Removes the bytes for a role, if any. */
  async remove(role: string): Promise<void> {
    await this.#commit((s) => s.delete(role), `removing ${role}`);
  }

  /** Closes the database connection. */
  close(): void {
    this.#db.close();
  }

  #commit(
    op: (s: ReturnType<TransactionLike['objectStore']>) => RequestLike<unknown>,
    what: string,
  ): Promise<void> {
    const tx = this.#db.transaction(STORE, 'readwrite');
    return new Promise((resolve, reject) => {
      const fail = () => reject(new StorageError(`IndexedDB: ${what} failed`, { cause: tx.error }));
      tx.oncomplete = () => resolve();
      tx.onerror = fail;
      tx.onabort = fail;
      op(tx.objectStore(STORE));
    });
  }
}
