#!/usr/bin/env bash
# Starts Debian's notary-server (0.7.x) on 127.0.0.1 with in-memory storage and the local
# signer (ed25519 timestamp keys held by the server), TLS with the TEST ONLY certificates in
# test-vectors/tls. Prints `URL PID` on stdout once the server answers, then returns; the server
# keeps running until killed (kill PID). Usage: start-server.sh WORKDIR [PORT]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tls="$here/../../test-vectors/tls"
work="${1:?usage: start-server.sh WORKDIR [PORT]}"
port="${2:-}"
mkdir -p "$work"
if [ -z "$port" ]; then
  port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
fi
cat >"$work/server.json" <<JSON
{
  "server": {
    "http_addr": "127.0.0.1:$port",
    "tls_cert_file": "$tls/server.pem",
    "tls_key_file": "$tls/server-key.pem"
  },
  "trust_service": { "type": "local", "hostname": "", "port": "", "key_algorithm": "${NOTARY_KEY_ALGORITHM:-ed25519}" },
  "logging": { "level": "info" },
  "storage": { "backend": "memory" }
}
JSON
notary-server -config "$work/server.json" -logf logfmt >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fsS --cacert "$tls/ca.pem" "https://127.0.0.1:$port/_notary_server/health" >/dev/null 2>&1; then
    echo "https://127.0.0.1:$port $pid"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "notary-server exited; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
echo "notary-server did not answer on port $port; its log:" >&2
cat "$work/server.log" >&2
exit 1
