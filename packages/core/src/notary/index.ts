/**
 * `@tufa/core/notary`: the Notary v1 (Docker Content Trust) reader — verify and list trust
 * collections, read-only — the migration planner, and the Node sources (a notary-server with
 * Docker's token flow, a client trust directory on disk).
 */

export {
  DCT_ROLES,
  type DctResolution,
  dctList,
  dctLookup,
  dctResolve,
  dctResolveAll,
  notaryCopies,
  notaryLookup,
} from './dct.js';
export {
  importNotaryCollection,
  type NotaryImportOptions,
  type NotaryProvenance,
  type NotaryRoleMapper,
  notaryProvenance,
  notaryRoleMapper,
  tagNameProblem,
} from './import.js';
export {
  decodeBase64,
  type NotaryKey,
  notaryKey,
  notaryKeyId,
  rawEcdsaToDer,
  tufaSignatureHex,
} from './keys.js';
export {
  type NotaryDelegation,
  type NotaryEnvelope,
  type NotaryFileMeta,
  type NotaryRoleKeys,
  type NotaryRoleType,
  type NotaryRoot,
  type NotarySignature,
  type NotarySigned,
  type NotarySnapshot,
  type NotaryTargetEntry,
  type NotaryTargets,
  type NotaryTimestamp,
  parseNotaryMetadata,
} from './metadata.js';
export {
  type NotaryMigrationOptions,
  type NotaryMigrationPlan,
  type PlannedImport,
  planNotaryMigration,
} from './migrate.js';
export * from './node.js';
export {
  type NotaryCertificateInfo,
  type NotaryCollection,
  type NotaryReadOptions,
  type NotaryRoleFailure,
  type NotaryRoleInfo,
  type NotaryTarget,
  type NotaryTrustOptions,
  readNotaryCollection,
} from './reader.js';
export {
  checkNotaryGun,
  checkNotaryRoleName,
  FetcherNotarySource,
  type FetcherNotarySourceOptions,
  type NotarySource,
  notaryServerBaseUrl,
} from './source.js';
export {
  checkNotaryRecord,
  forgetRotatedRecords,
  type NotaryRecords,
  type NotaryRoleRecord,
  notaryRecord,
  parseNotaryRecords,
  serializeNotaryRecords,
} from './state.js';
export { parseNotaryTime } from './time.js';
