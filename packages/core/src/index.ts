/**
 * @tufa/core: The Update Framework for JavaScript. Strict metadata, TUF canonical JSON, keys
 * and threshold verification, the client workflow and (soon) the repository side. Node I/O
 * adapters (HTTP and file fetchers, filesystem stores) are in `@tufa/core/node`.
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
  boundedStream,
  type DownloadOptions,
  download,
  type Fetcher,
  type FetchRequest,
} from './client/fetcher.js';
export { roleNameToFileStem, roleNameToUrlSegment, targetPathToUrlPath } from './client/names.js';
export { MemoryMetadataStore, type MetadataStore } from './client/store.js';
export { TrustedMetadataSet } from './client/trusted-set.js';
export {
  DEFAULT_LIMITS,
  type TargetInfo,
  Updater,
  type UpdaterLimits,
  type UpdaterOptions,
} from './client/updater.js';
export * from './crypto/index.js';
export * from './errors.js';
export { canonicalBytes, canonicalString, compareCodePoints } from './json/canonical.js';
export { MAX_DEPTH, parseJson, parseStrict, type StrictParseResult } from './json/strict.js';
export { type ByteSource, LengthAndHashChecker, MetaFile, measure, TargetFile } from './metadata/files.js';
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
export { pythonJson } from './metadata/serialize.js';
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
export { formatExpires, isExpiredAt, parseExpires } from './metadata/time.js';
export * from './notary/index.js';
export {
  applyHashBinPolicy,
  DEFAULT_HASH_BIN_THRESHOLD,
  decideHashBins,
  type HashBinDecision,
  type HashBinInput,
  type TargetsDelegation,
  targetsDelegation,
} from './repository/hash-bins.js';
export {
  type CreateOptions,
  checkRoleFileName,
  DEFAULT_EXPIRY,
  type ExpiryPolicy,
  type PendingRole,
  type PublishResult,
  Repository,
  type RepositoryOptions,
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
  describeChanges,
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
  transactionBackoff,
  withRepository,
} from './repository/transaction.js';
export { safeJson, type VisibleOptions, visible } from './visible.js';
