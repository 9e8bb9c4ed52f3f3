// The web page's client: @tufa/core's portable entry, bundled for the browser by serve.mjs.
// Trusts the root it was shipped with, refreshes, looks up a target and downloads it with its
// length and hashes checked; trusted metadata persists in IndexedDB between visits.
import { FetchFetcher, IndexedDbMetadataStore, Updater } from '@tufa/core';

const out = document.getElementById('out');
try {
  const base = new URL('/repo/', location.href).href;
  const store = await IndexedDbMetadataStore.open(base);
  if ((await store.read('root')) === undefined) {
    // The trusted root comes with the application (here: served beside it, for the example).
    const root = new Uint8Array(await (await fetch('/trusted-root.json')).arrayBuffer());
    await store.write('root', root);
  }
  const updater = new Updater({
    metadataBaseUrl: `${base}metadata/`,
    targetBaseUrl: `${base}targets/`,
    fetcher: new FetchFetcher(),
    store,
  });
  await updater.refresh();
  const info = await updater.getTargetInfo('hello.txt');
  const bytes = await updater.downloadTarget(info.target);
  out.textContent = `verified hello.txt (signed by ${info.role}): ${new TextDecoder().decode(bytes)}`;
} catch (e) {
  out.textContent = `refused: ${e.code ?? ''} ${e.message}`;
}
