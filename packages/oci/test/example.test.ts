/**
 * examples/tuf-in-oci runs as a user would run it, against the built packages: it creates a TUF
 * repository in a local registry, signs a tag and verifies it — or, without docker-registry,
 * says it skipped (never under CI=true, where the registry tools are required).
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_REGISTRY_TOOLS, requireRegistryTools } from './helpers/registry.js';

requireRegistryTools();

const EXAMPLE = resolve(__dirname, '..', '..', '..', 'examples', 'tuf-in-oci', 'example.mjs');

describe('examples/tuf-in-oci', () => {
  it(HAVE_REGISTRY_TOOLS
    ? 'creates, signs and verifies in a local registry'
    : 'skips with a message', async () => {
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((done) => {
      const p = execFile(
        process.execPath,
        [EXAMPLE],
        { cwd: join(EXAMPLE, '..'), timeout: 60_000 },
        (_e, out, err) => done({ code: p.exitCode, stdout: out, stderr: err }),
      );
    });
    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    if (HAVE_REGISTRY_TOOLS) {
      expect(stdout).toMatch(
        /^verified: 127\.0\.0\.1:\d+\/team\/app:1\.0 -> sha256:[0-9a-f]{64}, signed by the targets role$/m,
      );
      expect(stdout).toContain('/team/app:_tufa.timestamp');
    } else {
      expect(stdout).toMatch(/^skipped: /);
    }
  }, 60_000);
});
