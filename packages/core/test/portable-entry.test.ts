/**
 * The portable root entry (issue 16, ADR 0022): what browsers, workers and Deno resolve for
 * `@tufa/core` bundles with no Node built-in and no `Buffer`, picks the WebCrypto backend,
 * does nothing at import, and its declarations compile without @types/node. Proved on the
 * built package (dist), through its package.json `exports` and `imports`, as a user's bundler
 * sees it.
 */
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

async function bundle(source: string, conditions: string[], platform: 'browser' | 'neutral' = 'browser') {
  const result = await build({
    stdin: { contents: source, resolveDir: repoRoot, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform,
    conditions,
    mainFields: ['module', 'main'],
    minify: true,
    metafile: true,
    logLevel: 'silent',
  });
  const text = result.outputFiles?.[0]?.text ?? '';
  return { text, inputs: Object.keys((result.metafile as Metafile).inputs) };
}

const USE_CLIENT = `
import * as core from '@tufa/core';
globalThis.tufa = core;
`;

describe('the portable root entry', () => {
  it.each([
    ['browser', ['browser'], 'browser'],
    ['worker', ['worker'], 'neutral'],
    ['workerd', ['workerd', 'worker'], 'neutral'],
    ['deno', ['deno'], 'neutral'],
  ] as const)(
    'bundles for %s with no Node built-in, no Buffer, and the WebCrypto backend',
    async (_n, conditions, platform) => {
      // esbuild fails the build on an unresolvable `node:` import (no polyfills are configured).
      const { text, inputs } = await bundle(USE_CLIENT, [...conditions], platform);
      expect(inputs.some((i) => i.startsWith('node:'))).toBe(false);
      expect(inputs).toContain('packages/core/dist/index.js');
      expect(inputs).toContain('packages/core/dist/crypto/web-backend.js');
      expect(inputs).not.toContain('packages/core/dist/crypto/node-backend.js');
      expect(inputs.filter((i) => /crypto\/(signer|keygen)\.js$/.test(i))).toEqual([]);
      expect(text).not.toMatch(/\bBuffer\b/);
      expect(text).not.toMatch(/\brequire\(/);
    },
  );

  it('a Node bundle resolves the node flavour and node:crypto (the check above can fail)', async () => {
    const result = await build({
      stdin: { contents: USE_CLIENT, resolveDir: repoRoot, loader: 'js' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys((result.metafile as Metafile).inputs);
    expect(inputs).toContain('packages/core/dist/index-node.js');
    expect(inputs).toContain('packages/core/dist/crypto/node-backend.js');
  });

  it('has no side effects at import: importing it unused bundles to nothing', async () => {
    const { text } = await bundle(`import '@tufa/core';`, ['browser']);
    expect(text.trim()).toBe('');
  });

  it('exports what the Node flavour does, less in-process private keys', async () => {
    const portable = Object.keys(await import('../dist/index.js'));
    const node = Object.keys(await import('@tufa/core'));
    expect(node.filter((n) => !portable.includes(n)).sort()).toEqual(['PrivateKeySigner', 'generateKeyPair']);
    expect(portable.filter((n) => !node.includes(n))).toEqual([]);
  });

  it('its declarations compile without @types/node (DOM and ES2023 only, strict, no skipLibCheck)', () => {
    const file = `${repoRoot}packages/core/test/fixtures/portable-consumer.ts`;
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: [],
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      customConditions: ['browser'],
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
    // It really read our declarations, and no Node types came with them.
    const files = program.getSourceFiles().map((f) => f.fileName);
    expect(files.some((f) => f.endsWith('packages/core/dist/index.d.ts'))).toBe(true);
    expect(files.filter((f) => f.includes('@types/node'))).toEqual([]);
  });
});
