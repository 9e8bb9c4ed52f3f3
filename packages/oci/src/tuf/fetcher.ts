/**
 * `OciFetcher`: core's `Fetcher` for a TUF repository stored in an OCI registry (layout:
 * docs/tuf-in-oci.md). The Updater asks for `BASE + NAME` as over HTTP, with `metadataBaseUrl`
 * set to this fetcher's `metadataBaseUrl`; each name maps onto a tag:
 *
 * - `N.ROLE.json`: GET the manifest under the tag (checked: a tufa metadata manifest for exactly
 *   that file), then GET its one layer (checked: size and digest; at most the Updater's limit,
 *   counted on the bytes read — core counts again).
 * - `timestamp.json`: with a `store` holding a trusted timestamp, first HEAD the tag and compare
 *   its digest with the manifest those cached bytes would have; equal means nothing changed and
 *   the cached bytes are returned (the Updater verifies them like any download). So a refresh
 *   that finds nothing new costs the next-root probe and this HEAD: two requests.
 *
 * Target files are not served: the targets are the images, which the registry client resolves.
 */
import {
  type Fetcher,
  type FetchRequest,
  type MetadataStore,
  NotFoundError,
  safeJson,
  UnsafeNameError,
  UsageError,
} from '@tufa/core';
import { RegistryClient, type RegistryClientOptions } from '../client.js';
import { MetadataTags, parseOciLocation, TUF_CLIENT_DEFAULTS } from './files.js';
import { type MetadataFile, metadataTag, parseMetadataFileName } from './tags.js';

export interface OciFetcherOptions {
  /** The registry client (pull access is enough). Default: a new one with `clientOptions` (`retries` defaults to 3, `maxManifestBytes` to 64 KiB). */
  client?: RegistryClient;
  clientOptions?: RegistryClientOptions;
  /**
   * The Updater's metadata store: its trusted timestamp lets a refresh skip downloading an
   * unchanged timestamp (a HEAD instead). Optional: without it every refresh GETs the timestamp.
   */
  store?: MetadataStore;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new UnsafeNameError(`${safeJson(segment, 0)} is not a percent-encoded role name`);
  }
}

export class OciFetcher implements Fetcher {
  /** What to pass as the Updater's `metadataBaseUrl`: `oci://REGISTRY/REPOSITORY/`. */
  readonly metadataBaseUrl: string;
  readonly tags: MetadataTags;
  readonly #store: MetadataStore | undefined;

  /** `location`: `REGISTRY/REPOSITORY` (or `oci://…`), where the metadata tags live. */
  constructor(location: string, options: OciFetcherOptions = {}) {
    const repository = parseOciLocation(location);
    this.tags = new MetadataTags(
      options.client ?? new RegistryClient({ ...TUF_CLIENT_DEFAULTS, ...options.clientOptions }),
      repository,
    );
    this.metadataBaseUrl = `oci://${repository.registry}/${repository.repository}/`;
    this.#store = options.store;
  }

  /** The metadata file `url` names. */
  #file(url: string): MetadataFile {
    if (!url.startsWith(this.metadataBaseUrl)) {
      throw new UsageError(
        `${safeJson(url, 0)} is not under ${this.metadataBaseUrl}: target files are not stored in the registry (the images are the targets)`,
      );
    }
    const name = url.slice(this.metadataBaseUrl.length);
    if (name.includes('/')) throw new UnsafeNameError(`${safeJson(name, 0)} is not one file name`);
    return parseMetadataFileName(name, decodeSegment);
  }

  async *fetch(url: string, request: FetchRequest): AsyncGenerator<Uint8Array> {
    const file = this.#file(url);
    const { signal, maxLength } = request;
    let byDigest: string | undefined;
    // Without a trusted timestamp to compare with, a HEAD would only add a request.
    const cached = file.version === undefined ? await this.#store?.read('timestamp') : undefined;
    if (cached !== undefined) {
      const served = await this.tags.head(metadataTag(file), { signal });
      if (served !== undefined && served === MetadataTags.manifestDigest(file, cached)) {
        yield cached;
        return;
      }
      // GET the manifest the HEAD saw, by digest, so the two requests agree on one version.
      byDigest = served;
    }
    const got = await this.tags.read(file, maxLength, {
      signal,
      ...(byDigest !== undefined ? { byDigest } : {}),
    });
    if (got === undefined) {
      throw new NotFoundError(`${url}: no tag ${metadataTag(file)} in ${this.tags.repository.name}`);
    }
    yield got.bytes;
  }
}
