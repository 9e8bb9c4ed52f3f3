/**
 * Reading and writing TUF metadata files as tags of one OCI repository, in the layout of
 * docs/tuf-in-oci.md: shared by the publisher's storage, the client's fetcher and export/import.
 */
import { DownloadLimitError, NotFoundError, safeJson, UsageError } from '@tufa/core';
import type { OperationOptions, RegistryClient } from '../client.js';
import { computeDigest } from '../digest.js';
import { MEDIA_TYPES } from '../manifest.js';
import { type ImageReference, parseImageReference } from '../reference.js';
import {
  buildLeaseManifest,
  buildMetadataManifest,
  EMPTY_CONFIG_BYTES,
  type Lease,
  parseLeaseManifest,
  parseMetadataManifest,
} from './manifest.js';
import { LEASE_TAG, type MetadataFile, metadataTag } from './tags.js';

/**
 * `host[:port]/repository` as the place metadata lives: the image repository itself, or a
 * sibling one (docs/tuf-in-oci.md, "Where"). No tag, no digest.
 */
export function parseOciLocation(location: string): ImageReference {
  const text = location.startsWith('oci://') ? location.slice('oci://'.length) : location;
  const ref = parseImageReference(text.replace(/\/+$/, ''));
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new UsageError(
      `expected a repository (oci://REGISTRY/REPOSITORY) without a tag or digest, found ${safeJson(location, 0)}`,
    );
  }
  return ref;
}

/**
 * What the storage's and the fetcher's own registry clients use unless told otherwise:
 * - retries: publishers contend for the lease tag, and a registry may answer 500 to a read
 *   racing a write of the same tag (distribution 2.8 on a filesystem does);
 * - a 64 KiB manifest limit instead of 4 MiB: a metadata manifest is under 2 KiB (its largest
 *   part, the role name, is limited by the tag), so a registry cannot make each refresh request
 *   read megabytes before the layer checks refuse them.
 */
export const TUF_CLIENT_DEFAULTS = { retries: 3, retryDelayMs: 100, maxManifestBytes: 64 * 1024 } as const;

/** One metadata file as read: its bytes and the digest of the manifest that named them. */
export interface ReadFile {
  bytes: Uint8Array;
  manifestDigest: string;
}

export class MetadataTags {
  readonly client: RegistryClient;
  readonly repository: ImageReference;
  #configPushed = false;

  constructor(client: RegistryClient, repository: ImageReference) {
    this.client = client;
    this.repository = repository;
  }

  /** The reference of `tag` in this repository. */
  ref(tag: string): ImageReference {
    return { ...this.repository, tag, digest: undefined };
  }

  /** The digest of the manifest `tag` names now (HEAD), or undefined when there is none. */
  async head(tag: string, options: OperationOptions = {}): Promise<string | undefined> {
    try {
      return (await this.client.resolve(this.ref(tag), options)).digest;
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  /**
   * The bytes of `file`, at most `maxLength`: the manifest under its tag (or `byDigest`, the
   * digest a HEAD answered with) must be a tufa metadata manifest for that file, and the blob
   * must have the layer's size and digest. Undefined when the tag does not exist.
   */
  async read(
    file: MetadataFile,
    maxLength: number,
    options: OperationOptions & { byDigest?: string } = {},
  ): Promise<ReadFile | undefined> {
    const tag = metadataTag(file);
    const ref: ImageReference =
      options.byDigest !== undefined ? { ...this.repository, tag, digest: options.byDigest } : this.ref(tag);
    let manifest: Awaited<ReturnType<RegistryClient['getManifest']>>;
    try {
      manifest = await this.client.getManifest(ref, options);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
    const where = `${this.repository.name}:${tag}`;
    // The manifest's own mediaType must be the OCI image manifest's, and RegistryClient has
    // checked that the Content-Type served agrees with it.
    const layer = parseMetadataManifest(manifest.bytes, file, where);
    // The limit applies to what the manifest declares and, below, to the bytes actually read.
    if (layer.size > maxLength) {
      throw new DownloadLimitError(
        `${where}: the file is ${layer.size} bytes, expected at most ${maxLength}`,
      );
    }
    const bytes = await this.client.getBlob(this.repository, layer.digest, layer.size, options);
    // At most layer.size bytes were read, and they hash to the layer's digest: they are the file.
    return { bytes, manifestDigest: manifest.descriptor.digest };
  }

  /** Pushes `bytes` as `file`: the blob, then the manifest under its tag. Returns the manifest digest. */
  async write(file: MetadataFile, bytes: Uint8Array, options: OperationOptions = {}): Promise<string> {
    await this.#pushConfig(options);
    await this.client.pushBlob(this.repository, bytes, options);
    return this.client.putManifest(
      this.ref(metadataTag(file)),
      buildMetadataManifest(file, bytes),
      MEDIA_TYPES.ociManifest,
      options,
    );
  }

  /** The manifest digest `write` would produce for `file` holding `bytes`. */
  static manifestDigest(file: MetadataFile, bytes: Uint8Array): string {
    return computeDigest(buildMetadataManifest(file, bytes));
  }

  /** The lease as the registry holds it now, or undefined when there is none. */
  async readLease(options: OperationOptions = {}): Promise<Lease | undefined> {
    try {
      const m = await this.client.getManifest(this.ref(LEASE_TAG), options);
      return parseLeaseManifest(m.bytes, `${this.repository.name}:${LEASE_TAG}`);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  async writeLease(lease: Lease, options: OperationOptions = {}): Promise<void> {
    await this.#pushConfig(options);
    await this.client.putManifest(
      this.ref(LEASE_TAG),
      buildLeaseManifest(lease),
      MEDIA_TYPES.ociManifest,
      options,
    );
  }

  async #pushConfig(options: OperationOptions): Promise<void> {
    if (this.#configPushed) return;
    await this.client.pushBlob(this.repository, EMPTY_CONFIG_BYTES, options);
    this.#configPushed = true;
  }
}
