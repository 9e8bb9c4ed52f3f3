/**
 * Where the client keeps trusted metadata between runs. Implementations must write atomically
 * (a reader sees the old bytes or the new bytes, never a mix) and must store exactly the bytes
 * given: the bytes received and verified.
 */
export interface MetadataStore {
  /** The stored bytes for a role, or undefined when there are none. */
  read(role: string): Promise<Uint8Array | undefined>;
  /** Atomically replaces the stored bytes for a role. */
  write(role: string, bytes: Uint8Array): Promise<void>;
  /** Removes the stored bytes for a role, if any. */
  remove(role: string): Promise<void>;
}

/** A store in memory, for tests and for short-lived clients. */
export class MemoryMetadataStore implements MetadataStore {
  readonly files = new Map<string, Uint8Array>();

  async read(role: string): Promise<Uint8Array | undefined> {
    return this.files.get(role);
  }

  async write(role: string, bytes: Uint8Array): Promise<void> {
    this.files.set(role, bytes.slice());
  }

  async remove(role: string): Promise<void> {
    this.files.delete(role);
  }
}
