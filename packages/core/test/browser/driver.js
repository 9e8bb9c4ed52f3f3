// The browser side of chromium.test.ts, bundled by esbuild for the browser exactly as a web app
// would bundle @tufa/core (the portable entry: FetchFetcher, IndexedDB, WebCrypto). Runs in the
// page and, unchanged, as a module Web Worker; 'sign' builds and signs a repository instead.
import { FetchFetcher, IndexedDbMetadataStore, Updater } from '@tufa/core';
import { signRepository } from '../runtimes/sign-repository.mjs';

function fromBase64(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** One client run: refresh, look-up, download; the store persists in IndexedDB between runs. */
async function runCase(c) {
  const store = await IndexedDbMetadataStore.open(c.db);
  try {
    if ((await store.read('root')) === undefined) await store.write('root', fromBase64(c.root));
    const updater = new Updater({
      metadataBaseUrl: c.metadata,
      targetBaseUrl: c.targets,
      fetcher: new FetchFetcher(),
      store,
      now: () => new Date(c.now),
    });
    await updater.refresh();
    const info = await updater.getTargetInfo(c.target);
    if (info === undefined) return { ok: false, code: 'NO_TARGET' };
    const bytes = await updater.downloadTarget(info.target);
    return {
      ok: true,
      role: info.role,
      content: new TextDecoder().decode(bytes),
      persisted: (await store.read('timestamp')) !== undefined,
      secure: globalThis.isSecureContext,
    };
  } catch (e) {
    return { ok: false, code: e?.code ?? 'NOT_TUF', message: String(e?.message ?? e) };
  } finally {
    store.close();
  }
}

if (typeof window !== 'undefined') {
  window.tufaCase = runCase;
  window.tufaSign = signRepository;
} else {
  self.onmessage = async (event) =>
    self.postMessage(await (event.data === 'sign' ? signRepository() : runCase(event.data)));
}
