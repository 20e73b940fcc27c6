#!/usr/bin/env bash
# make demo / make demo-clean: a throwaway Debian 13 systemd container provisioned by
# playbooks/site.yml exactly as a real host would be, with a freshly generated vault.
set -euo pipefail
cd "$(dirname "$0")/.."

name=redis-provisioning-demo
image=redis-provisioning/debian13-systemd
state=.demo
vault_key=$state/vault-password
vault_file=inventory/demo/group_vars/redis/vault.yml

up() {
  if [ -z "$(docker ps -q --filter "name=^${name}$")" ]; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" --hostname "$name" \
      --cap-add SYS_ADMIN --cgroupns host \
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
      -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
      "$image" >/dev/null
    echo "started container $name from $image"
  fi

  mkdir -p "$state"
  chmod 0700 "$state"
  if [ ! -s "$vault_key" ] || [ ! -s "$vault_file" ]; then
    (umask 077 && openssl rand -base64 32 >"$vault_key")
    # The generated password goes straight from openssl into the vault, never into a file or argv.
    openssl rand -base64 32 | tr -d '\n' \
      | ansible-vault encrypt_string --vault-password-file "$vault_key" \
          --stdin-name vault_redis_password --output "$vault_file" 2>/dev/null
    chmod 0600 "$vault_file"
    echo "generated a new password in $vault_file (vault key: $vault_key)"
  fi

  # The container needs one systemd adaptation (see the playbook); real hosts do not.
  ansible-playbook -i inventory/demo --vault-password-file "$vault_key" molecule/shared/prepare-systemd-container.yml
  ansible-playbook -i inventory/demo --vault-password-file "$vault_key" playbooks/site.yml

  echo
  echo "== Authenticated PING, as the HSI backend would do it from its env file =="
  docker exec "$name" sh -c 'set -a; . /root/hsi.env; REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -u "$REDIS_URL" PING'
  echo "== Without the password =="
  docker exec "$name" redis-cli PING || true
  cat <<MSG

Redis runs in the container '$name' (loopback only, AOF on, password required).
  Open a shell:          docker exec -it $name bash
  Use redis-cli there:   set -a; . /root/hsi.env; REDISCLI_AUTH="\$REDIS_PASSWORD" redis-cli
  Show the password:     .venv/bin/ansible localhost -m debug -a var=vault_redis_password -e @$vault_file --vault-password-file $vault_key
  Run the playbook again (changes nothing):
                         .venv/bin/ansible-playbook -i inventory/demo --vault-password-file $vault_key playbooks/site.yml
  Remove everything:     make demo-clean
MSG
}

down() {
  docker rm -f "$name" >/dev/null 2>&1 && echo "removed container $name" || true
  rm -rf "$state" "$vault_file"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
