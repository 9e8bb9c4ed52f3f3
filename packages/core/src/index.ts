/**
 * @tufa/core: The Update Framework for JavaScript. Strict metadata, TUF canonical JSON, keys
 * and threshold verification, the client workflow and the repository side.
 *
 * The public surface by subpath (ADR 0013):
 * - `@tufa/core`: what a client, a repository tool and a signer plugin need, with no I/O of
 *   its own (fetchers and stores are interfaces);
 * - `@tufa/core/node`: Node adapters (HTTP and file fetchers, stores and repository storage on
 *   disk, trust pinning, key files, signer URIs, target downloads);
 * - `@tufa/core/errors`: the error tree alone (cheap to import);
 * - `@tufa/core/notary`: the Notary v1 / Docker Content Trust reader and migration planner;
 * - `@tufa/core/visible`: making third-party text safe for a terminal.
 * Anything else is internal and may change without notice.
 *
 * This module is the portable root entry (browsers, workers, Deno, the `default` condition): it
 * and everything it imports use no `node:` module and no `Buffer`. Under the `node` and `bun`
 * conditions the root entry is `index-node.ts`, which adds in-process private keys.
 */

export {
  BUILT_IN_REALM_HOSTS,
  type CredentialDecision,
  type CredentialGrant,
  type CredentialPolicyInput,
  type CredentialRefusal,
  isLoopbackUrl,
  mayReceiveCredentials,
  normalizeRealmHost,
} from './auth/credential-policy.js';
export {
  type BodyLike,
  type BodyReaderLike,
  FetchFetcher,
  type FetchFetcherOptions,
  type FetchFunction,
  type FetchResponseLike,
} from './client/fetch-fetcher.js';
export type { Fetcher, FetchRequest } from './client/fetcher.js';
export {
  type IdbFactoryLike,
  IndexedDbMetadataStore,
  type IndexedDbStoreOptions,
} from './client/indexeddb-store.js';
export { MemoryMetadataStore, type MetadataStore } from './client/store.js';
export { TrustedMetadataSet } from './client/trusted-set.js';
export {
  type CallOptions,
  DEFAULT_LIMITS,
  type TargetInfo,
  Updater,
  type UpdaterEvent,
  type UpdaterLimits,
  type UpdaterOptions,
} from './client/updater.js';
export * from './crypto/portable.js';
export * from './errors.js';
export { canonicalBytes } from './json/canonical.js';
export { parseJson } from './json/strict.js';
export {
  type ByteSource,
  type LengthAndHashChecker,
  MetaFile,
  measure,
  TargetFile,
} from './metadata/files.js';
export {
  checkRoleFileName,
  hashPrefixedTargetPath,
  LATEST_ROOT_FILE_NAME,
  METADATA_DIR,
  metadataPath,
  metaFileName,
  roleStoragePath,
  roleUrlName,
  rootFileName,
  TIMESTAMP_FILE_NAME,
} from './metadata/layout.js';
export {
  type FileFormat,
  Metadata,
  type SignedByType,
  type VerificationResult,
} from './metadata/metadata.js';
export { matchPathPattern } from './metadata/pathmatch.js';
export {
  DelegatedRole,
  Delegations,
  Role,
  SuccinctRoles,
  TOP_LEVEL_ROLE_NAMES,
  type TopLevelRoleName,
} from './metadata/roles.js';
export { type SearchResult, searchTargets, type TargetsGraph } from './metadata/search.js';
export {
  type AnySigned,
  type RoleType,
  Root,
  Signed,
  type SignedCommon,
  Snapshot,
  SPECIFICATION_VERSION,
  Targets,
  Timestamp,
} from './metadata/signed.js';
export {
  applyHashBinPolicy,
  DEFAULT_HASH_BIN_THRESHOLD,
  decideHashBins,
  defaultBitLength,
  HASH_BIN_PARENT,
  type HashBinDecision,
  type HashBinInput,
  rebinBitLength,
} from './repository/hash-bins.js';
export {
  type CreateOptions,
  DEFAULT_EXPIRY,
  type ExpiryPolicy,
  type PendingRole,
  type PublishOptions,
  type PublishResult,
  Repository,
  type RepositoryOptions,
  type SearchedBeforeBins,
} from './repository/repository.js';
export {
  type RootComparison,
  type RootKeyChange,
  type RootKeySummary,
  type RootRoleSummary,
  type RootSummary,
  summarizeRoot,
} from './repository/root-summary.js';
export {
  describeSigned,
  mergeSigningRequests,
  type RequiredSignatures,
  type SigningRequest,
  signingRequestFromBytes,
  signingRequestStatus,
  signingRequestToBytes,
  signSigningRequest,
} from './repository/signing-request.js';
export { MemoryRepositoryStorage, type RepositoryStorage } from './repository/storage.js';
export {
  type CheckTagNameOptions,
  checkTagName,
  MAX_TAG_BYTES,
  OCI_TAG,
  showTagName,
  type TagNameWarning,
} from './repository/tag-name.js';
export { repositoryTargetsGraph } from './repository/targets-graph.js';
export {
  DEFAULT_TRANSACTION_ATTEMPTS,
  isRetryableConflict,
  type RepositoryEdit,
  type TransactionOptions,
  type TransactionResult,
  withRepository,
} from './repository/transaction.js';
export { safeJson, type VisibleOptions, visible } from './visible.js';
