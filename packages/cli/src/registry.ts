/**
 * The registry side of the CLI (issue 13): the flags every registry-aware command shares, and the
 * `@tufa/oci` client they configure. Credentials come only from the library's sources
 * (TUFA_REGISTRY_USERNAME/PASSWORD, the Docker config and its credential helpers, auth.json):
 * never from the command line, where every user of the machine could read them.
 */
import { readFile } from 'node:fs/promises';
import { CredentialsRefusedError, isLoopbackUrl, normalizeRealmHost, UsageError } from '@tufa/core';
import type { ImageReference, RegistryClientOptions, ScopeAction } from '@tufa/oci';
import { CliError, usage } from './cli-error.js';
import { type OptionsOf, option } from './command.js';
import { EXIT } from './exit-codes.js';
import { checkGun } from './names.js';
import { collect } from './options.js';
import { readSettings, settingsPath } from './settings.js';

export const insecureRegistryOption = option(
  '--insecure-registry <host>',
  'a registry (HOST[:PORT]) that may be reached over plain HTTP when HTTPS fails (repeatable; loopback always may)',
  { parse: collect },
);

/** `--insecure-registry` and `--token-realm-host`, spelt as `tufa notary` spells the latter. */
export const registryOptions = [
  insecureRegistryOption,
  option(
    '--token-realm-host <host>',
    'also send registry credentials to a token realm on this host (repeatable; see tokenRealmHosts in $TUFA_HOME/config.json)',
    { parse: collect },
  ),
] as const;

export type RegistryFlags = Partial<OptionsOf<typeof registryOptions>> & { ca?: string | undefined };

/**
 * The flags of a command that reaches where a GUN is published (a registry or a trust server):
 * the read side's, with the read side's meaning. `init` and `attach` remember the `--ca` file's
 * path in the repository's configuration (docs/cli.md, "Registry options").
 */
export const connectionOptions = [
  option(
    '--ca <file>',
    'extra CA certificates (PEM) for the registry or trust server the repository is published on',
  ),
  ...registryOptions,
] as const;

/** The connection flags of a command's options, and nothing else of them. */
export function connectionFlags(opts: RegistryFlags): RegistryFlags {
  return { ca: opts.ca, insecureRegistry: opts.insecureRegistry, tokenRealmHost: opts.tokenRealmHost };
}

/** Whether any of the connection flags was given. */
export function connectionGiven(flags: RegistryFlags): boolean {
  return (
    flags.ca !== undefined ||
    (flags.insecureRegistry?.length ?? 0) > 0 ||
    (flags.tokenRealmHost?.length ?? 0) > 0
  );
}

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$/;

/** `--token-realm-host` values: host names or IP addresses, nothing else (a usage error names it). */
export function checkTokenRealmHosts(hosts: readonly string[] | undefined): readonly string[] {
  for (const h of hosts ?? []) {
    if (normalizeRealmHost(h) === undefined) {
      throw usage(
        `--token-realm-host takes a host name or IP address without scheme, port or path (found ${JSON.stringify(h)})`,
        '--token-realm-host auth.example.com',
      );
    }
  }
  return hosts ?? [];
}

/** The PEM text of a `--ca` file (or of the `ca` a repository's configuration remembers). */
export async function readCaFile(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => {
    throw new CliError(`cannot read the CA file ${path}`, EXIT.NOT_FOUND);
  });
}

/** The options of an `@tufa/oci` client for these flags (CA file read, hosts checked). */
export async function registryClientOptions(
  flags: RegistryFlags,
  actions: readonly ScopeAction[] = ['pull'],
): Promise<RegistryClientOptions> {
  for (const h of flags.insecureRegistry ?? []) {
    if (!HOST_PORT.test(h)) {
      throw usage(
        `--insecure-registry takes HOST or HOST:PORT without a scheme (found ${JSON.stringify(h)})`,
        '--insecure-registry registry.internal:5000',
      );
    }
  }
  checkTokenRealmHosts(flags.tokenRealmHost);
  const ca = flags.ca ? await readCaFile(flags.ca) : undefined;
  const settings = await readSettings();
  return {
    actions,
    insecureRegistries: flags.insecureRegistry ?? [],
    tokenRealmHosts: [...settings.tokenRealmHosts, ...(flags.tokenRealmHost ?? [])],
    ...(ca !== undefined ? { ca } : {}),
    // What the library did that the user should know (plain HTTP, credentials withheld).
    onNotice: (message) => process.stderr.write(`Notice: ${message}\n`),
  };
}

/**
 * The registry reference of GUN:TAG. The GUN is a repository name here too: Docker Hub GUNs
 * (`docker.io/…`) are served by registry-1.docker.io. Names tufa accepts as GUNs but a registry
 * cannot hold (upper case, a tag of 129+ characters) are refused naming the rule.
 */
export async function imageReference(gun: string, tag: string | undefined): Promise<ImageReference> {
  const { parseImageReference } = await import('@tufa/oci');
  const text = `${checkGun(gun)}${tag !== undefined ? `:${tag}` : ''}`;
  try {
    return parseImageReference(text);
  } catch (e) {
    if (e instanceof UsageError)
      throw Object.assign(e, { hint: 'image references: see "Image references" in docs/cli.md' });
    throw e;
  }
}

/** A hint for a registry's refusal to send credentials, as `tufa notary` words it. */
export function withRegistryHint(e: unknown): unknown {
  if (!(e instanceof CredentialsRefusedError)) return e;
  const realm = e.realmHost;
  const server = e.serverHost;
  if (e.refusal === 'realm-host' && realm !== undefined) {
    return Object.assign(e, {
      hint: `only if ${realm} is the token service of ${server}: add --token-realm-host ${realm} (or "tokenRealmHosts": ["${realm}"] in ${settingsPath()})`,
    });
  }
  if (e.refusal === 'insecure-challenge' && server !== undefined) {
    return Object.assign(e, {
      hint: isLoopbackUrl(new URL(`http://${server}/`))
        ? `no_proxy=${server} (plain http to loopback counts only without a proxy)`
        : `use https for ${server}`,
    });
  }
  return e;
}
