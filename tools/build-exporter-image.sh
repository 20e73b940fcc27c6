#!/usr/bin/env bash
# Build a local Redis exporter image for the container scenarios, without any registry: a Debian 13
# rootfs with Debian's prometheus-redis-exporter (1.69), laid out like the upstream
# oliver006/redis_exporter image (the binary at /redis_exporter as the entrypoint, user 59000).
#
#   tools/build-exporter-image.sh IMAGE
#
# It is also loaded into Podman's store when podman is installed.
set -euo pipefail

image=${1:?usage: $0 IMAGE}
recipe=$(sha256sum "$0" "$(dirname "$0")/build-test-image.sh" | sha256sum | cut -c1-16)

current() { docker image inspect -f '{{ index .Config.Labels "build.recipe" }}' "$1" 2>/dev/null || true; }

if [ "$(current "$image")" != "$recipe" ]; then
  base=redis-provisioning/debian13-systemd
  "$(dirname "$0")/build-test-image.sh" trixie "$base"
  builder=exporter-image-build-$$
  docker rm -f "$builder" >/dev/null 2>&1 || true
  trap 'docker rm -f "$builder" >/dev/null 2>&1 || true' EXIT
  docker run --name "$builder" --entrypoint /bin/sh "$base" -c '
    set -e
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus-redis-exporter >/dev/null
    apt-get clean
    rm -rf /var/lib/apt/lists/*
    ln -s /usr/bin/prometheus-redis-exporter /redis_exporter
  ' >/dev/null
  docker export "$builder" | docker import \
    --change 'ENTRYPOINT ["/redis_exporter"]' \
    --change 'USER 59000:59000' \
    --change 'EXPOSE 9121' \
    --change "LABEL build.recipe=$recipe" \
    - "$image" >/dev/null
  docker rm -f "$builder" >/dev/null
  echo "built $image"
else
  echo "$image is up to date"
fi

if command -v podman >/dev/null 2>&1; then
  have=$(podman image inspect -f '{{ index .Labels "build.recipe" }}' "$image" 2>/dev/null || true)
  if [ "$have" != "$recipe" ]; then
    docker save "$image" | podman load -q >/dev/null
    echo "loaded $image into podman"
  fi
fi
