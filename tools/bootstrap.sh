#!/usr/bin/env bash
# Make this Debian machine able to run the demo and the tests: the few Debian packages the
# tooling needs, and a running Docker engine. Safe to run again; it only does what is missing.
set -euo pipefail

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "tools/bootstrap.sh needs root to install Debian packages and start Docker (try: sudo make ...)" >&2
    exit 1
  fi
}

# command -> Debian package
declare -A wanted=(
  [dockerd]=docker.io
  [debootstrap]=debootstrap
  [podman]=podman
  [redis-server]=redis-server
  [openssl]=openssl
  [git]=git
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
  need_root
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The unit tests start their own redis-server processes on free ports; keep the packaged
  # service from starting on this machine (policy-rc.d 101 = "do not start").
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -d /run/systemd/system ] && [[ " ${missing[*]} " == *" redis-server "* ]]; then
    systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
fi

if ! docker info >/dev/null 2>&1; then
  need_root
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    echo "starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "Docker engine did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi
echo "bootstrap: Debian packages present, Docker engine running"
