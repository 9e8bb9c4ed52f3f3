#!/bin/sh
# Verify an image tag with tufa, then pull exactly what was verified.
#
#   usage: verify-pull.sh IMAGE:TAG          e.g. registry.example.com/team/app:1.4.2
#
#   TUFA_SERVER  where the tufa repositories are served (required), e.g. https://tuf.example.com/
#   TUFA_ROOT    the pinned root.json (required the first time; later runs use the cached trust
#                in $TUFA_HOME, default ~/.tufa)
#   TUFA_TOKEN   bearer token for a private server (optional)
#
# Exit code: tufa's (3 untrusted metadata, 4 the registry's digest is not the signed one,
# 5 tag not signed, ...; see docs/cli.md), else docker's. Prints IMAGE@DIGEST on success:
# run that, not IMAGE:TAG, so what runs is what was verified.
set -eu

ref=${1:?usage: verify-pull.sh IMAGE:TAG}
: "${TUFA_SERVER:?set TUFA_SERVER to the URL the tufa repositories are served from}"

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

# 1. The digest the registry serves for the tag right now.
if command -v crane >/dev/null 2>&1; then
  digest=$(crane digest "$ref")
else
  digest=$(docker buildx imagetools inspect "$ref" --format '{{json .Manifest.Digest}}' | tr -d '"')
fi
case $digest in
sha256:*) ;;
*) echo "verify-pull.sh: cannot resolve the digest of $ref" >&2; exit 7 ;;
esac

# 2. Is that the digest the publisher signed for the tag? (full TUF client workflow)
set -- verify --server "$TUFA_SERVER" "$image:$tag" --digest "$digest"
if [ -n "${TUFA_ROOT:-}" ]; then set -- "$@" --root "$TUFA_ROOT"; fi
if [ -n "${TUFA_TOKEN:-}" ]; then set -- "$@" --header "Authorization: Bearer $TUFA_TOKEN"; fi
status=0
tufa "$@" >&2 || status=$?
if [ "$status" -ne 0 ]; then
  echo "verify-pull.sh: NOT pulling $ref (tufa verify exited $status)" >&2
  exit "$status"
fi

# 3. Pull by digest: a tag can move between the check and the pull, a digest cannot.
docker pull "$image@$digest" >&2
echo "$image@$digest"
