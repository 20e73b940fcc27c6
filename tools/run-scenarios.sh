#!/usr/bin/env bash
# Run Molecule scenarios in phases; within a phase, lanes run side by side and each lane runs its
# scenarios one after another. Phases run one after another.
#
#   tools/run-scenarios.sh "default el9 | container-docker container-podman" "ha | packages"
#
# Every argument is a phase, `|` separates its lanes. Each scenario's output goes to
# .cache/molecule/<scenario>.log and is printed whole when the scenario ends, so that lanes do not
# mix their lines. After a failure, no lane starts another scenario and the script exits 1.
# With --all, the script first checks that the phases name every scenario under molecule/ once.
set -euo pipefail

logs=.cache/molecule
mkdir -p "$logs"
failed="$logs/.failed"
rm -f "$failed" "$logs/.print.lock"

if [ "${1:-}" = --all ]; then
  shift
  named=$(printf '%s\n' "$@" | tr ' |' '\n\n' | sed '/^$/d' | sort)
  present=$(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
  if [ "$named" != "$present" ]; then
    echo "the phases must name every scenario once:" >&2
    diff <(echo "$named") <(echo "$present") >&2 || true
    exit 1
  fi
fi

run_lane() {
  local scenario started status
  for scenario in "$@"; do
    [ -e "$failed" ] && return 0
    started=$(date +%s)
    status=passed
    molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1 || { status=failed; touch "$failed"; }
    (
      flock 9
      cat "$logs/$scenario.log"
      echo "scenario $scenario $status in $(( $(date +%s) - started )) s"
    ) 9>"$logs/.print.lock"
  done
}

for phase in "$@"; do
  IFS='|' read -r -a lanes <<<"$phase"
  pids=()
  for lane in "${lanes[@]}"; do
    # shellcheck disable=SC2086 # a lane is a space-separated list of scenario names
    run_lane $lane &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  if [ -e "$failed" ]; then
    echo "Molecule failed; each scenario's output is in $logs/<scenario>.log" >&2
    exit 1
  fi
done
