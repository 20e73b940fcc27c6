#!/usr/bin/env python3
"""Install the collections pinned in requirements.yml without Ansible Galaxy.

The `ansible` community package on PyPI ships every collection it bundles inside
one wheel. This script downloads that wheel (pinned below, matching ansible-core
2.19) and unpacks only the collections named in requirements.yml into a
project-local collections path. It refuses a collection whose bundled version
differs from the pin, so requirements.yml stays the single source of truth for
operators who install from Galaxy instead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

ANSIBLE_BUNDLE = "ansible==12.3.0"


def pinned_collections(requirements: Path) -> dict[str, str]:
    data = yaml.safe_load(requirements.read_text(encoding="utf-8"))
    return {entry["name"]: str(entry["version"]) for entry in data["collections"]}


def installed_version(dest: Path, name: str) -> str | None:
    manifest = dest / "ansible_collections" / Path(*name.split(".")) / "MANIFEST.json"
    if not manifest.is_file():
        return None
    info = json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]
    return str(info["version"])


def download_bundle(workdir: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(workdir), ANSIBLE_BUNDLE],
        check=True,
    )
    wheels = sorted(workdir.glob("ansible-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download {ANSIBLE_BUNDLE} produced no wheel")
    return wheels[0]


def extract(wheel: Path, dest: Path, wanted: dict[str, str]) -> None:
    with zipfile.ZipFile(wheel) as bundle:
        for name, version in wanted.items():
            prefix = "ansible_collections/" + name.replace(".", "/") + "/"
            bundled = json.loads(bundle.read(prefix + "MANIFEST.json"))["collection_info"]["version"]
            if bundled != version:
                raise SystemExit(
                    f"{name}: requirements.yml pins {version} but {ANSIBLE_BUNDLE} bundles {bundled}; "
                    "align the pin or the bundle"
                )
            members = [m for m in bundle.namelist() if m.startswith(prefix)]
            bundle.extractall(dest, members)
            print(f"installed {name} {version} from {ANSIBLE_BUNDLE}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, default=Path("requirements.yml"))
    parser.add_argument("--dest", type=Path, default=Path("collections"))
    args = parser.parse_args()

    wanted = pinned_collections(args.requirements)
    missing = {n: v for n, v in wanted.items() if installed_version(args.dest, n) != v}
    if not missing:
        print("collections up to date: " + ", ".join(f"{n} {v}" for n, v in wanted.items()))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        extract(download_bundle(Path(tmp)), args.dest, missing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
