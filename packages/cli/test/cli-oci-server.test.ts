/**
 * `--server oci://REGISTRY/REPOSITORY` through the built binary: a TUF repository stored in a
 * real docker-registry (published by @tufa/oci's OciRepositoryStorage, as the oci tests do) is
 * read through OciFetcher by verify, list and inspect.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HAVE_REGISTRY_TOOLS,
  type Registry,
  requireRegistryTools,
  startRegistry,
} from '../../oci/test/helpers/registry.js';
import { initRepository, storageFor, trustedRoot } from '../../oci/test/helpers/tuf-repo.js';
import { expectError, expectExit, expectJson, Sandbox } from './helpers/cli.js';

requireRegistryTools();

describe.skipIf(!HAVE_REGISTRY_TOOLS)('--server oci://… against docker-registry', () => {
  const sandbox = new Sandbox('tufa-oci-server-');
  let registry: Registry;
  let server: string;
  let gun: string;
  const root = sandbox.path('1.root.json');
  const env = { DOCKER_CONFIG: sandbox.path('no-docker'), REGISTRY_AUTH_FILE: sandbox.path('no-auth.json') };

  beforeAll(async () => {
    registry = await startRegistry();
    gun = `${registry.host}/team/app`;
    server = `oci://${gun}`;
    const storage = storageFor(registry.host, 'team/app', undefined);
    await initRepository(storage);
    writeFileSync(root, await trustedRoot(storage));
  });
  afterAll(async () => {
    await registry?.stop();
    sandbox.cleanup();
  });

  it('verify, list and inspect read the repository from the registry', async () => {
    const c = sandbox.client();
    const v = expectJson<{ digest: string; size: number; role: string }>(
      await c.tufa(['--json', 'verify', gun, 'app:1.0', '--server', server, '--root', root], { env }),
    );
    expect(v).toMatchObject({ digest: `sha256:${'0'.repeat(63)}1`, size: 501, role: 'targets' });
    const l = expectJson<{ tags: { tag: string }[] }>(
      await c.tufa(['--json', 'list', gun, '--server', server], { env }),
    );
    expect(l.tags.map((t) => t.tag)).toEqual(['app:1.0']);
    const i = expectJson<{ signedTags: { tag: string }[]; roles: { role: string }[] }>(
      await c.tufa(['--json', 'inspect', gun, '--server', server], { env }),
    );
    expect(i.signedTags.map((t) => t.tag)).toEqual(['app:1.0']);
    expect(i.roles.map((r) => r.role)).toEqual(['targets']);
  });

  it('a registry repository without TUF metadata: exit 5 naming where it looked', async () => {
    const r = await sandbox
      .client()
      .tufa(['verify', gun, 'app:1.0', '--server', `oci://${registry.host}/team/empty`, '--root', root], {
        env,
      });
    expectError(r, 5, `oci://${registry.host}/team/empty`);
  });

  it('a malformed oci:// location: exit 2', async () => {
    expectError(
      await sandbox
        .client()
        .tufa(['verify', gun, 'x', '--server', 'oci://justahost', '--root', root], { env }),
      2,
      'expected oci://REGISTRY/REPOSITORY',
    );
  });

  it('--header does not apply to a registry (exit 2)', async () => {
    expectExit(
      await sandbox
        .client()
        .tufa(['verify', gun, 'x', '--server', server, '--root', root, '--header', 'A: b'], { env }),
      2,
    );
  });
});
