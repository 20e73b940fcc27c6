#!/usr/bin/env bash
# Build a local Redis exporter image for the container scenarios, without any registry: a Debian 13
# rootfs with Debian's prometheus-redis-exporter (1.69), laid out like the upstream
# oliver006/redis_exporter image (the binary at /redis_exporter as the entrypoint, user 59000).
#
#   tools/build-exporter-image.sh IMAGE
#
# It is also loaded into Podman's store when podman is installed.
set -euo pipefail
. "$(dirname "$0")/image-lib.sh"

image=${1:?usage: $0 IMAGE}
recipe=$(cat "$0" "$(dirname "$0")/image-lib.sh" "$(dirname "$0")/build-test-image.sh" | sha256sum | cut -c1-16)

if [ "$(image_recipe "$image")" != "$recipe" ]; then
  build_on_debian13 "$image" "$recipe" '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus-redis-exporter >/dev/null
    apt-get clean
    rm -rf /var/lib/apt/lists/*
    ln -s /usr/bin/prometheus-redis-exporter /redis_exporter' \
    --change 'ENTRYPOINT ["/redis_exporter"]' \
    --change 'USER 59000:59000' \
    --change 'EXPOSE 9121'
else
  echo "$image is up to date"
fi
load_into_podman "$image"
