/**
 * @tufa/oci: OCI distribution registries for tufa. Parses image references, resolves a tag to
 * the descriptor of what the registry serves (media type, digest and length of the bytes
 * received), lists tags, and logs in the way Docker does — with credentials sent only where
 * `@tufa/core`'s credential policy allows. Design: docs/adr/0010-oci-registry-client.md.
 *
 * ```ts
 * import { RegistryClient } from '@tufa/oci';
 * const client = new RegistryClient();
 * const { descriptor } = await client.getManifest('registry.example.com/team/app:1.4.2');
 * ```
 */

// The one error tree (DESIGN principle 5), re-exported so callers can match on it from here.
export {
  ConflictError,
  CredentialsRefusedError,
  DownloadLimitError,
  FetchError,
  FormatError,
  isTufError,
  KeyError,
  LengthOrHashError,
  NotFoundError,
  PublishLockedError,
  StateError,
  TimeoutError,
  TufError,
  type TufErrorCode,
  UnsafeNameError,
  UnsupportedHashError,
  UsageError,
} from '@tufa/core';
export type { ScopeAction } from './auth.js';
export {
  type CredentialProvider,
  DEFAULT_MAX_BLOB_BYTES,
  DEFAULT_MAX_MANIFEST_BYTES,
  type ListTagsOptions,
  type ManifestResult,
  nextLink,
  type OperationOptions,
  RegistryClient,
  type RegistryClientOptions,
} from './client.js';
export {
  type AuthEntry,
  type AuthFile,
  authKeyHost,
  parseAuthFile,
  readAuthFile,
} from './credentials/auth-file.js';
export {
  type HelperCredentials,
  type RunHelperOptions,
  runCredentialHelper,
  scrubHelperOutput,
} from './credentials/helper.js';
export {
  type CredentialLookup,
  type CredentialLookupOptions,
  DOCKER_HUB_AUTH_KEY,
  findRegistryCredentials,
  PASSWORD_ENV,
  type RegistryCredentials,
  USERNAME_ENV,
} from './credentials/lookup.js';
export {
  checkDigest,
  computeDigest,
  type DigestAlgorithm,
  digestAlgorithm,
  digestProblem,
  isDigest,
} from './digest.js';
export {
  type Descriptor,
  isIndexMediaType,
  isManifestMediaType,
  MANIFEST_ACCEPT,
  type ManifestMediaType,
  MEDIA_TYPES,
  type ParsedManifest,
  type Platform,
  type PlatformManifest,
  parseManifest,
} from './manifest.js';
export {
  DOCKER_HUB,
  DOCKER_HUB_API_HOST,
  formatImageReference,
  type ImageReference,
  isRepositoryName,
  isTag,
  parseImageReference,
  pinnedReference,
} from './reference.js';
export { OciFetcher, type OciFetcherOptions } from './tuf/fetcher.js';
export { MetadataTags, parseOciLocation, type ReadFile } from './tuf/files.js';
export type { PublishStep } from './tuf/lease.js';
export {
  ANNOTATION_ROLE,
  ANNOTATION_VERSION,
  buildMetadataManifest,
  EMPTY_CONFIG,
  type Lease,
  type MetadataLayer,
  metadataFileName,
  parseMetadataManifest,
  TUF_LEASE_ARTIFACT_TYPE,
  TUF_METADATA_MEDIA_TYPE,
} from './tuf/manifest.js';
export { OciRepositoryStorage, type OciRepositoryStorageOptions } from './tuf/storage.js';
export {
  decodeRoleName,
  encodeRoleName,
  isReservedTag,
  LEASE_TAG,
  MAX_ENCODED_ROLE_LENGTH,
  type MetadataFile,
  metadataTag,
  parseMetadataFileName,
  parseMetadataTag,
  TIMESTAMP_TAG,
  TUF_TAG_PREFIX,
} from './tuf/tags.js';
export { exportRepository, importRepository, type TransferResult } from './tuf/transfer.js';
