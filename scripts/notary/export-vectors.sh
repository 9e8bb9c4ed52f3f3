#!/usr/bin/env bash
# Regenerates test-vectors/notary/ with the real notary 0.7 tools (Debian package `notary`):
# starts notary-server (local signer: an ed25519 timestamp key; notary-server's local signer
# supports no other), builds the collection of make-collection.sh and saves what the server
# serves (every root version, the current files), the client's trust directory (metadata only,
# no private keys) and `notary list` output. TEST ONLY.
# Usage: scripts/notary/export-vectors.sh   (overwrites test-vectors/notary/)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../test-vectors/notary"
ca="$here/../../test-vectors/tls/ca.pem"
gun="example.com/notary/app"
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
for alg in ed25519; do
  read -r url pid < <(NOTARY_KEY_ALGORITHM="$alg" "$here/start-server.sh" "$tmp/server-$alg")
  pids+=("$pid")
  "$here/make-collection.sh" "$url" "$tmp/client-$alg" "$gun" >"$tmp/make-$alg.log" 2>&1 || {
    cat "$tmp/make-$alg.log" >&2
    exit 1
  }
  dest="$out"
  rm -rf "$dest/server" "$dest/trust"
  mkdir -p "$dest/server/targets" "$dest/trust"
  base="$url/v2/$gun/_trust/tuf"
  for f in root.json 1.root.json 2.root.json timestamp.json snapshot.json targets.json targets/releases.json timestamp.key; do
    curl -fsS --cacert "$ca" -o "$dest/server/$f" "$base/$f"
  done
  cp -r "$tmp/client-$alg/trust/tuf" "$dest/trust/"
  cp "$tmp/client-$alg/expected.txt" "$dest/notary-list.txt"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$dest/created.txt"
  kill "$pid"
done
echo "wrote $out"
