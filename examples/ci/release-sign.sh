#!/bin/sh
# Release pipeline step: sign the image digest that was just pushed, and publish.
#
#   usage: release-sign.sh IMAGE:TAG sha256:DIGEST     (DIGEST: e.g. the push step's output)
#
# The online keys come from CI secrets, never from files in the workspace. Each variable holds
# a tufa key file (the JSON `tufa key generate NAME -o FILE` writes, or its base64) or a PKCS#8
# PEM private key:
#   TUFA_TARGETS_KEY     signs the tag
#   TUFA_SNAPSHOT_KEY    every publish also re-signs snapshot and timestamp, so the job that
#   TUFA_TIMESTAMP_KEY   publishes holds these two as well
#   TUFA_PASSPHRASE      the passphrase of encrypted key files (all three; a per-key variable is
#                        TUFA_PASSPHRASE_ENVIRONMENT_VARIABLE_TUFA_TARGETS_KEY and so on)
#   PUBLISH_ROOT         the published tree (default ./tuf): PUBLISH_ROOT/IMAGE/metadata/…
#   TUFA_S3              optional s3://bucket/prefix the tree is served from: downloaded first,
#                        uploaded after (timestamp.json last, so clients never see a timestamp
#                        that names files not yet uploaded)
#
# Run one release at a time (e.g. a CI concurrency group): two jobs publishing from two copies
# of the tree would overwrite each other's work.
set -eu

ref=${1:?usage: release-sign.sh IMAGE:TAG sha256:DIGEST}
digest=${2:?usage: release-sign.sh IMAGE:TAG sha256:DIGEST}
image=${ref%:*}
case $ref in
*@* | "$image") echo "release-sign.sh: give IMAGE:TAG" >&2; exit 2 ;;
esac
case ${ref##*:} in
*/*) echo "release-sign.sh: no tag in $ref" >&2; exit 2 ;;
esac

PUBLISH_ROOT=$(mkdir -p "${PUBLISH_ROOT:-./tuf}" && cd "${PUBLISH_ROOT:-./tuf}" && pwd)
# A private TUFA_HOME for this job: the repository config below, nothing else.
TUFA_HOME=$(mktemp -d)
export TUFA_HOME
trap 'rm -rf "$TUFA_HOME"' EXIT

if [ -n "${TUFA_S3:-}" ]; then
  aws s3 sync --no-progress "$TUFA_S3" "$PUBLISH_ROOT"
fi
if [ ! -f "$PUBLISH_ROOT/$image/metadata/timestamp.json" ]; then
  echo "release-sign.sh: no repository for $image under $PUBLISH_ROOT (run tufa init first)" >&2
  exit 5
fi

# Point tufa at the published tree and the keys in the environment. tufa has no command yet to
# attach an existing repository to a fresh $TUFA_HOME, so write the config `tufa init` writes
# ($TUFA_HOME/repos/GUN/config.json; GUN percent-encoded, '.' as %2E; see docs/cli.md).
gun_dir=$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]).replace(/\./g, "%2E"))' "$image")
mkdir -p "$TUFA_HOME/repos/$gun_dir"
cat >"$TUFA_HOME/repos/$gun_dir/config.json" <<JSON
{
  "gun": "$image",
  "publishRoot": "$PUBLISH_ROOT",
  "keys": {
    "targets": "env:TUFA_TARGETS_KEY",
    "snapshot": "env:TUFA_SNAPSHOT_KEY",
    "timestamp": "env:TUFA_TIMESTAMP_KEY"
  },
  "delegations": {}
}
JSON

# The size of the manifest the digest names (a TUF target is sha256 + length).
if command -v crane >/dev/null 2>&1; then
  size=$(crane manifest "$image@$digest" | wc -c | tr -d ' ')
else
  size=$(docker buildx imagetools inspect "$image@$digest" --format '{{json .Manifest.Size}}')
fi

# Signs targets, snapshot and timestamp and writes them under PUBLISH_ROOT (exit codes: docs/cli.md).
tufa sign "$ref" --digest "$digest" --size "$size"

if [ -n "${TUFA_S3:-}" ]; then
  aws s3 sync --no-progress "$PUBLISH_ROOT" "$TUFA_S3" --exclude '*timestamp.json'
  aws s3 sync --no-progress "$PUBLISH_ROOT" "$TUFA_S3" --exclude '*' --include '*timestamp.json'
fi
