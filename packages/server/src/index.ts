/**
 * @tufa/server: the trust server — serves the TUF metadata of many repositories (GUNs), verifies
 * publishers' uploads with the core's repository and trusted set, and signs snapshot and
 * timestamp with online keys it holds (ADR 0021, docs/server.md).
 */
export {
  type Action,
  AllowAll,
  type AuthDecision,
  type Authorizer,
  parseStaticTokens,
  StaticTokenAuthorizer,
  type StaticTokenEntry,
} from './auth.js';
export { ServerClient, type ServerClientOptions, ServerRepositoryStorage } from './client.js';
export { chooseCoding, type GzipForm, gzipEtag, MIN_GZIP_BYTES } from './content-coding.js';
export { checkGun, MAX_GUN_LENGTH } from './gun.js';
export {
  createHandler,
  DEFAULT_MAX_BODY_BYTES,
  type HandlerOptions,
  IMMUTABLE,
  parseUploadBody,
  REVALIDATE,
  statusOf,
} from './http.js';
export { Metrics } from './metrics.js';
export {
  type HeldKey,
  type OnlineKeyFile,
  type OnlineKeyFiles,
  type OnlineKeyOptions,
  OnlineKeys,
  type OnlinePublicKeys,
  type OnlineRole,
} from './online-keys.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { RegistryTokenAuthorizer, type RegistryTokenOptions } from './registry-token.js';
export {
  type RunningTrustServer,
  startTrustServer,
  type TrustServerOptions,
  tlsServer,
} from './server.js';
export {
  MAX_UPLOAD_ROLES,
  type RoleVersions,
  TrustService,
  type TrustServiceOptions,
  type UploadedRole,
} from './service.js';
export { type ChangeRecord, DirectoryStore, type MetadataFile, type ServerStore } from './store.js';
