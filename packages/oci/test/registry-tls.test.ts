/**
 * RegistryClient against docker-registry serving HTTPS only, with a certificate from the test CA
 * (test-vectors/tls): trusted with `ca`, refused without it — and a certificate that is not
 * trusted is not a reason to try the loopback registry over plain HTTP (which a TLS-only registry
 * answers with 400, hiding what went wrong).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/client.js';
import { failure } from './helpers/failure.js';
import {
  HAVE_REGISTRY_TOOLS,
  type Registry,
  requireRegistryTools,
  startRegistry,
  TEST_TLS,
  TEST_TLS_DIR,
} from './helpers/registry.js';

requireRegistryTools();

describe.skipIf(!HAVE_REGISTRY_TOOLS)('RegistryClient against a registry with a private CA', () => {
  let registry: Registry;
  const notices: string[] = [];
  const client = (ca?: string) =>
    new RegistryClient({
      credentials: 'none',
      ...(ca !== undefined ? { ca } : {}),
      onNotice: (m) => notices.push(m),
    });

  beforeAll(async () => {
    registry = await startRegistry({ mode: 'none' }, TEST_TLS);
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
  });

  it('with the CA: HTTPS, and the registry answers (no such repository: NOT_FOUND)', async () => {
    const ca = readFileSync(join(TEST_TLS_DIR, 'ca.pem'), 'utf8');
    const e = await failure(client(ca).listTags(`${registry.host}/team/app`));
    expect(e).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('without it: the certificate error itself, and no attempt over plain HTTP', async () => {
    const e = await failure(client().listTags(`${registry.host}/team/app`));
    expect(e).toMatchObject({ code: 'FETCH' });
    expect(e.message).toMatch(/TLS connection failed .*certificate/);
    expect(e.message).not.toMatch(/HTTP 400|over http/);
    expect(notices).toEqual([]);
  });
});
