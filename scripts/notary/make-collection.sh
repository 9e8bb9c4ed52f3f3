#!/usr/bin/env bash
# Builds a Notary v1 trust collection with the real `notary` CLI against a running
# notary-server (see start-server.sh). TEST ONLY: fixed, public passphrases.
#
# Usage: make-collection.sh SERVER_URL WORKDIR GUN
# Leaves: WORKDIR/trust (the client's trust_dir, incl. private keys), WORKDIR/config.json,
# WORKDIR/expected.txt (`notary list` output after every step), WORKDIR/delegation.{key,crt}.
#
# What it signs (in this order, each step published):
#  1. init; targets: v1 (a file), "a<b&c>" and "ünïcode-✓" (addhash)
#  2. delegation targets/releases (all paths), its key imported; tags "release-1" and "v1"
#     (a different digest than in targets: DCT prefers targets/releases)
#  3. root key rotation (root.json version 2, new ecdsa-x509 root certificate)
#  4. one more tag in targets after the rotation: "after-rotation"
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tls="$here/../../test-vectors/tls"
server="${1:?usage: make-collection.sh SERVER_URL WORKDIR GUN}"
work="${2:?}"
gun="${3:?}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
cat >"$work/config.json" <<JSON
{
  "trust_dir": "$work/trust",
  "remote_server": { "url": "$server", "root_ca": "$tls/ca.pem" }
}
JSON
export NOTARY_ROOT_PASSPHRASE=test-only-root
export NOTARY_TARGETS_PASSPHRASE=test-only-targets
export NOTARY_SNAPSHOT_PASSPHRASE=test-only-snapshot
export NOTARY_DELEGATION_PASSPHRASE=test-only-delegation
n() { notary -c "$work/config.json" "$@"; }

printf 'hello notary\n' >"$work/v1.txt"
n init "$gun"
n add "$gun" v1 "$work/v1.txt"
n addhash "$gun" 'a<b&c>' 1234 --sha256 "$(printf 'a<b&c>' | sha256sum | cut -d' ' -f1)"
n addhash "$gun" 'ünïcode-✓' 42 --sha256 "$(printf 'unicode' | sha256sum | cut -d' ' -f1)"
n publish "$gun"

openssl ecparam -name prime256v1 -genkey -noout -out "$work/delegation.ec" 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$work/delegation.ec" -out "$work/delegation.key"
openssl req -new -x509 -key "$work/delegation.key" -out "$work/delegation.crt" -days 3650 \
  -subj "/CN=releaser" 2>/dev/null
n delegation add "$gun" targets/releases "$work/delegation.crt" --all-paths
n publish "$gun"
n key import "$work/delegation.key" --role targets/releases --gun "$gun"
n addhash "$gun" release-1 2048 --sha256 "$(printf 'release-1' | sha256sum | cut -d' ' -f1)" --roles targets/releases
n addhash "$gun" v1 999 --sha256 "$(printf 'v1 from releases' | sha256sum | cut -d' ' -f1)" --roles targets/releases
n publish "$gun"

echo yes | n key rotate "$gun" root
n addhash "$gun" after-rotation 7 --sha256 "$(printf 'after' | sha256sum | cut -d' ' -f1)"
n publish "$gun"
n list "$gun" >"$work/expected.txt"
n list "$gun" --roles targets >"$work/expected-targets.txt" || true
cat "$work/expected.txt"
