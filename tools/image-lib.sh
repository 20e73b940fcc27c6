# Shared by the build-*-image.sh scripts (sourced, not run): build an image from the Debian 13 test
# base without any registry, and keep Podman's store in step with Docker's.

# The recipe label of an image in Docker's store (empty when there is none).
image_recipe() { docker image inspect -f '{{ index .Config.Labels "build.recipe" }}' "$1" 2>/dev/null || true; }

# build_on_debian13 IMAGE RECIPE SCRIPT [--change ...]: run SCRIPT (sh) in a container of the
# Debian 13 base (apt reaches this machine's mirror), then import its filesystem as IMAGE with the
# given image settings and the recipe label.
build_on_debian13() {
  local image=$1 recipe=$2 script=$3 base=redis-provisioning/debian13-systemd builder="image-build-$$"
  shift 3
  "$(dirname "${BASH_SOURCE[0]}")/build-test-image.sh" trixie "$base"
  docker rm -f "$builder" >/dev/null 2>&1 || true
  trap 'docker rm -f "'"$builder"'" >/dev/null 2>&1 || true' EXIT
  docker run --name "$builder" --entrypoint /bin/sh "$base" -c "set -e; $script" >/dev/null
  docker export "$builder" | docker import "$@" --change "LABEL build.recipe=$recipe" - "$image" >/dev/null
  docker rm -f "$builder" >/dev/null
  echo "built $image"
}

# load_into_podman IMAGE...: copy images whose recipe differs into Podman's store, if Podman is here.
load_into_podman() {
  command -v podman >/dev/null 2>&1 || return 0
  local name want have
  for name in "$@"; do
    want=$(image_recipe "$name")
    have=$(podman image inspect -f '{{ index .Labels "build.recipe" }}' "$name" 2>/dev/null || true)
    if [ "$have" != "$want" ]; then
      docker save "$name" | podman load -q >/dev/null
      echo "loaded $name into podman"
    fi
  done
}
