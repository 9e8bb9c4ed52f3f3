/**
 * The OCI manifest of one TUF metadata file (docs/tuf-in-oci.md, "Manifests"): an OCI image
 * manifest with `artifactType` `application/vnd.tufa.metadata.v1+json`, the empty config, and
 * exactly one layer whose blob is the TUF file byte for byte.
 *
 * The manifest is a function of the file's name and bytes only (no dates, no tool version), so a
 * client holding the bytes of a timestamp it trusts can compute the manifest digest a registry
 * would answer with and skip the download when a HEAD shows the same digest.
 */
import { FormatError, parseJson, roleUrlName, safeJson } from '@tufa/core';
import { computeDigest, digestProblem } from '../digest.js';
import { MEDIA_TYPES } from '../manifest.js';
import type { MetadataFile } from './tags.js';

/** `artifactType` of a metadata manifest, and the media type of its one layer. */
export const TUF_METADATA_MEDIA_TYPE = 'application/vnd.tufa.metadata.v1+json';
/** `artifactType` of the lease manifest. */
export const TUF_LEASE_ARTIFACT_TYPE = 'application/vnd.tufa.lease.v1+json';
/** The OCI empty descriptor's blob (`{}`), used as config (image-spec 1.1, "Guidance for an empty descriptor"). */
export const EMPTY_CONFIG_BYTES = new TextEncoder().encode('{}');
export const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: computeDigest(EMPTY_CONFIG_BYTES),
  size: 2,
} as const;
/** Annotation keys (reverse-domain, as the image specification asks). */
export const ANNOTATION_ROLE = 'dev.tufa.metadata.role';
export const ANNOTATION_VERSION = 'dev.tufa.metadata.version';
const TITLE = 'org.opencontainers.image.title';

/** The file name a TUF client over HTTP would ask for (used as the layer's title). */
export function metadataFileName(file: MetadataFile): string {
  return file.version === undefined ? 'timestamp.json' : roleUrlName(file.role, file.version, true);
}

/** The manifest bytes for `file` holding `bytes` (key order fixed, no whitespace). */
export function buildMetadataManifest(file: MetadataFile, bytes: Uint8Array): Uint8Array {
  const annotations: Record<string, string> = { [ANNOTATION_ROLE]: file.role };
  if (file.version !== undefined) annotations[ANNOTATION_VERSION] = String(file.version);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    artifactType: TUF_METADATA_MEDIA_TYPE,
    config: EMPTY_CONFIG,
    layers: [
      {
        mediaType: TUF_METADATA_MEDIA_TYPE,
        digest: computeDigest(bytes),
        size: bytes.length,
        annotations: { [TITLE]: metadataFileName(file) },
      },
    ],
    annotations,
  };
  return new TextEncoder().encode(JSON.stringify(manifest));
}

/** The one layer of a metadata manifest: where the TUF file's bytes are and how many. */
export interface MetadataLayer {
  digest: string;
  size: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

/**
 * Checks that `bytes`, served for `file`'s tag, are a tufa metadata manifest for exactly that
 * file, and returns its layer. A registry (or anyone who can push a tag) that puts an image, an
 * artifact of another kind, a manifest with several layers, or the manifest of another role or
 * version under the tag is refused with FormatError; the TUF checks after it (signatures,
 * versions, hashes) are not the only line.
 */
export function parseMetadataManifest(bytes: Uint8Array, file: MetadataFile, where: string): MetadataLayer {
  const fail = (what: string): never => {
    throw new FormatError(`${where} is not a tufa metadata manifest for ${metadataFileName(file)}: ${what}`);
  };
  let doc: unknown;
  try {
    doc = parseJson(bytes);
  } catch (e) {
    return fail(`not strict JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(doc)) return fail('expected a JSON object');
  if (own(doc, 'schemaVersion') !== 2) return fail('expected schemaVersion 2');
  if (own(doc, 'mediaType') !== MEDIA_TYPES.ociManifest) {
    return fail(
      `expected mediaType ${MEDIA_TYPES.ociManifest}, found ${safeJson(own(doc, 'mediaType') ?? null, 0)}`,
    );
  }
  if (own(doc, 'artifactType') !== TUF_METADATA_MEDIA_TYPE) {
    return fail(
      `expected artifactType ${TUF_METADATA_MEDIA_TYPE}, found ${safeJson(own(doc, 'artifactType') ?? null, 0)}`,
    );
  }
  const layers = own(doc, 'layers');
  if (!Array.isArray(layers) || layers.length !== 1) {
    return fail(`expected exactly one layer, found ${Array.isArray(layers) ? layers.length : 'none'}`);
  }
  const layer: unknown = layers[0];
  if (!isObject(layer)) return fail('expected the layer as an object');
  if (own(layer, 'mediaType') !== TUF_METADATA_MEDIA_TYPE) {
    return fail(
      `expected a layer of type ${TUF_METADATA_MEDIA_TYPE}, found ${safeJson(own(layer, 'mediaType') ?? null, 0)}`,
    );
  }
  const digest = own(layer, 'digest');
  if (typeof digest !== 'string' || digestProblem(digest) !== undefined)
    return fail('the layer digest is not a sha256 or sha512 digest');
  const size = own(layer, 'size');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    return fail('the layer size is not a non-negative integer');
  const annotations = own(doc, 'annotations');
  const role = isObject(annotations) ? own(annotations, ANNOTATION_ROLE) : undefined;
  const version = isObject(annotations) ? own(annotations, ANNOTATION_VERSION) : undefined;
  const wanted = file.version === undefined ? undefined : String(file.version);
  if (role !== file.role || version !== wanted) {
    return fail(
      `its annotations name role ${safeJson(role ?? null, 0)} version ${safeJson(version ?? null, 0)}, expected role ${safeJson(file.role, 0)} version ${safeJson(wanted ?? null, 0)}`,
    );
  }
  return { digest, size };
}

/** The lease manifest (docs/tuf-in-oci.md, "Publishing"): who holds the lease and until when. */
export interface Lease {
  /** A random id per acquisition (128 bits, hex). */
  owner: string;
  /** Milliseconds since the epoch. */
  expires: number;
  /** Whether the holder has released it. */
  released: boolean;
}

const LEASE_OWNER = 'dev.tufa.lease.owner';
const LEASE_EXPIRES = 'dev.tufa.lease.expires';
const LEASE_STATE = 'dev.tufa.lease.state';

export function buildLeaseManifest(lease: Lease): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType: TUF_LEASE_ARTIFACT_TYPE,
      config: EMPTY_CONFIG,
      layers: [EMPTY_CONFIG],
      annotations: {
        [LEASE_OWNER]: lease.owner,
        [LEASE_EXPIRES]: new Date(lease.expires).toISOString(),
        [LEASE_STATE]: lease.released ? 'released' : 'held',
      },
    }),
  );
}

export function parseLeaseManifest(bytes: Uint8Array, where: string): Lease {
  const fail = (what: string): never => {
    throw new FormatError(`${where} is not a tufa lease manifest: ${what}`);
  };
  let doc: unknown;
  try {
    doc = parseJson(bytes);
  } catch (e) {
    return fail(`not strict JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(doc) || own(doc, 'artifactType') !== TUF_LEASE_ARTIFACT_TYPE)
    return fail(`expected artifactType ${TUF_LEASE_ARTIFACT_TYPE}`);
  const a = own(doc, 'annotations');
  if (!isObject(a)) return fail('no annotations');
  const owner = own(a, LEASE_OWNER);
  const expires = own(a, LEASE_EXPIRES);
  const state = own(a, LEASE_STATE);
  if (typeof owner !== 'string' || !/^[0-9a-f]{32}$/.test(owner))
    return fail('expected a 32-hex-digit owner');
  const ms =
    typeof expires === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(expires)
      ? Date.parse(expires)
      : Number.NaN;
  if (!Number.isFinite(ms) || new Date(ms).toISOString() !== expires)
    return fail('expected an ISO 8601 UTC expiry');
  if (state !== 'held' && state !== 'released') return fail('expected state "held" or "released"');
  return { owner, expires: ms, released: state === 'released' };
}
