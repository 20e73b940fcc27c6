# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only filter: parse env-file text exactly as the HSI backend does (python-dotenv)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from dotenv import dotenv_values


def dotenv_parse(text: str) -> dict[str, str | None]:
    return dict(dotenv_values(stream=io.StringIO(text)))


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"dotenv_parse": dotenv_parse}
