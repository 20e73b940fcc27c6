#!/usr/bin/env bash
# Build the simulated EL9 (Rocky 9) systemd image for the el9 Molecule scenario. No RHEL
# mirror is reachable here, so this is a Debian 12 systemd container that looks like EL9 to
# Ansible (os-release, redhat-release) and installs packages with a real dnf from a local
# file:// repository. That repository holds `redis` and `python3-redis` RPMs built with
# rpmbuild from Debian's binaries, plus el-base-provides, which declares the Debian userland
# to rpm (its database is otherwise empty and dnf could not resolve /bin/sh or useradd).
#
# It is a test double for the distribution, not for Redis: see README.md, Testing.
#
#   tools/build-el9-image.sh redis-provisioning/el9-systemd
set -euo pipefail

image=${1:?usage: $0 IMAGE}
here=$(cd "$(dirname "$0")" && pwd)
base=redis-provisioning/debian12-systemd
recipe=$(cat "$0" "$here"/el9/* "$here/build-test-image.sh" | sha256sum | cut -c1-16)

if [ "$(docker image inspect -f '{{ index .Config.Labels "build.recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
  echo "$image is up to date (recipe $recipe)"
  exit 0
fi
"$here/build-test-image.sh" bookworm "$base"

builder=el9-image-build-$$
trap 'docker rm -f "$builder" >/dev/null 2>&1 || true' EXIT
docker run --name "$builder" -v "$here/el9:/el9:ro" "$base" /bin/bash -c '
  set -euo pipefail
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # dnf, rpm (with rpmbuild), createrepo_c; and the shared libraries Debian'"'"'s redis-server links.
  apt-get install -y -qq --no-install-recommends dnf python3-dnf rpm createrepo-c \
    file libjemalloc2 liblzf1 libatomic1 libssl3 >/dev/null
  work=$(mktemp -d)
  cd "$work"
  apt-get download -qq redis-server redis-tools python3-redis python3-async-timeout python3-deprecated \
    python3-wrapt python3-packaging python3-typing-extensions
  mkdir stage
  for deb in ./*.deb; do dpkg-deb -x "$deb" stage; done
  redis_version=$(dpkg-deb -f redis-server_*.deb Version | sed -E "s/^[0-9]+://; s/[-~+].*//")
  pyredis_version=$(dpkg-deb -f python3-redis_*.deb Version | sed -E "s/[-~+].*//")
  for spec in el-base-provides redis python3-redis; do
    rpmbuild -bb --quiet /el9/$spec.spec \
      --define "_topdir $work/rpmbuild" --define "stage $work/stage" --define "unit /el9/redis.service" \
      --define "redis_version $redis_version" --define "pyredis_version $pyredis_version" >/dev/null
  done
  mkdir -p /srv/el9-repo /etc/yum.repos.d
  cp rpmbuild/RPMS/*/*.rpm /srv/el9-repo/
  createrepo_c -q /srv/el9-repo
  cat >/etc/yum.repos.d/el9-local.repo <<REPO
[el9-local]
name=Local EL9 test repository (redis-provisioning)
baseurl=file:///srv/el9-repo
enabled=1
gpgcheck=0
REPO
  rpm -i /srv/el9-repo/el-base-provides-*.rpm
  cd /
  rm -rf "$work" /var/lib/apt/lists/*
  # Look like Rocky 9 to Ansible: distribution Rocky, os_family RedHat, pkg_mgr dnf.
  rm -f /etc/os-release /usr/lib/os-release /etc/debian_version /etc/lsb-release
  cp /el9/os-release /etc/os-release
  echo "Rocky Linux release 9.4 (Blue Onyx)" >/etc/redhat-release
  echo "Rocky Linux release 9.4 (Blue Onyx)" >/etc/system-release
' >/dev/null
docker commit \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change "LABEL build.recipe=$recipe" \
  "$builder" "$image" >/dev/null
echo "built $image (recipe $recipe)"
