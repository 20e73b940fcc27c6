#!/usr/bin/env bash
# Build local Redis container images for the container scenarios, without any registry:
# a Debian 13 rootfs with Debian's redis-server 8.0, laid out like the official redis image
# (user redis uid 999 / gid 1000, /data owned by it, `redis-server` as the command).
#
#   tools/build-redis-image.sh IMAGE [SECOND_IMAGE]
#
# SECOND_IMAGE, if given, is the same rootfs under another image ID (an extra label), used
# to test that changing the image tag recreates the container and keeps the data volume.
# Both are also loaded into Podman's store when podman is installed.
set -euo pipefail

image=${1:?usage: $0 IMAGE [SECOND_IMAGE]}
second=${2:-}
recipe=$(sha256sum "$0" "$(dirname "$0")/build-test-image.sh" | sha256sum | cut -c1-16)

current() { docker image inspect -f '{{ index .Config.Labels "build.recipe" }}' "$1" 2>/dev/null || true; }

if [ "$(current "$image")" != "$recipe" ]; then
  base=redis-provisioning/debian13-systemd
  "$(dirname "$0")/build-test-image.sh" trixie "$base"
  builder=redis-image-build-$$
  docker rm -f "$builder" >/dev/null 2>&1 || true
  trap 'docker rm -f "$builder" >/dev/null 2>&1 || true' EXIT
  # Install in a container of the Debian 13 base (apt reaches the same mirror), then export.
  docker run --name "$builder" --entrypoint /bin/sh "$base" -c '
    set -e
    groupadd --system --gid 1000 redis
    useradd --system --uid 999 --gid 1000 --home-dir /data --no-create-home --shell /usr/sbin/nologin redis
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    apt-get clean
    rm -rf /var/lib/apt/lists/* /etc/redis/redis.conf
    mkdir -p /data
    chown 999:1000 /data
  ' >/dev/null
  docker export "$builder" | docker import \
    --change 'CMD ["redis-server"]' \
    --change 'WORKDIR /data' \
    --change 'VOLUME /data' \
    --change 'EXPOSE 6379' \
    --change "LABEL build.recipe=$recipe" \
    - "$image" >/dev/null
  docker rm -f "$builder" >/dev/null
  echo "built $image"
else
  echo "$image is up to date"
fi

if [ -n "$second" ] && [ "$(current "$second")" != "$recipe-b" ]; then
  builder=redis-image-variant-$$
  docker create --name "$builder" "$image" >/dev/null
  docker commit --change "LABEL build.recipe=$recipe-b" "$builder" "$second" >/dev/null
  docker rm -f "$builder" >/dev/null
  echo "built $second"
fi

if command -v podman >/dev/null 2>&1; then
  for name in "$image" $second; do
    want=$(current "$name")
    have=$(podman image inspect -f '{{ index .Labels "build.recipe" }}' "$name" 2>/dev/null || true)
    if [ "$have" != "$want" ]; then
      docker save "$name" | podman load -q >/dev/null
      echo "loaded $name into podman"
    fi
  done
fi
