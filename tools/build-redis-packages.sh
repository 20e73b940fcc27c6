#!/usr/bin/env bash
# Build the packages of the test stand-in for Redis's own repositories (packages.redis.io), which
# are not reachable here: Debian 13's `redis` source package (8.0.x), fetched with `apt-get source`
# from this machine's mirror, rebuilt for Debian 12 with Redis's version scheme
# (6:8.0.x-1rl1~bookworm1: epoch 6 above Debian's 5), and an EL-style `redis` RPM of the same
# binaries in the layout of Redis's RPMs (one package with the server, the tools and Sentinel,
# /etc/redis/redis.conf, redis.service and redis-sentinel.service) for the simulated EL9 host.
#
# The result is an image (Debian 12 base plus apt-ftparchive, gpg, rpmsign and createrepo_c, the
# packages in /packages) labelled with a recipe hash: a second run with the same recipe does
# nothing. tools/make-package-repo.sh publishes the packages as signed repositories.
#
#   tools/build-redis-packages.sh redis-provisioning/redis-packages
set -euo pipefail
. "$(dirname "$0")/image-lib.sh"

image=${1:?usage: $0 IMAGE}
here=$(cd "$(dirname "$0")" && pwd)
base=redis-provisioning/debian12-systemd
recipe=$(cat "$0" "$here"/redis-packages/* "$here/el9/redis.service" "$here/image-lib.sh" "$here/build-test-image.sh" \
  | sha256sum | cut -c1-16)

if [ "$(image_recipe "$image")" = "$recipe" ]; then
  echo "$image is up to date (recipe $recipe)"
  exit 0
fi
"$here/build-test-image.sh" bookworm "$base"

builder=redis-packages-build-$$
trap 'docker rm -f "$builder" >/dev/null 2>&1 || true' EXIT
echo "building Redis packages for Debian 12 and the simulated EL9 (about 2 minutes)"
docker run --name "$builder" -v "$here:/tools:ro" "$base" /bin/bash /tools/redis-packages/build.sh \
  >"/var/tmp/$builder.log" 2>&1 || { tail -n 40 "/var/tmp/$builder.log" >&2; exit 1; }
rm -f "/var/tmp/$builder.log"
docker commit --change 'CMD ["/bin/bash"]' --change "LABEL build.recipe=$recipe" "$builder" "$image" >/dev/null
echo "built $image (recipe $recipe)"
