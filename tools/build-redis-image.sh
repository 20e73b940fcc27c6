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
. "$(dirname "$0")/image-lib.sh"

image=${1:?usage: $0 IMAGE [SECOND_IMAGE]}
second=${2:-}
recipe=$(cat "$0" "$(dirname "$0")/image-lib.sh" "$(dirname "$0")/build-test-image.sh" | sha256sum | cut -c1-16)

if [ "$(image_recipe "$image")" != "$recipe" ]; then
  build_on_debian13 "$image" "$recipe" '
    groupadd --system --gid 1000 redis
    useradd --system --uid 999 --gid 1000 --home-dir /data --no-create-home --shell /usr/sbin/nologin redis
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    apt-get clean
    rm -rf /var/lib/apt/lists/* /etc/redis/redis.conf
    mkdir -p /data
    chown 999:1000 /data' \
    --change 'CMD ["redis-server"]' \
    --change 'WORKDIR /data' \
    --change 'VOLUME /data' \
    --change 'EXPOSE 6379'
else
  echo "$image is up to date"
fi

if [ -n "$second" ] && [ "$(image_recipe "$second")" != "$recipe-b" ]; then
  builder=redis-image-variant-$$
  docker create --name "$builder" "$image" >/dev/null
  docker commit --change "LABEL build.recipe=$recipe-b" "$builder" "$second" >/dev/null
  docker rm -f "$builder" >/dev/null
  echo "built $second"
fi

load_into_podman "$image" $second
