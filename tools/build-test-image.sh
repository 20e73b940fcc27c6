#!/usr/bin/env bash
# Build a local Debian systemd image for Molecule and the demo, without any registry:
# debootstrap a rootfs from this machine's own Debian mirror and `docker import` it.
#
#   tools/build-test-image.sh bookworm redis-provisioning/debian12-systemd
#   tools/build-test-image.sh trixie   redis-provisioning/debian13-systemd
#
# The mirror is read from the machine's apt sources at run time; none is written here.
# An image already built from the same recipe is kept (label build.recipe).
set -euo pipefail

suite=${1:?usage: $0 SUITE IMAGE}
image=${2:?usage: $0 SUITE IMAGE}
packages=systemd,systemd-sysv,dbus,python3,sudo,ca-certificates,procps

recipe=$(printf '%s %s %s' "$suite" "$packages" "$(sha256sum "$0" | cut -c1-16)" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "build.recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
  echo "$image is up to date ($suite, recipe $recipe)"
  exit 0
fi

mirror_from_sources() {
  # deb822 sources first (Debian 12+), then the one-line format.
  local uri
  # The first stanza whose suites are a plain release (not -security/-updates/-backports).
  uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
    { u = ""; plain = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { split($i, f, " "); u = f[2] }
        if ($i ~ /^Suites:/) { n = split($i, s, " "); for (j = 2; j <= n; j++) if (s[j] !~ /-/) plain = 1 }
      }
      if (u != "" && plain) { print u; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$uri" ]; then
    uri=$(awk '$1 == "deb" && $2 !~ /^\[/ { print $2; exit } $1 == "deb" { print $3; exit }' /etc/apt/sources.list 2>/dev/null || true)
  fi
  [ -n "$uri" ] || { echo "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2; exit 1; }
  printf '%s\n' "$uri"
}

mirror=${DEBIAN_MIRROR:-$(mirror_from_sources)}
rootfs=$(mktemp -d /var/tmp/rootfs-"$suite".XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

echo "debootstrap $suite into $rootfs"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
  || { tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"

# A container has no consoles and no kernel to tune: keep systemd from waiting on them.
for unit in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
            systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
echo "redis-provisioning-test" >"$rootfs/etc/hostname"

tar -C "$rootfs" --numeric-owner -c . | docker import \
  --change 'ENV container=docker' \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change "LABEL build.recipe=$recipe build.suite=$suite" \
  - "$image" >/dev/null
echo "built $image ($suite, recipe $recipe)"
