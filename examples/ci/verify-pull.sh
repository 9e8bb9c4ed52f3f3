#!/usr/bin/env bash
# Verify an image tag with tufa, then pull exactly what was verified.
#
#   usage: verify-pull.sh IMAGE:TAG          e.g. registry.example.com/team/app:1.4.2
#
#   TUFA_SERVER      where the tufa repositories are served (required), e.g. https://tuf.example.com/
#   TUFA_ROOT        the pinned root.json (required the first time; later runs use the cached
#                    trust in $TUFA_HOME, default ~/.tufa)
#   TUFA_AUTH_TOKEN  bearer token for a private server (optional). tufa reads it from the
#                    environment itself: never pass it with --header, where every process on the
#                    machine can read it (ps, /proc/PID/cmdline)
#   DIGEST           the digest to check, when the pipeline already has it (the build job's
#                    output, a manifest under review); default: the digest the registry serves
#                    for the tag now, asked with crane or docker buildx
#   PULL             "no": verify and print IMAGE@DIGEST without pulling, for a deploy system that
#                    pulls by itself (Kubernetes, Nomad, ...); default "yes"
#
# Exit code: tufa's (3 untrusted metadata, 4 the digest is not the signed one, 5 tag not
# signed, ...; see docs/cli.md), 2 for a bad argument or DIGEST, 7 when the registry's answer is
# not a digest, else the failing tool's (crane, docker). Prints
# IMAGE@DIGEST on success, and nothing else on stdout: deploy that, not IMAGE:TAG, so what runs
# is what was verified.

# Fail closed: stop at the first failed command, unset variable or failed stage of a pipeline.
set -euo pipefail

ref=${1:?usage: verify-pull.sh IMAGE:TAG}
: "${TUFA_SERVER:?set TUFA_SERVER to the URL the tufa repositories are served from}"
case ${PULL:-yes} in
yes | no) ;;
*) echo "verify-pull.sh: PULL is yes or no, not '$PULL'" >&2; exit 2 ;;
esac

# IMAGE:TAG splits at the last ':' after the last '/' (a registry port is not a tag). Use the
# full name the publisher signed under (docker.io/library/alpine, not alpine).
image=${ref%:*}
tag=${ref##*:}
case $ref in
*@*) echo "verify-pull.sh: give IMAGE:TAG, not a digest reference" >&2; exit 2 ;;
esac
case $tag in
"$ref" | */*) echo "verify-pull.sh: no tag in $ref" >&2; exit 2 ;;
esac

# 1. The digest to check: given, or the one the registry serves for the tag right now.
from=registry
if [ -n "${DIGEST+set}" ]; then
  digest=$DIGEST
  from=DIGEST
elif command -v crane >/dev/null 2>&1; then
  digest=$(crane digest "$ref")
else
  digest=$(docker buildx imagetools inspect "$ref" --format '{{json .Manifest.Digest}}' | tr -d '"')
fi
# Only a full sha256 digest goes on: `tufa verify --digest ""` would check no digest at all, and
# an empty DIGEST (a pipeline output that was never set) must not pass as one. (The value is
# not echoed: a registry's answer is third-party text, and may hold terminal escapes.)
if [[ ! $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
  if [ "$from" = DIGEST ]; then
    echo "verify-pull.sh: DIGEST is not a digest (expected sha256: and 64 lower-case hex digits)" >&2
    exit 2
  fi
  echo "verify-pull.sh: cannot resolve the digest of $ref (the answer is not sha256:HEX)" >&2
  exit 7
fi

# 2. Is that the digest the publisher signed for the tag? (full TUF client workflow)
args=(verify --server "$TUFA_SERVER" "$image:$tag" --digest "$digest")
if [ -n "${TUFA_ROOT:-}" ]; then args+=(--root "$TUFA_ROOT"); fi
status=0
tufa "${args[@]}" >&2 || status=$?
if [ "$status" -ne 0 ]; then
  echo "verify-pull.sh: NOT using $ref (tufa verify exited $status)" >&2
  exit "$status"
fi

# 3. Pull by digest: a tag can move between the check and the pull, a digest cannot.
if [ "${PULL:-yes}" = yes ]; then
  docker pull "$image@$digest" >&2
fi
echo "$image@$digest"
