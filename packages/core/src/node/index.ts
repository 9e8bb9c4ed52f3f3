/**
 * `@tufa/core/node`: the Node.js adapters around the pure core (DESIGN principle 1) — a
 * metadata store on disk, HTTP(S) and file fetchers, atomic writes, and targets on disk.
 */

export {
  type FromPemOptions,
  type GeneratedKeyPair,
  type GenerateKeyPairOptions,
  generateKeyPair,
  PrivateKeySigner,
  type PrivateKeySignerOptions,
} from '../crypto/index.js';
export * from '../signers/index.js';
export { ensureDir, type WriteFileAtomicOptions, writeFileAtomic } from './atomic.js';
export {
  type AuthChallenge,
  type BearerChallenge,
  type BearerToken,
  type BearerTokenRequest,
  checkRealmHosts,
  parseAuthChallenge,
  parseBearerChallenge,
  requestBearerToken,
  type TokenCredentials,
} from './bearer-token.js';
export { FileFetcher, type FileFetcherOptions, fileBaseUrl, fileUrlToLocalPath } from './file-fetcher.js';
export { FsMetadataStore, type InitializeOptions } from './fs-store.js';
export {
  DEFAULT_USER_AGENT,
  HttpFetcher,
  type HttpFetcherOptions,
  type HttpProbe,
  type HttpRequest,
  type HttpResponse,
  proxyForUrl,
  TUFA_VERSION,
} from './http-fetcher.js';
export { interruptPublishing } from './interrupt.js';
export {
  type PinnedRefreshOptions,
  type PinnedRefreshResult,
  PinnedTrust,
  parseTrustChain,
  type RootSource,
  type TrustChain,
  trustChainToBytes,
} from './pinned-trust.js';
export {
  describeHolder,
  type LockHolder,
  type LockHolderState,
  type LockInstance,
  type PublishLockInfo,
} from './publish-lock.js';
export { FsRepositoryStorage, type FsRepositoryStorageOptions, LOCK_FILE } from './repository-storage.js';
export {
  type DownloadTargetOptions,
  type DownloadTargetToFileOptions,
  type DownloadTargetToFileResult,
  downloadTarget,
  downloadTargetToFile,
  type LocalTargetPathOptions,
  localTargetPath,
  type TargetStreamer,
} from './target-files.js';
