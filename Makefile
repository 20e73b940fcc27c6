# redis-provisioning: the two commands an operator or maintainer needs.
#   make demo   provision a throwaway local Debian 13 host and print how to use it
#   make test   lint + unit tests + every Molecule scenario (what CI runs)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
BIN         := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

# `make test` runs every scenario in two phases of two lanes side by side (tools/run-scenarios.sh):
# one scenario alone leaves about 40 % of the 2 cores idle (docker exec, systemd, Redis waits).
# `default` is the one scenario that resets kernel-wide settings (vm.overcommit_memory, transparent
# huge pages), so beside it run only the container scenarios, which leave the kernel alone.
# SCENARIOS=... runs the given ones one after another instead.
MOLECULE_PHASES := "default el9 | container-docker container-podman" "ha rotation | packages backup tls"
SCENARIOS   ?=

.PHONY: help bootstrap venv collections images el9-image redis-images package-repo test-images lint unit molecule test bench bench-short demo demo-clean clean

help:
	@echo "make demo        provision a throwaway local Debian 13 container with secured Redis"
	@echo "make demo-clean  remove the demo container and its files"
	@echo "make test        lint, unit tests and every Molecule scenario (molecule/*, two at a time)"
	@echo "make lint | unit | molecule [SCENARIOS=default]   one part of the tests"
	@echo "make bench       benchmarks on fresh local hosts (bench/README.md); bench-short: CI's quick run"

bootstrap:
	tools/bootstrap.sh

$(VENV)/.installed: requirements.txt | bootstrap
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

collections: venv
	$(PY) tools/install-collections.py

images: bootstrap
	tools/build-test-image.sh bookworm redis-provisioning/debian12-systemd & first=$$!; \
	tools/build-test-image.sh trixie redis-provisioning/debian13-systemd; \
	wait $$first

lint: venv collections
	yamllint --strict .
	ANSIBLE_VAULT_PASSWORD_FILE=molecule/inventory/test-vault-password ansible-lint --offline --profile production
	ruff check .
	ruff format --check .
	mypy
	ansible-doc -M roles/redis/library redis_auth_ping redis_user_passwords redis_live_config redis_env_file redis_host_lookup redis_config_files redis_kernel_tuning redis_replication redis_sentinel redis_sentinel_status redis_backup redis_restore redis_backup_archive >/dev/null

unit: venv bootstrap
	pytest

el9-image: images
	tools/build-el9-image.sh redis-provisioning/el9-systemd

redis-images: images
	tools/build-redis-image.sh localhost/hsi-redis:8.0-a localhost/hsi-redis:8.0-b
	tools/build-exporter-image.sh localhost/hsi-redis-exporter:1.69

# The stand-in for Redis's package repositories (scenario packages): the packages are built once
# and kept while their recipe is the same; the signed repositories and their keys are new each time.
package-repo: images
	tools/build-redis-packages.sh redis-provisioning/redis-packages
	tools/make-package-repo.sh .cache/package-repo

test-images: images el9-image redis-images package-repo

molecule: venv collections test-images
ifeq ($(strip $(SCENARIOS)),)
	tools/run-scenarios.sh --all $(MOLECULE_PHASES)
else
	tools/run-scenarios.sh $(foreach s,$(SCENARIOS),"$(s)")
endif

# On a new machine the test images take minutes to build (mostly downloads and package builds):
# they build in the background while lint and unit tests run (log: .cache/test-images.log).
test: bootstrap venv collections
	@mkdir -p .cache
	@$(MAKE) --no-print-directory test-images >.cache/test-images.log 2>&1 & images=$$!; \
	started=$$(date +%s); \
	$(MAKE) --no-print-directory lint unit || { kill $$images 2>/dev/null; wait $$images; exit 1; }; \
	echo "lint and unit tests passed in $$(( $$(date +%s) - started )) s"; \
	wait $$images || { tail -n 40 .cache/test-images.log; echo "building the test images failed" >&2; exit 1; }; \
	cat .cache/test-images.log
	$(MAKE) --no-print-directory molecule

# Benchmarks (bench/README.md): not part of `make test`; CI runs the short mode after it.
# Mitogen (an opt-in strategy the full run measures) goes into .cache, not into the venv.
BENCH_MITOGEN := .cache/bench-mitogen
$(BENCH_MITOGEN)/.installed: bench/requirements-mitogen.txt | venv
	rm -rf $(BENCH_MITOGEN)
	$(PY) -m pip install --quiet --target $(BENCH_MITOGEN) -r bench/requirements-mitogen.txt
	touch $@

bench: venv collections images $(BENCH_MITOGEN)/.installed
	$(PY) bench/run.py --readme --output bench/results.json --mitogen $(BENCH_MITOGEN)

bench-short: venv collections images
	$(PY) bench/run.py --short

demo: venv collections bootstrap
	tools/build-test-image.sh trixie redis-provisioning/debian13-systemd
	tools/demo.sh up

demo-clean:
	tools/demo.sh down

clean: demo-clean
	rm -rf $(VENV) collections .cache
