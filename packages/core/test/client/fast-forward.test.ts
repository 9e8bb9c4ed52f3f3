/**
 * Spec 5.3.11, the fast-forward recovery, end to end: an attacker holding the online keys pushes
 * versions up and the client trusts them; the repository recovers by changing the timestamp or
 * snapshot role in a new root and publishing lower versions; the next client run must accept
 * them. Every refresh is a new Updater over the same on-disk store, as separate runs are.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Metadata } from '../../src/metadata/metadata.js';
import { FsMetadataStore } from '../../src/node/fs-store.js';
import { newUpdater, PAST } from '../helpers/client.js';
import { fixedSigner } from '../helpers/keys.js';
import { newSigner, Simulator } from '../helpers/simulator.js';
import { useTempDir } from '../helpers/temp-dir.js';

let sim: Simulator;
let dir: string;
let store: FsMetadataStore;

/** A new Updater, as a new client run would create. */
const updater = () => newUpdater(sim, store);

/** Role → version of what the store holds on disk. */
async function stored(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
    const bytes = await store.read(role);
    if (bytes) out[role] = Metadata.fromBytes(bytes).signed.version;
  }
  return out;
}

/** Publishes the next root version after `change`, signed by the current root keys. */
async function nextRoot(change: () => void = () => {}): Promise<void> {
  change();
  sim.root.version++;
  await sim.publishRoot();
}

/** The attacker, holding every online key, pushes timestamp, snapshot and targets far up. */
async function fastForward(): Promise<void> {
  sim.timestamp.version = 100;
  sim.snapshot.version = 100;
  sim.targets.version = 50;
  await sim.publish();
}

/** The repository's recovery after its new root: the original low versions, freshly signed. */
async function publishLowVersions(): Promise<void> {
  sim.timestamp.version = 1;
  sim.snapshot.version = 1;
  sim.targets.version = 1;
  await sim.publish();
}

/** Client run 1 trusts version 1 of everything; run 2 trusts the attacker's versions. */
async function trustFastForwardedVersions(): Promise<void> {
  await updater().refresh();
  await fastForward();
  await updater().refresh();
  expect(await stored()).toEqual({ root: sim.root.version, timestamp: 100, snapshot: 100, targets: 50 });
}

useTempDir('each', (d) => {
  dir = d;
});
beforeEach(() => {
  sim = new Simulator();
});

/** Publishes root 1 (after `setup`) and version 1 of the rest; the client trusts root 1. */
async function start(setup: () => void = () => {}): Promise<void> {
  setup();
  await sim.publishRoot();
  await sim.publish();
  store = await FsMetadataStore.initialize(dir, sim.rootBytes(1));
}

type Recovery = {
  name: string;
  /** Changes to root 1 before the client first trusts it. */
  setup?: () => void;
  /** What the recovering root changes in the timestamp and/or snapshot role. */
  change: () => void;
};

// Whether the attacker's cached files still verify under the new root differs from case to case;
// a cached file that still verifies must not block the recovery, one that does not must not either.
const recoveries: Recovery[] = [
  { name: 'the snapshot key is rotated', change: () => sim.rotateKey('snapshot', newSigner()) },
  { name: 'the timestamp key is rotated', change: () => sim.rotateKey('timestamp', newSigner()) },
  {
    name: 'both keys are rotated',
    change: () => {
      sim.rotateKey('snapshot', newSigner());
      sim.rotateKey('timestamp', newSigner());
    },
  },
  { name: 'a snapshot key is added', change: () => sim.addKey('snapshot', newSigner()) },
  {
    name: 'a timestamp key is removed',
    setup: () => sim.addKey('timestamp', newSigner()),
    change: () => {
      sim.root.roles.timestamp.keyids.pop();
      sim.signers.set('timestamp', (sim.signers.get('timestamp') ?? []).slice(0, 1));
    },
  },
  {
    name: 'only the snapshot threshold changes',
    setup: () => sim.addKey('snapshot', newSigner()),
    change: () => {
      sim.root.roles.snapshot.threshold = 2;
    },
  },
  {
    name: 'only the timestamp threshold changes',
    setup: () => sim.addKey('timestamp', newSigner()),
    change: () => {
      sim.root.roles.timestamp.threshold = 2;
    },
  },
  {
    name: 'the snapshot keyid now names another public key',
    change: () => {
      const keyid = sim.root.roles.snapshot.keyids[0] as string;
      const signer = fixedSigner(251, { keyid });
      sim.root.keys[keyid] = signer.key.toJSON();
      sim.signers.set('snapshot', [signer]);
    },
  },
];

describe('5.3.11 fast-forward recovery through the persisted cache', () => {
  it.each(recoveries)('recovers when $name', async ({ setup, change }) => {
    await start(setup);
    await trustFastForwardedVersions();
    await nextRoot(change);
    await publishLowVersions();

    const u = updater();
    await u.refresh();
    expect(await stored()).toEqual({ root: 2, timestamp: 1, snapshot: 1, targets: 1 });
    expect(u.trustedSet?.snapshot?.signed.version).toBe(1);
  });

  it('keeps both as rollback references when the new root leaves both roles alone', async () => {
    await start(() => sim.addKey('timestamp', newSigner()));
    await trustFastForwardedVersions();
    await nextRoot(() => {
      // Other roles rotate, the expiry moves, and the timestamp keyids are listed in another order.
      sim.rotateKey('targets', newSigner());
      sim.root.expires = '2099-01-01T00:00:00Z';
      sim.root.roles.timestamp.keyids.reverse();
    });
    await publishLowVersions();
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'ROLLBACK' });
    expect(await stored()).toEqual({ root: 2, timestamp: 100, snapshot: 100, targets: 50 });
  });

  it('deletes both before a later step of the same refresh fails (expired final root)', async () => {
    await start();
    await trustFastForwardedVersions();
    await nextRoot(() => {
      sim.rotateKey('snapshot', newSigner());
      sim.root.expires = PAST;
    });
    await publishLowVersions();
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'EXPIRED' });
    // 5.3.8: the expired root is persisted; the files its rotation invalidated are gone with it.
    expect(await stored()).toEqual({ root: 2, targets: 50 });

    // The next run starts from root 2: no rotation is left to notice, and none is needed.
    await nextRoot(() => {
      sim.root.expires = '2100-01-01T00:00:00Z';
    });
    await updater().refresh();
    expect(await stored()).toEqual({ root: 3, timestamp: 1, snapshot: 1, targets: 1 });
  });

  it('deletes both before a later step of the same refresh fails (a bad next root)', async () => {
    await start();
    await trustFastForwardedVersions();
    await nextRoot(() => sim.rotateKey('timestamp', newSigner()));
    sim.root.version++;
    await sim.publishRoot([newSigner()]); // root 3, not signed by the root keys
    sim.root.version--;
    await publishLowVersions();
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'THRESHOLD' });
    expect(await stored()).toEqual({ root: 2, targets: 50 });

    await nextRoot(); // a good root 3 replaces the bad one
    await updater().refresh();
    expect(await stored()).toEqual({ root: 3, timestamp: 1, snapshot: 1, targets: 1 });
  });

  it('deletes both when one refresh passes a rotation that a later root undoes', async () => {
    await start();
    await trustFastForwardedVersions();
    const [original] = sim.signers.get('snapshot') ?? [];
    if (!original) throw new Error('the simulator has no snapshot signer');
    await nextRoot(() => sim.rotateKey('snapshot', newSigner()));
    await nextRoot(() => sim.rotateKey('snapshot', original));
    await publishLowVersions();
    await updater().refresh();
    expect(await stored()).toEqual({ root: 3, timestamp: 1, snapshot: 1, targets: 1 });
  });

  it('deletes nothing when there is no new root', async () => {
    await start();
    await trustFastForwardedVersions();
    await publishLowVersions();
    await expect(updater().refresh()).rejects.toMatchObject({ code: 'ROLLBACK' });
    expect(await stored()).toEqual({ root: 1, timestamp: 100, snapshot: 100, targets: 50 });
  });
});
