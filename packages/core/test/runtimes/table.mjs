// The client table's run, shared by the Deno and Bun driver (driver.mjs) and the workerd one
// (worker.mjs): each case with a fresh memory store; a two-run case asks the server to change
// the repository between runs, with the same store (so the trusted state carries over).
import * as core from '@tufa/core';

const { FetchFetcher, MemoryMetadataStore, Updater } = core;

function fromBase64(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function runOnce(c, store) {
  try {
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
    };
  } catch (e) {
    return { ok: false, code: e?.code ?? 'NOT_TUF', message: String(e?.message ?? e) };
  }
}

/** Runs every input; reports which root entry the runtime resolved (only the Node flavour has PrivateKeySigner). */
export async function runTable(base, inputs) {
  const results = {};
  for (const c of inputs) {
    const store = new MemoryMetadataStore();
    await store.write('root', fromBase64(c.root));
    const first = await runOnce(c, store);
    let second;
    if (c.twoRuns) {
      const r = await fetch(`${base}/change/${c.name}`, { method: 'POST' });
      await r.text();
      second = await runOnce(c, store);
    }
    results[c.name] = { first, second };
  }
  return { entry: 'PrivateKeySigner' in core ? 'node' : 'portable', results };
}
