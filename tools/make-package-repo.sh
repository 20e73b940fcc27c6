#!/usr/bin/env bash
# Publish the packages of tools/build-redis-packages.sh as a stand-in for Redis's repositories, in
# their layout, for the `packages` Molecule scenario (mounted read-only into its hosts):
#
#   OUTDIR/redis/deb       APT: `deb [signed-by=...] file:///.../redis/deb bookworm main`, InRelease
#                          and Release.gpg signed with a key made here, now
#   OUTDIR/redis/rpm/rockylinux9   RPM: every package signed (rpmsign) with the same key
#   OUTDIR/unsigned/deb    the same APT repository without any signature
#   OUTDIR/keys/redis.asc  the repositories' public key; keys/other.asc a key that signed nothing
#
# Every run makes new keys (they do not expire, so an older .cache still works for a single scenario).
#
#   tools/make-package-repo.sh .cache/package-repo
set -euo pipefail

out=${1:?usage: $0 OUTDIR}
image=${PACKAGES_IMAGE:-redis-provisioning/redis-packages}
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)

docker run --rm --user "$(id -u):$(id -g)" -v "$out:/out" "$image" /bin/bash -c '
  set -euo pipefail
  export GNUPGHOME=$(mktemp -d)
  gpg --batch --quiet --passphrase "" --quick-gen-key "redis-provisioning test repository <repo@redis-provisioning.invalid>" ed25519 sign never
  gpg --batch --quiet --passphrase "" --quick-gen-key "redis-provisioning other key <other@redis-provisioning.invalid>" ed25519 sign never
  mkdir -p /out/keys
  gpg --armor --export repo@redis-provisioning.invalid >/out/keys/redis.asc
  gpg --armor --export other@redis-provisioning.invalid >/out/keys/other.asc

  publish_deb() {  # publish_deb ROOT [sign]
    local root=$1 dist=$1/dists/bookworm
    mkdir -p "$root/pool/main" "$dist/main/binary-amd64"
    cp /packages/deb/*.deb "$root/pool/main/"
    (cd "$root" && apt-ftparchive packages pool/main >dists/bookworm/main/binary-amd64/Packages)
    gzip -9k "$dist/main/binary-amd64/Packages"
    apt-ftparchive -o APT::FTPArchive::Release::Origin=redis-provisioning-test \
      -o APT::FTPArchive::Release::Label=redis-provisioning-test -o APT::FTPArchive::Release::Suite=bookworm \
      -o APT::FTPArchive::Release::Codename=bookworm -o APT::FTPArchive::Release::Architectures=amd64 \
      -o APT::FTPArchive::Release::Components=main release "$dist" >"$dist/Release.tmp"
    mv "$dist/Release.tmp" "$dist/Release"
    if [ "${2:-}" = sign ]; then
      gpg --batch --quiet --local-user repo@redis-provisioning.invalid --clearsign -o "$dist/InRelease" "$dist/Release"
      gpg --batch --quiet --local-user repo@redis-provisioning.invalid -abs -o "$dist/Release.gpg" "$dist/Release"
    fi
  }
  publish_deb /out/redis/deb sign
  publish_deb /out/unsigned/deb

  rpmrepo=/out/redis/rpm/rockylinux9
  mkdir -p "$rpmrepo"
  cp /packages/rpm/*.rpm "$rpmrepo/"
  rpmsign --addsign --define "__gpg /usr/bin/gpg" --define "_gpg_name repo@redis-provisioning.invalid" "$rpmrepo"/*.rpm >/dev/null
  createrepo_c -q "$rpmrepo"
  chmod -R a+rX /out
'
echo "published the test package repositories in $out"
