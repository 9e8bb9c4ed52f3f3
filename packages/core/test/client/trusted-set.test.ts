/**
 * The trusted metadata set driven directly from bytes: every refusal and ordering rule of the
 * client workflow (spec section 5), without an updater, a fetcher or a store in between — as
 * python-tuf's test_trusted_metadata_set.py does for its TrustedMetadataSet.
 */
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { TrustedMetadataSet } from '../../src/client/trusted-set.js';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { type Json, newSigner, Simulator } from '../helpers/simulator.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const FUTURE = '2031-01-01T00:00:00Z';
const PAST = '2029-12-31T23:59:59Z';

let sim: Simulator;

/** Signs a copy of `signed` with `edit` applied, by the role's signers unless others are named. */
async function bytes(signed: Json, edit: (s: Json) => void = () => {}, by?: PrivateKeySigner[]) {
  const copy = structuredClone(signed);
  edit(copy);
  return sim.sign(copy, by ?? sim.signers.get(copy._type as string) ?? []);
}

function describeFile(data: Uint8Array, version: number): Json {
  return {
    version,
    length: data.length,
    hashes: { sha256: createHash('sha256').update(data).digest('hex') },
  };
}

/** root v1, and a consistent chain: targets v1 ← snapshot v1 ← timestamp v1, with hashes. */
async function chain(opts: { snapshotVersion?: number; targetsVersion?: number } = {}) {
  const targetsVersion = opts.targetsVersion ?? 1;
  const snapshotVersion = opts.snapshotVersion ?? 1;
  const targets = await bytes(sim.targets, (s) => {
    s.version = targetsVersion;
  });
  const snapshot = await bytes(sim.snapshot, (s) => {
    s.version = snapshotVersion;
    s.meta = { 'targets.json': describeFile(targets, targetsVersion) };
  });
  const timestamp = await bytes(sim.timestamp, (s) => {
    s.version = snapshotVersion;
    s.meta = { 'snapshot.json': describeFile(snapshot, snapshotVersion) };
  });
  return { targets, snapshot, timestamp };
}

async function trusted(at = NOW): Promise<TrustedMetadataSet> {
  return TrustedMetadataSet.create(sim.rootBytes(1), at);
}

async function loaded(): Promise<TrustedMetadataSet> {
  const set = await trusted();
  const c = await chain();
  await set.updateTimestamp(c.timestamp);
  await set.updateSnapshot(c.snapshot);
  await set.updateTargets(c.targets);
  return set;
}

beforeEach(async () => {
  sim = new Simulator();
  for (const role of ['root', 'timestamp', 'snapshot', 'targets']) sim.root.roles[role].threshold = 1;
  sim.root.expires = FUTURE;
  sim.timestamp.expires = FUTURE;
  sim.snapshot.expires = FUTURE;
  sim.targets.expires = FUTURE;
  await sim.publishRoot();
});

describe('the trusted root (5.2)', () => {
  it('loads a root signed by a threshold of its own keys', async () => {
    const set = await trusted();
    expect(set.root.signed.version).toBe(1);
    expect(set.timestamp).toBeUndefined();
    expect(set.snapshot).toBeUndefined();
    expect(set.targets).toBeUndefined();
  });

  it.each([
    ['not JSON', () => new TextEncoder().encode('{"signed":'), 'FORMAT'],
    ['not metadata', () => new TextEncoder().encode('[]'), 'FORMAT'],
    ['another role type', async () => bytes(sim.timestamp, () => {}, sim.signers.get('root')), 'FORMAT'],
    ['unsigned', async () => bytes(sim.root, () => {}, []), 'THRESHOLD'],
    ['signed by a key root does not list', async () => bytes(sim.root, () => {}, [newSigner()]), 'THRESHOLD'],
    [
      'a threshold it cannot meet',
      async () =>
        bytes(sim.root, (s) => {
          s.roles.root.threshold = 2;
        }),
      'THRESHOLD',
    ],
  ])('refuses an initial root that is %s', async (_name, make, code) => {
    const b = await make();
    await expect(TrustedMetadataSet.create(b, NOW)).rejects.toMatchObject({ code });
  });

  it('refuses an invalid reference time', async () => {
    await expect(TrustedMetadataSet.create(sim.rootBytes(1), new Date('garbage'))).rejects.toMatchObject({
      code: 'USAGE',
    });
  });

  it('accepts an expired initial root (expiry is checked after the root update, 5.3.10)', async () => {
    const b = await bytes(sim.root, (s) => {
      s.expires = PAST;
    });
    const set = await TrustedMetadataSet.create(b, NOW);
    expect(() => set.checkRootNotExpired()).toThrow(expect.objectContaining({ code: 'EXPIRED' }));
  });
});

describe('root updates (5.3)', () => {
  async function root2(edit: (s: Json) => void = () => {}, by?: PrivateKeySigner[]) {
    return bytes(
      sim.root,
      (s) => {
        s.version = 2;
        edit(s);
      },
      by,
    );
  }

  it('accepts version N+1 signed by the old and the new root keys', async () => {
    const set = await trusted();
    const next = await set.updateRoot(await root2());
    expect(next.signed.version).toBe(2);
    expect(set.root).toBe(next);
  });

  it('accepts a key rotation signed by both the old and the new key', async () => {
    const set = await trusted();
    const old = sim.signers.get('root') ?? [];
    const fresh = newSigner();
    const b = await root2(
      (s) => {
        s.keys[fresh.keyid] = fresh.key.toJSON();
        s.roles.root.keyids = [fresh.keyid];
      },
      [...old, fresh],
    );
    await set.updateRoot(b);
    expect(set.root.signed.roles.get('root')?.keyids).toEqual([fresh.keyid]);
  });

  it('refuses a rotation signed only by the new key (5.3.4, old threshold)', async () => {
    const set = await trusted();
    const fresh = newSigner();
    const b = await root2(
      (s) => {
        s.keys[fresh.keyid] = fresh.key.toJSON();
        s.roles.root.keyids = [fresh.keyid];
      },
      [fresh],
    );
    await expect(set.updateRoot(b)).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(set.root.signed.version).toBe(1);
  });

  it('refuses a rotation signed only by the old key (5.3.4, new threshold)', async () => {
    const set = await trusted();
    const fresh = newSigner();
    const b = await root2((s) => {
      s.keys[fresh.keyid] = fresh.key.toJSON();
      s.roles.root.keyids = [fresh.keyid];
    }, sim.signers.get('root'));
    await expect(set.updateRoot(b)).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(set.root.signed.version).toBe(1);
  });

  it.each([
    [1, 'ROLLBACK'],
    [3, 'VERSION_MISMATCH'],
  ])('refuses root version %i after version 1 (5.3.5)', async (version, code) => {
    const set = await trusted();
    const b = await bytes(sim.root, (s) => {
      s.version = version;
    });
    await expect(set.updateRoot(b)).rejects.toMatchObject({ code });
    expect(set.root.signed.version).toBe(1);
  });

  it('refuses another role type signed by the root key', async () => {
    const set = await trusted();
    const b = await bytes(
      sim.targets,
      (s) => {
        s.version = 2;
      },
      sim.signers.get('root'),
    );
    await expect(set.updateRoot(b)).rejects.toMatchObject({ code: 'FORMAT' });
  });

  it('accepts an expired intermediate root, then fails the final expiry check (5.3.10)', async () => {
    const set = await trusted();
    await set.updateRoot(
      await root2((s) => {
        s.expires = PAST;
      }),
    );
    expect(set.root.signed.version).toBe(2);
    expect(() => set.checkRootNotExpired()).toThrow(expect.objectContaining({ code: 'EXPIRED' }));
    await expect(set.updateTimestamp((await chain()).timestamp)).rejects.toMatchObject({ code: 'EXPIRED' });
  });

  it('treats the exact expiry instant as expired', async () => {
    const set = await trusted(new Date(FUTURE));
    expect(() => set.checkRootNotExpired()).toThrow(expect.objectContaining({ code: 'EXPIRED' }));
  });
});

describe('ordering rules', () => {
  it('refuses a root update after the timestamp', async () => {
    const set = await trusted();
    await set.updateTimestamp((await chain()).timestamp);
    const b = await bytes(sim.root, (s) => {
      s.version = 2;
    });
    await expect(set.updateRoot(b)).rejects.toMatchObject({ code: 'STATE' });
  });

  it('refuses a timestamp update after the snapshot', async () => {
    const set = await trusted();
    const c = await chain();
    await set.updateTimestamp(c.timestamp);
    await set.updateSnapshot(c.snapshot);
    await expect(set.updateTimestamp(c.timestamp)).rejects.toMatchObject({ code: 'STATE' });
  });

  it('refuses a snapshot update after the targets', async () => {
    const set = await loaded();
    await expect(set.updateSnapshot((await chain()).snapshot)).rejects.toMatchObject({ code: 'STATE' });
  });

  it('refuses a snapshot before any timestamp', async () => {
    const set = await trusted();
    await expect(set.updateSnapshot((await chain()).snapshot)).rejects.toMatchObject({ code: 'STATE' });
  });

  it('refuses targets before any snapshot', async () => {
    const set = await trusted();
    const c = await chain();
    await set.updateTimestamp(c.timestamp);
    await expect(set.updateTargets(c.targets)).rejects.toMatchObject({ code: 'STATE' });
  });

  it('refuses a delegated role before the top-level targets', async () => {
    const set = await trusted();
    const c = await chain();
    await set.updateTimestamp(c.timestamp);
    await set.updateSnapshot(c.snapshot);
    const delegator = Metadata.fromBytes(c.targets, 'targets');
    await expect(set.updateDelegatedTargets(c.targets, 'role', delegator)).rejects.toMatchObject({
      code: 'STATE',
    });
  });
});

describe('timestamp (5.4)', () => {
  it('refuses a timestamp signed by a key other than the timestamp role’s (5.4.2)', async () => {
    const set = await trusted();
    const b = await bytes(sim.timestamp, () => {}, sim.signers.get('snapshot'));
    await expect(set.updateTimestamp(b)).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(set.timestamp).toBeUndefined();
  });

  it('refuses a timestamp version below the trusted one and keeps the trusted one (5.4.3.1)', async () => {
    const set = await trusted();
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.version = 5;
      }),
    );
    const trustedTs = set.timestamp;
    await expect(
      set.updateTimestamp(
        await bytes(sim.timestamp, (s) => {
          s.version = 4;
        }),
      ),
    ).rejects.toMatchObject({ code: 'ROLLBACK' });
    expect(set.timestamp).toBe(trustedTs);
  });

  it('keeps the trusted timestamp when the same version comes again, with other bytes', async () => {
    const set = await trusted();
    const first = await bytes(sim.timestamp, (s) => {
      s.version = 2;
    });
    await set.updateTimestamp(first);
    const trustedTs = set.timestamp;
    const other = await bytes(sim.timestamp, (s) => {
      s.version = 2;
      s.meta['snapshot.json'] = { version: 7 };
    });
    expect(await set.updateTimestamp(other)).toBe(false);
    expect(set.timestamp).toBe(trustedTs);
    expect(set.timestamp?.signed.snapshotMeta.version).toBe(1);
  });

  it('refuses a newer timestamp naming an older snapshot (5.4.3.2)', async () => {
    const set = await trusted();
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.version = 2;
        s.meta['snapshot.json'] = { version: 3 };
      }),
    );
    await expect(
      set.updateTimestamp(
        await bytes(sim.timestamp, (s) => {
          s.version = 3;
          s.meta['snapshot.json'] = { version: 2 };
        }),
      ),
    ).rejects.toMatchObject({ code: 'ROLLBACK' });
    expect(set.timestamp?.signed.version).toBe(2);
  });

  it('keeps an expired timestamp as the rollback reference, then refuses it (5.4.4)', async () => {
    const set = await trusted();
    const expired = await bytes(sim.timestamp, (s) => {
      s.version = 4;
      s.expires = PAST;
    });
    await expect(set.updateTimestamp(expired)).rejects.toMatchObject({ code: 'EXPIRED' });
    // kept in memory: a later, older timestamp is still a rollback …
    expect(set.timestamp?.signed.version).toBe(4);
    await expect(
      set.updateTimestamp(
        await bytes(sim.timestamp, (s) => {
          s.version = 3;
        }),
      ),
    ).rejects.toMatchObject({ code: 'ROLLBACK' });
    // … and the snapshot step refuses to build on it.
    await expect(set.updateSnapshot((await chain()).snapshot)).rejects.toMatchObject({ code: 'EXPIRED' });
    // a newer valid one replaces it.
    expect(
      await set.updateTimestamp(
        await bytes(sim.timestamp, (s) => {
          s.version = 5;
        }),
      ),
    ).toBe(true);
  });

  it('refuses a timestamp while the trusted root is expired', async () => {
    const set = await TrustedMetadataSet.create(
      await bytes(sim.root, (s) => {
        s.expires = PAST;
      }),
      NOW,
    );
    await expect(set.updateTimestamp((await chain()).timestamp)).rejects.toMatchObject({ code: 'EXPIRED' });
    expect(set.timestamp).toBeUndefined();
  });
});

describe('snapshot (5.5)', () => {
  it.each([
    ['length', (m: Json) => ({ ...m, length: m.length + 1 })],
    ['hash', (m: Json) => ({ ...m, hashes: { sha256: '0'.repeat(64) } })],
  ])('refuses a snapshot whose %s differs from the timestamp’s (5.5.2)', async (_what, change) => {
    const set = await trusted();
    const c = await chain();
    const ts = await bytes(sim.timestamp, (s) => {
      s.meta['snapshot.json'] = change(describeFile(c.snapshot, 1));
    });
    await set.updateTimestamp(ts);
    await expect(set.updateSnapshot(c.snapshot)).rejects.toMatchObject({ code: 'LENGTH_OR_HASH' });
    expect(set.snapshot).toBeUndefined();
  });

  it('skips the hashes for bytes from the local cache (verified when stored)', async () => {
    const set = await trusted();
    const c = await chain();
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.meta['snapshot.json'] = { version: 1, length: 1, hashes: { sha256: '0'.repeat(64) } };
      }),
    );
    await expect(set.updateSnapshot(c.snapshot, true)).resolves.toBeDefined();
  });

  it('refuses a snapshot that is not signed by the snapshot role (5.5.3)', async () => {
    const set = await trusted();
    const sn = await bytes(sim.snapshot, () => {}, sim.signers.get('targets'));
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.meta['snapshot.json'] = describeFile(sn, 1);
      }),
    );
    await expect(set.updateSnapshot(sn)).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(set.snapshot).toBeUndefined();
  });

  it('refuses a snapshot of another version than the timestamp names (5.5.4)', async () => {
    const set = await trusted();
    const sn = await bytes(sim.snapshot, (s) => {
      s.version = 2;
    });
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.meta['snapshot.json'] = describeFile(sn, 1);
      }),
    );
    await expect(set.updateSnapshot(sn)).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
  });

  it('keeps a wrong-version snapshot from the cache as the rollback reference for the new one', async () => {
    const set = await trusted();
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.version = 2;
        s.meta['snapshot.json'] = { version: 2 };
      }),
    );
    const cached = await bytes(sim.snapshot, (s) => {
      s.meta['targets.json'] = { version: 5 };
    });
    await expect(set.updateSnapshot(cached, true)).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
    const rolledBack = await bytes(sim.snapshot, (s) => {
      s.version = 2;
      s.meta['targets.json'] = { version: 4 };
    });
    await expect(set.updateSnapshot(rolledBack)).rejects.toMatchObject({ code: 'ROLLBACK' });
    const good = await bytes(sim.snapshot, (s) => {
      s.version = 2;
      s.meta['targets.json'] = { version: 5 };
    });
    await expect(set.updateSnapshot(good)).resolves.toBeDefined();
  });

  it('refuses a snapshot that drops a role the trusted one listed (5.5.5)', async () => {
    const set = await trusted();
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.version = 2;
        s.meta['snapshot.json'] = { version: 2 };
      }),
    );
    await expect(
      set.updateSnapshot(
        await bytes(sim.snapshot, (s) => {
          s.meta['role.json'] = { version: 1 };
        }),
        true,
      ),
    ).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
    await expect(
      set.updateSnapshot(
        await bytes(sim.snapshot, (s) => {
          s.version = 2;
        }),
      ),
    ).rejects.toMatchObject({ code: 'ROLLBACK', message: expect.stringContaining('role.json') });
  });

  it('refuses an expired snapshot but keeps it as the rollback reference (5.5.6)', async () => {
    const set = await trusted();
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.meta['snapshot.json'] = { version: 1 };
      }),
    );
    await expect(
      set.updateSnapshot(
        await bytes(sim.snapshot, (s) => {
          s.expires = PAST;
        }),
      ),
    ).rejects.toMatchObject({ code: 'EXPIRED' });
    expect(set.snapshot?.signed.version).toBe(1);
    await expect(set.updateTargets((await chain()).targets)).rejects.toMatchObject({ code: 'EXPIRED' });
  });

  it('accepts newer versions of every listed role', async () => {
    const set = await trusted();
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.version = 2;
        s.meta['snapshot.json'] = { version: 2 };
      }),
    );
    await set
      .updateSnapshot(
        await bytes(sim.snapshot, (s) => {
          s.meta['role.json'] = { version: 3 };
        }),
        true,
      )
      .catch(() => {});
    const next = await set.updateSnapshot(
      await bytes(sim.snapshot, (s) => {
        s.version = 2;
        s.meta['targets.json'] = { version: 2 };
        s.meta['role.json'] = { version: 3 };
      }),
    );
    expect(next.signed.version).toBe(2);
  });
});

describe('targets (5.6)', () => {
  async function upToSnapshot(meta: Json) {
    const set = await trusted();
    const sn = await bytes(sim.snapshot, (s) => {
      s.meta = meta;
    });
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.meta['snapshot.json'] = describeFile(sn, 1);
      }),
    );
    await set.updateSnapshot(sn);
    return set;
  }

  it('refuses targets the snapshot does not list', async () => {
    const set = await upToSnapshot({});
    await expect(set.updateTargets((await chain()).targets)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(set.targets).toBeUndefined();
  });

  it('refuses targets whose hash differs from the snapshot’s (5.6.2)', async () => {
    const t = await bytes(sim.targets);
    const set = await upToSnapshot({
      'targets.json': { ...describeFile(t, 1), hashes: { sha256: '1'.repeat(64) } },
    });
    await expect(set.updateTargets(t)).rejects.toMatchObject({ code: 'LENGTH_OR_HASH' });
    // the same bytes from the cache skip the hash and verify
    await expect(set.updateTargets(t, true)).resolves.toBeDefined();
  });

  it('refuses targets not signed by the targets role (5.6.3)', async () => {
    const t = await bytes(sim.targets, () => {}, sim.signers.get('snapshot'));
    const set = await upToSnapshot({ 'targets.json': describeFile(t, 1) });
    await expect(set.updateTargets(t)).rejects.toMatchObject({ code: 'THRESHOLD' });
  });

  it('refuses targets of another version than the snapshot names', async () => {
    const t = await bytes(sim.targets, (s) => {
      s.version = 2;
    });
    const set = await upToSnapshot({ 'targets.json': { version: 1 } });
    await expect(set.updateTargets(t)).rejects.toMatchObject({ code: 'VERSION_MISMATCH' });
  });

  it('refuses expired targets (5.6.4)', async () => {
    const t = await bytes(sim.targets, (s) => {
      s.expires = PAST;
    });
    const set = await upToSnapshot({ 'targets.json': describeFile(t, 1) });
    await expect(set.updateTargets(t)).rejects.toMatchObject({ code: 'EXPIRED' });
    expect(set.targets).toBeUndefined();
  });
});

describe('delegated targets', () => {
  async function withDelegation() {
    const signer = sim.delegate('targets', 'team', { paths: ['app/*'] });
    const team = await bytes(sim.delegated.get('team') as Json, () => {}, [signer]);
    const targets = await bytes(sim.targets);
    const sn = await bytes(sim.snapshot, (s) => {
      s.meta = { 'targets.json': describeFile(targets, 1), 'team.json': describeFile(team, 1) };
    });
    const set = await trusted();
    await set.updateTimestamp(
      await bytes(sim.timestamp, (s) => {
        s.meta['snapshot.json'] = describeFile(sn, 1);
      }),
    );
    await set.updateSnapshot(sn);
    const top = await set.updateTargets(targets);
    return { set, top, team, signer };
  }

  it('verifies a delegated role against its delegator and remembers it per delegator', async () => {
    const { set, top, team } = await withDelegation();
    const md = await set.updateDelegatedTargets(team, 'team', top);
    expect(set.getDelegated('team', top)).toBe(md);
  });

  it('refuses a delegated role signed by a key the delegator did not name', async () => {
    const { set, top } = await withDelegation();
    const forged = await bytes(sim.delegated.get('team') as Json, () => {}, sim.signers.get('targets'));
    await expect(set.updateDelegatedTargets(forged, 'team', top)).rejects.toMatchObject({
      code: expect.stringMatching(/THRESHOLD|LENGTH_OR_HASH/),
    });
    expect(set.getDelegated('team', top)).toBeUndefined();
  });

  it('refuses a delegator that the set did not verify itself', async () => {
    const { set, team } = await withDelegation();
    const lookalike = Metadata.fromBytes(await bytes(sim.targets), 'targets');
    await expect(set.updateDelegatedTargets(team, 'team', lookalike)).rejects.toMatchObject({
      code: 'STATE',
    });
  });

  it('refuses a delegated role the snapshot does not list', async () => {
    const { set, top, signer } = await withDelegation();
    const other = await bytes(sim.delegated.get('team') as Json, () => {}, [signer]);
    await expect(set.updateDelegatedTargets(other, 'other', top)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
