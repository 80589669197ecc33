#!/bin/sh
# Makes a CA and one certificate per member for deploy/statefulset.yaml's Secret:
#   deploy/make-certs.sh DIR 3 && kubectl create secret generic ballot-tls --from-file=DIR
# writes DIR/ca.crt, DIR/node-<id>.crt and DIR/node-<id>.key for ids 1..N, and the CA's key in
# DIR/private/ca.key (kubectl --from-file=DIR takes the files of DIR only, so the Secret never holds it).
# A member's identity is its certificate's subject CN, ballot-node-<id> (docs/runtime.md, Security).
set -eu
dir=${1:?usage: make-certs.sh DIR [MEMBERS] [DAYS]}
members=${2:-3}
days=${3:-365}
mkdir -p "$dir/private"
umask 077
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/private/ca.key"
openssl req -x509 -new -key "$dir/private/ca.key" -sha256 -days "$days" -subj "/CN=ballot CA" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$dir/ca.crt"
id=1
while [ "$id" -le "$members" ]; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/node-$id.key"
  openssl req -new -key "$dir/node-$id.key" -subj "/CN=ballot-node-$id" -out "$dir/node-$id.csr"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' > "$dir/node-$id.ext"
  openssl x509 -req -in "$dir/node-$id.csr" -CA "$dir/ca.crt" -CAkey "$dir/private/ca.key" -CAcreateserial \
    -sha256 -days "$days" -extfile "$dir/node-$id.ext" -out "$dir/node-$id.crt" 2>/dev/null
  rm "$dir/node-$id.csr" "$dir/node-$id.ext"
  id=$((id + 1))
done
rm -f "$dir/ca.srl" "$dir/private/ca.srl"
chmod 644 "$dir/ca.crt" "$dir"/node-*.crt
