#!/usr/bin/env bash
# Release pipeline step: sign the image digest that was just pushed, and publish.
#
#   usage: release-sign.sh IMAGE:TAG sha256:DIGEST [--size BYTES]
#
#   DIGEST  the manifest (or image index) digest, e.g. the push step's output
#   BYTES   its size in bytes (a TUF target is sha256 + length): --size, else MANIFEST_SIZE from
#           the environment, else asked of the registry with crane or docker buildx
#
# The online keys come from CI secrets, never from files in the workspace. Each variable holds
# a tufa key file (the JSON `tufa key generate NAME -o FILE` writes, or its base64) or a PKCS#8
# PEM private key:
#   TUFA_TARGETS_KEY     signs the tag
#   TUFA_SNAPSHOT_KEY    every publish also re-signs snapshot and timestamp, so the job that
#   TUFA_TIMESTAMP_KEY   publishes holds these two as well
#   TUFA_PASSPHRASE      the passphrase of encrypted key files (all three; a per-key variable is
#                        TUFA_PASSPHRASE_TUFA_TARGETS_KEY and so on)
#   PUBLISH_ROOT         the published tree (default ./tuf): PUBLISH_ROOT/IMAGE/metadata/…
#   MANIFEST_SIZE        the manifest's size in bytes, when --size is not given
#   TUFA_S3              optional s3://bucket/prefix the tree is served from: downloaded first,
#                        uploaded after (timestamp.json last, so clients never see a timestamp
#                        that names files not yet uploaded)
#
# Exit code: tufa's (2 usage, 5 no repository, 6 a key that root does not authorise or a wrong
# passphrase, 8 another publish got there first, ...; see docs/cli.md), else the failing tool's.
#
# Run one release at a time (e.g. a CI concurrency group): two jobs publishing from two copies
# of the tree would overwrite each other's work.

# Fail closed: stop at the first failed command, unset variable or failed stage of a pipeline
# (without pipefail, a failed `crane manifest | wc -c` would sign a size of 0).
set -euo pipefail

usage='usage: release-sign.sh IMAGE:TAG sha256:DIGEST [--size BYTES]'
args=()
size=${MANIFEST_SIZE:-}
while [ "$#" -gt 0 ]; do
  case $1 in
  --size) [ "$#" -ge 2 ] || { echo "$usage" >&2; exit 2; }; size=$2; shift 2 ;;
  --size=*) size=${1#--size=}; shift ;;
  -*) echo "release-sign.sh: unknown option $1" >&2; echo "$usage" >&2; exit 2 ;;
  *) args+=("$1"); shift ;;
  esac
done
[ "${#args[@]}" -eq 2 ] || { echo "$usage" >&2; exit 2; }
ref=${args[0]}
digest=${args[1]}
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
  aws s3 sync --no-progress --exclude '.*' --exclude '*/.*' "$TUFA_S3" "$PUBLISH_ROOT"
fi
if [ ! -f "$PUBLISH_ROOT/$image/metadata/timestamp.json" ]; then
  echo "release-sign.sh: no repository for $image under $PUBLISH_ROOT (run tufa init first)" >&2
  exit 5
fi

# Record the published repository and the keys in the environment in this job's TUFA_HOME.
# attach checks that root authorises each key: a wrong or stale secret stops the job here.
tufa attach "$image" --publish-root "$PUBLISH_ROOT" \
  --targets-key env:TUFA_TARGETS_KEY \
  --snapshot-key env:TUFA_SNAPSHOT_KEY \
  --timestamp-key env:TUFA_TIMESTAMP_KEY >&2

# The size of the manifest the digest names, if the pipeline did not pass it.
if [ -z "$size" ]; then
  if command -v crane >/dev/null 2>&1; then
    size=$(crane manifest "$image@$digest" | wc -c | tr -d ' ')
  elif command -v docker >/dev/null 2>&1; then
    size=$(docker buildx imagetools inspect "$image@$digest" --format '{{json .Manifest.Size}}')
  else
    echo "release-sign.sh: no manifest size: pass --size BYTES or MANIFEST_SIZE (or install crane)" >&2
    exit 2
  fi
fi

# Signs targets, snapshot and timestamp and writes them under PUBLISH_ROOT (exit codes: docs/cli.md).
tufa sign "$ref" --digest "$digest" --size "$size"

if [ -n "${TUFA_S3:-}" ]; then
  # Never upload tufa's dot files (the publish lock, temporary files): see docs/publishing.md.
  aws s3 sync --no-progress --exclude '.*' --exclude '*/.*' --exclude '*timestamp.json' \
    "$PUBLISH_ROOT" "$TUFA_S3"
  aws s3 sync --no-progress --exclude '*' --include '*timestamp.json' --exclude '*/.*' \
    "$PUBLISH_ROOT" "$TUFA_S3"
fi
