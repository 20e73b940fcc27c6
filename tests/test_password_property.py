"""Any printable-ASCII password works end to end: the role's ACL template, redis-server, AUTH, env file.

The templates are rendered by Ansible's own templating engine with the role's filters, the ACL file
is loaded by a real redis-server (ACL LOAD reads it exactly like a start does), and the env file line
is read back by python-dotenv as the HSI backend reads it.
"""

from __future__ import annotations

import io
import string
from collections.abc import Iterator

import pytest
import redis
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader
from ansible.template import Templar, trust_as_template
from conftest import ROLE, RedisServer, StartRedis, load_module_utils
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.backoff import NoBackoff
from redis.retry import Retry

PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
assert set(PRINTABLE_ASCII) == set(string.printable) - set("\t\n\r\x0b\x0c")
FIRST_PASSWORD = "first-password-0123456789-abcdefghij"

filter_loader.add_directory(str(ROLE / "filter_plugins"))
dotenv = load_module_utils("redis_dotenv")


ROLE_DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
ACL_VARIABLES = {
    "redis_acl_denied_commands": ROLE_DEFAULTS["redis_acl_denied_commands"],
    "redis_exporter": False,
    "redis_replication": False,
    "redis_sentinel_enabled": False,
}


def render(source: str, **variables: object) -> str:
    templar = Templar(loader=DataLoader(), variables={**ACL_VARIABLES, **variables})
    return str(templar.template(trust_as_template(source)))


class Server:
    """One redis-server for all examples; the current password is tracked to reload the ACL file."""

    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.password = FIRST_PASSWORD

    def client(self, password: str | None) -> redis.Redis:
        # No retries: redis-py 8 retries a refused AUTH with backoff by default, which takes seconds.
        return redis.Redis(
            port=self.server.port,
            password=password,
            socket_timeout=5,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
        )

    def load_acl(self, text: str) -> None:
        (self.server.workdir / "users.acl").write_text(text, encoding="utf-8")
        admin = self.client(self.password)
        try:
            assert admin.acl_load() is True
        finally:
            admin.close()


@pytest.fixture(scope="module")
def acl_template() -> str:
    return (ROLE / "templates" / "users.acl.j2").read_text(encoding="utf-8")


@pytest.fixture
def server(start_redis: StartRedis) -> Iterator[Server]:
    yield Server(start_redis(password=FIRST_PASSWORD))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=st.text(alphabet=PRINTABLE_ASCII, min_size=32, max_size=80))
def test_any_printable_password_round_trips(server: Server, acl_template: str, password: str) -> None:
    acl = render(acl_template, redis_acl_passwords=[password])
    assert password not in acl
    server.load_acl(acl)
    server.password = password

    client = server.client(password)
    try:
        assert client.ping() is True
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushall()
    finally:
        client.close()
    wrong = server.client(password[:-1] + ("x" if password[-1] != "x" else "y"))
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    wrong.close()

    line = "REDIS_PASSWORD=" + dotenv.dotenv_quote(password)  # as redis_env_file writes it
    assert dotenv_values(stream=io.StringIO(line + "\n"))["REDIS_PASSWORD"] == password


def test_two_passwords_during_a_rotation(server: Server, acl_template: str) -> None:
    old, new = "old ' \" $HOME ${X} # password-0123456789", "new \\ ` ; password-0123456789-abcdef"
    server.load_acl(render(acl_template, redis_acl_passwords=[FIRST_PASSWORD, old, new]))
    for password in (FIRST_PASSWORD, old, new):
        client = server.client(password)
        assert client.ping() is True
        client.close()
