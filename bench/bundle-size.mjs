// The size of the browser client (issue 16): refresh + look-up + download, and signing, bundled by esbuild
// for the browser from the built package (run `npx tsc -b` first), minified and gzipped.
// Usage: node bench/bundle-size.mjs
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const entries = {
  'refresh + look-up + download (FetchFetcher, memory store)': `
    import { FetchFetcher, MemoryMetadataStore, Updater } from '@tufa/core';
    export async function run(base, root, target) {
      const store = new MemoryMetadataStore();
      await store.write('root', root);
      const u = new Updater({ metadataBaseUrl: base + 'metadata/', targetBaseUrl: base + 'targets/',
        fetcher: new FetchFetcher(), store });
      await u.refresh();
      const info = await u.getTargetInfo(target);
      return info && u.downloadTarget(info.target);
    }`,
  'the same with the IndexedDB store': `
    import { FetchFetcher, IndexedDbMetadataStore, Updater } from '@tufa/core';
    export async function run(base, target) {
      const store = await IndexedDbMetadataStore.open(base);
      const u = new Updater({ metadataBaseUrl: base + 'metadata/', targetBaseUrl: base + 'targets/',
        fetcher: new FetchFetcher(), store });
      await u.refresh();
      const info = await u.getTargetInfo(target);
      return info && u.downloadTarget(info.target);
    }`,
  'generate a key and sign a root (MemorySigner, Metadata)': `
    import { Metadata, MemorySigner } from '@tufa/core';
    export async function run(rootBytes) {
      const signer = await MemorySigner.generate('ed25519');
      const md = Metadata.fromBytes(rootBytes, 'root');
      await md.sign(signer);
      return md.toBytes();
    }`,
  'the whole portable entry': `export * from '@tufa/core';`,
};

console.log('| bundle | minified | gzipped |\n|---|---|---|');
for (const [name, contents] of Object.entries(entries)) {
  const out = await build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    minify: true,
    logLevel: 'silent',
  });
  const bytes = out.outputFiles[0].contents;
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`| ${name} | ${kb(bytes.length)} | ${kb(gzipSync(bytes, { level: 9 }).length)} |`);
}
