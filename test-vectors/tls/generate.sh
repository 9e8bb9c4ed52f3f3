#!/bin/sh
# Regenerates the throwaway TLS test certificates in this directory (TEST ONLY, see README.md).
# The committed files were made once with this script; tests only read them.
# `openssl ca` is used (not `req -x509`) so the validity can start in the past: 2020 to 2120.
set -eu
cd "$(dirname "$0")"
start=20200101000000Z
end=21200101000000Z
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/index.txt"
cat > "$tmp/ca.cnf" <<CNF
[ca]
default_ca = testca
[testca]
database = $tmp/index.txt
new_certs_dir = $tmp
serial = $tmp/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
[ca_ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
echo 1000 > "$tmp/serial"

# Test CA: P-256 key, self-signed.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca-key.pem
openssl req -new -key ca-key.pem -subj "/CN=tufa test CA (TEST ONLY, never trust)" -out "$tmp/ca.csr"
openssl ca -batch -notext -config "$tmp/ca.cnf" -selfsign -keyfile ca-key.pem -in "$tmp/ca.csr" \
  -startdate "$start" -enddate "$end" -extensions ca_ext -out ca.pem

# Server certificate for 127.0.0.1, ::1 and localhost, issued by the test CA.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server-key.pem
openssl req -new -key server-key.pem -subj "/CN=localhost" -out "$tmp/server.csr"
openssl ca -batch -notext -config "$tmp/ca.cnf" -cert ca.pem -keyfile ca-key.pem -in "$tmp/server.csr" \
  -startdate "$start" -enddate "$end" -extensions server_ext -out server.pem
