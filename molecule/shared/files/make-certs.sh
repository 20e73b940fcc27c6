#!/bin/sh
# Test certificates, with the extensions that strict X.509 checking (Python 3.13+) requires: ca (trusted), server (127.0.0.1, localhost, the host name), client (signed by ca),
# and rogue-ca with a rogue client certificate that the server must refuse.
set -eu
dir=$1 host=$2
cd "$dir"
umask 077
ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$1.key" -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}
leaf() { # name ca extensions
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "authorityKeyIdentifier=keyid" "subjectKeyIdentifier=hash" "basicConstraints=CA:FALSE" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca
ca rogue-ca
leaf server ca "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:$host
extendedKeyUsage=serverAuth"
leaf client ca "extendedKeyUsage=clientAuth"
leaf rogue-client rogue-ca "extendedKeyUsage=clientAuth"
chmod 0644 ./*.crt
