"""The role's filters: env-file quoting (read back by python-dotenv) and Redis memory sizes."""

from __future__ import annotations

import io
import string

import pytest
from conftest import ROLE, load_python
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

filters = load_python(ROLE / "filter_plugins" / "redis_filters.py")
dotenv = load_python(ROLE / "module_utils" / "redis_dotenv.py")  # the quoting redis_env_file writes with
tests = load_python(ROLE / "test_plugins" / "redis_tests.py")


def read_back(line: str, environ: dict[str, str] | None = None) -> str | None:
    """What the HSI backend's settings loader sees for REDIS_PASSWORD."""
    text = f"# comment\nOTHER=1\n{line}\nAFTER=2\n"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in (environ or {}).items():
            patch.setenv(key, value)
        values = dotenv_values(stream=io.StringIO(text))
    assert values["OTHER"] == "1" and values["AFTER"] == "2"
    return values["REDIS_PASSWORD"]


@pytest.mark.parametrize(
    "password",
    [
        "K7mP9xQ2nL4hR6wY8vB1tF3jD5gS0aZ/cE9uI2oA+Xk=",  # the guide's example output
        "with # hash and spaces  ",
        "dollar $HOME and ${HOME} and ${HOME:-x} and $${X} and $",
        "quotes ' and \" and `back`",
        "back\\slash \\' \\\\ end\\",
        "=leading equals",
    ],
)
def test_dotenv_quote_reads_back_exactly(password: str) -> None:
    line = "REDIS_PASSWORD=" + dotenv.dotenv_quote(password)
    assert read_back(line, {"HOME": "/root-should-not-appear"}) == password


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=string.printable.replace("\n", "").replace("\r", "").replace("\x0b", "").replace("\x0c", "")))
def test_dotenv_quote_round_trips_any_printable_ascii(password: str) -> None:
    assert read_back("REDIS_PASSWORD=" + dotenv.dotenv_quote(password), {"USER": "someone"}) == password


def test_plain_passwords_stay_plain_for_other_env_readers() -> None:
    # openssl rand -base64 output needs no escaping: docker compose reads the same value.
    assert (
        dotenv.dotenv_quote("K7mP9xQ2nL4hR6wY8vB1tF3jD5gS0aZ/cE9uI2oA+Xk=")
        == "'K7mP9xQ2nL4hR6wY8vB1tF3jD5gS0aZ/cE9uI2oA+Xk='"
    )


def test_dotenv_quote_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        dotenv.dotenv_quote(123)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("100mb", 100 * 1024**2),
        ("200MB", 200 * 1024**2),
        ("512mb", 512 * 1024**2),
        ("1gb", 1024**3),
        ("1g", 1000**3),
        ("100k", 100_000),
        ("64kb", 65536),
        ("1048576", 1048576),
        (0, 0),
    ],
)
def test_memory_bytes_uses_redis_units(size: object, expected: int) -> None:
    assert filters.memory_bytes(size) == expected


@pytest.mark.parametrize("size", ["lots", "1tb", "-5mb", "1.5gb", ""])
def test_memory_bytes_rejects_other_text(size: str) -> None:
    with pytest.raises(ValueError, match="not a Redis memory size"):
        filters.memory_bytes(size)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "fe80::1", "0.0.0.0"])
def test_ip_address_accepts_addresses(address: str) -> None:
    assert tests.ip_address(address)


@pytest.mark.parametrize("address", ["localhost", "127.0.0.256", "redis.example.internal", "", "*"])
def test_ip_address_rejects_names(address: str) -> None:
    assert not tests.ip_address(address)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["/opt/hsi/.env"], [{"path": "/opt/hsi/.env", "owner": "root", "group": "root"}]),
        ([{"path": "/opt/hsi/.env", "owner": "hsi"}], [{"path": "/opt/hsi/.env", "owner": "hsi", "group": "root"}]),
        ([], []),
    ],
)
def test_env_file_items_accept_paths_and_items(given: object, expected: object) -> None:
    assert filters.env_file_items(given) == expected


@pytest.mark.parametrize("given", [[{"owner": "root"}], [{"path": "/x", "mode": "0644"}], [42], "/opt/hsi/.env"])
def test_env_file_items_refuse_other_shapes(given: object) -> None:
    with pytest.raises((TypeError, ValueError), match="redis_client_env_files"):
        filters.env_file_items(given)


@pytest.mark.parametrize(
    ("password", "strong"),
    [("a" * 32, True), ("a" * 31, False), ("a" * 40 + "\n", False), ("a" * 40 + "\x7f", False), (None, False)],
)
def test_strong_password_is_the_one_rule(password: object, strong: bool) -> None:
    assert tests.strong_password(password) is strong


@pytest.mark.parametrize(
    ("lines", "package", "expected"),
    [
        (["redis-server installed 5:7.0.15-1~deb12u4", "python3-redis installed 4.3.4-3"], "redis-server", "7.0.15"),
        (["redis-server installed 6:8.0.2-1rl1~bookworm1"], "redis-server", "8.0.2"),
        (["redis installed 8.2.1", "python3-redis installed 4.3.4"], "redis", "8.2.1"),
        (["redis-server installed 7.4.2+dfsg-1"], "redis-server", "7.4.2"),
        # Removed but configured, or not installed at all: no version.
        (["redis-server config-files 5:7.0.15-1~deb12u4"], "redis-server", ""),
        (["python3-redis installed 4.3.4-3"], "redis-server", ""),
        ([], "redis-server", ""),
    ],
)
def test_package_version(lines: list[str], package: str, expected: str) -> None:
    assert filters.package_version(lines, package) == expected
