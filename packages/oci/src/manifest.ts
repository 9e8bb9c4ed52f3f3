/**
 * Manifests a registry serves for a tag: the OCI image manifest and index, and Docker's schema 2
 * manifest and manifest list (which the OCI formats were made from). Parsed strictly from the
 * bytes received (duplicate keys, fractions and huge integers refused: two parsers must not read
 * two different manifests under one digest), and only as far as tufa needs: the media type, and
 * for an index the platform manifests it lists.
 */
import { FormatError, parseJson } from '@tufa/core';
import { digestProblem } from './digest.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export type ManifestMediaType = (typeof MEDIA_TYPES)[keyof typeof MEDIA_TYPES];

const KNOWN: ReadonlySet<string> = new Set(Object.values(MEDIA_TYPES));
const INDEX_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]);

/** The `Accept` header of a manifest request: every format tufa reads, indexes first. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
].join(', ');

/** Whether `type` is one of the four manifest media types tufa reads. */
export function isManifestMediaType(type: string): type is ManifestMediaType {
  return KNOWN.has(type);
}

/** Whether `type` is an index (OCI image index or Docker manifest list). */
export function isIndexMediaType(type: string): boolean {
  return INDEX_TYPES.has(type);
}

/** What a manifest is named by: its media type, digest and size (OCI "descriptor"). */
export interface Descriptor {
  mediaType: ManifestMediaType;
  digest: string;
  size: number;
}

/** The platform an index entry is for (OCI image-index "platform"). */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  osVersion?: string;
  osFeatures?: string[];
}

/** One entry of an index: the manifest for one platform. */
export interface PlatformManifest {
  mediaType: string;
  digest: string;
  size: number;
  /** Absent when the index does not say (attestations, other artifacts). */
  platform: Platform | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

function str(o: Record<string, unknown>, k: string, path: string, required: boolean): string | undefined {
  const v = own(o, k);
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') {
    throw new FormatError(`expected a string, found ${v === undefined ? 'none' : typeof v}`, `${path}.${k}`);
  }
  return v;
}

function parsePlatform(v: unknown, path: string): Platform | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw new FormatError('expected an object', path);
  const p: Platform = {
    architecture: str(v, 'architecture', path, true) as string,
    os: str(v, 'os', path, true) as string,
  };
  const variant = str(v, 'variant', path, false);
  if (variant !== undefined) p.variant = variant;
  const osVersion = str(v, 'os.version', path, false);
  if (osVersion !== undefined) p.osVersion = osVersion;
  const features = own(v, 'os.features');
  if (features !== undefined) {
    if (!Array.isArray(features) || !features.every((f) => typeof f === 'string')) {
      throw new FormatError('expected an array of strings', `${path}.os.features`);
    }
    p.osFeatures = [...features];
  }
  return p;
}

/** A manifest as received: its own media type field, and the index entries when it is an index. */
export interface ParsedManifest {
  /** The `mediaType` field in the bytes, when present. */
  mediaType: string | undefined;
  /** The platform manifests, for an index; `undefined` otherwise. */
  manifests: PlatformManifest[] | undefined;
}

/**
 * Parses manifest bytes served as `servedType` (the `Content-Type`). The `mediaType` field,
 * when present, must agree with it: the digest covers the field, not the header.
 */
export function parseManifest(bytes: Uint8Array, servedType: ManifestMediaType): ParsedManifest {
  let doc: unknown;
  try {
    doc = parseJson(bytes);
  } catch (e) {
    throw new FormatError(`the manifest is not strict JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(doc)) throw new FormatError('expected a JSON object', 'manifest');
  if (own(doc, 'schemaVersion') !== 2) {
    throw new FormatError(
      `expected schemaVersion 2, found ${JSON.stringify(own(doc, 'schemaVersion'))}`,
      'manifest',
    );
  }
  const mediaType = str(doc, 'mediaType', 'manifest', false);
  if (mediaType !== undefined && mediaType !== servedType) {
    throw new FormatError(
      `expected the media type the registry served (${servedType}), found ${JSON.stringify(mediaType)}`,
      'manifest.mediaType',
    );
  }
  if (!isIndexMediaType(servedType)) return { mediaType, manifests: undefined };
  const list = own(doc, 'manifests');
  if (!Array.isArray(list)) throw new FormatError('expected an array', 'manifest.manifests');
  const manifests = list.map((entry, i): PlatformManifest => {
    const path = `manifest.manifests[${i}]`;
    if (!isObject(entry)) throw new FormatError('expected an object', path);
    const digest = str(entry, 'digest', path, true) as string;
    const problem = digestProblem(digest);
    if (problem !== undefined) throw new FormatError(problem, `${path}.digest`);
    const size = own(entry, 'size');
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new FormatError('expected a non-negative integer', `${path}.size`);
    }
    return {
      mediaType: str(entry, 'mediaType', path, true) as string,
      digest,
      size,
      platform: parsePlatform(own(entry, 'platform'), `${path}.platform`),
    };
  });
  return { mediaType, manifests };
}
