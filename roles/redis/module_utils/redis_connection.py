# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options, client construction and error wording shared by this role's modules."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

try:
    import redis
    from redis import exceptions as redis_exceptions
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    HAS_REDIS = True
    REDIS_IMPORT_ERROR: str | None = None
except ImportError:  # pragma: no cover - exercised only on hosts without redis-py
    HAS_REDIS = False
    REDIS_IMPORT_ERROR = traceback.format_exc()

T = TypeVar("T")


def connection_argument_spec() -> dict[str, dict[str, Any]]:
    """Options every module of this role accepts to reach a Redis server (doc_fragments/redis_connection.py)."""
    return {
        "host": {"type": "str", "default": "127.0.0.1"},
        "port": {"type": "int", "default": 6379},
        "unix_socket": {"type": "path"},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "connect_timeout": {"type": "float", "default": 5.0},
        "tls": {"type": "bool", "default": False},
        "tls_ca_certs": {"type": "path"},
        "tls_certfile": {"type": "path"},
        "tls_keyfile": {"type": "path"},
        "tls_check_hostname": {"type": "bool", "default": True},
        "retries": {"type": "int", "default": 3},
        "delay": {"type": "float", "default": 1.0},
    }


def endpoint(params: dict[str, Any]) -> str:
    """Where the module connects, for messages (never includes credentials)."""
    if params.get("unix_socket"):
        return f"unix socket {params['unix_socket']}"
    return f"{params['host']}:{params['port']}{' (TLS)' if params.get('tls') else ''}"


def make_client(params: dict[str, Any], authenticate: bool = True) -> Any:
    """A redis-py client from the module options; without credentials when authenticate is false."""
    kwargs: dict[str, Any] = {
        "socket_connect_timeout": params["connect_timeout"],
        "socket_timeout": params["connect_timeout"],
        "decode_responses": True,
        # redis-py 6+ retries connection (and authentication) errors on its own; the module
        # decides about retries itself, so every command gets exactly one try here.
        "retry": Retry(NoBackoff(), 0),
    }
    if authenticate:
        if params.get("username"):
            kwargs["username"] = params["username"]
        if params.get("password") is not None and params["password"] != "":
            kwargs["password"] = params["password"]
    if params.get("unix_socket"):
        return redis.Redis(unix_socket_path=params["unix_socket"], **kwargs)
    if params.get("tls"):
        # One TLS policy: the server certificate is always verified against the CA (or the
        # system's CAs); only the host-name check can be turned off.
        kwargs.update(
            ssl=True,
            ssl_cert_reqs="required",
            ssl_ca_certs=params.get("tls_ca_certs"),
            ssl_certfile=params.get("tls_certfile"),
            ssl_keyfile=params.get("tls_keyfile"),
            ssl_check_hostname=params.get("tls_check_hostname", True),
        )
    return redis.Redis(host=params["host"], port=params["port"], **kwargs)


class RedisCheckError(Exception):
    """A failure described for an operator; `kind` names the troubleshooting case."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        # How many times the action was tried before this failure (set by with_retries).
        self.attempts = 1


def is_noauth(exc: BaseException) -> bool:
    text = str(exc)
    # redis-py 8 opens with HELLO 3; Redis then answers this instead of NOAUTH.
    return (
        "NOAUTH" in text
        or "Authentication required" in text
        or "HELLO must be called with the client already authenticated" in text
    )


def is_wrongpass(exc: BaseException) -> bool:
    text = str(exc)
    return "WRONGPASS" in text or "invalid username-password pair" in text or "invalid password" in text


def describe(exc: BaseException, params: dict[str, Any]) -> RedisCheckError:
    """Map a redis-py exception to the HSI guide's troubleshooting wording."""
    where = endpoint(params)
    if is_noauth(exc):
        return RedisCheckError(
            "noauth",
            f"NOAUTH Authentication required: Redis at {where} wants a password and none was given. "
            "Set the password option (REDIS_PASSWORD for the HSI backend).",
        )
    if is_wrongpass(exc):
        return RedisCheckError(
            "wrongpass",
            f"WRONGPASS invalid username-password pair: Redis at {where} rejected the password. "
            "The password given does not match the one Redis was configured with.",
        )
    if "without any password configured" in str(exc):
        return RedisCheckError(
            "no_password_configured",
            f"Redis at {where} has no password configured but a password was given: authentication is not enabled.",
        )
    if isinstance(exc, redis_exceptions.TimeoutError):
        return RedisCheckError(
            "timeout",
            f"Timed out after {params['connect_timeout']}s connecting to Redis at {where}: "
            "a firewall may drop the traffic or the host is overloaded.",
        )
    if isinstance(exc, redis_exceptions.BusyLoadingError):
        return RedisCheckError("loading", f"Redis at {where} is still loading its dataset into memory.")
    if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate verify failed" in str(exc):
        return RedisCheckError(
            "tls_verify_failed",
            f"TLS: the certificate of Redis at {where} is not trusted (wrong CA, expired, or another host name): {exc}",
        )
    if params.get("tls") and ("SSL" in str(exc) or "EOF" in str(exc) or "reset by peer" in str(exc)):
        return RedisCheckError(
            "tls_error",
            f"TLS handshake with Redis at {where} failed; with mutual TLS, a client certificate signed by the "
            f"server's CA is required ({exc}).",
        )
    if isinstance(exc, redis_exceptions.ConnectionError):
        return RedisCheckError(
            "connection_refused",
            f"Connection refused: Redis is not running or not listening on {where} ({exc}).",
        )
    return RedisCheckError("error", f"Redis at {where} answered with an error: {exc}")


def tried(error: RedisCheckError, attempt: int) -> RedisCheckError:
    error.attempts = attempt + 1
    return error


def with_retries(action: Callable[[], T], retries: int, delay: float, params: dict[str, Any]) -> T:
    """Run action, retrying while the server is unreachable or loading (a starting server).

    Authentication failures are final: retrying them only adds noise to the server's log.
    """
    attempt = 0
    while True:
        try:
            return action()
        except redis_exceptions.AuthenticationError as exc:
            raise tried(describe(exc, params), attempt) from exc
        except (
            redis_exceptions.ConnectionError,
            redis_exceptions.TimeoutError,
            redis_exceptions.BusyLoadingError,
        ) as exc:
            described = describe(exc, params)
            # An untrusted server certificate does not get better by waiting. A failed handshake
            # might: a restarting server can reset connections that look just like a refused
            # client certificate.
            if attempt >= retries or described.kind == "tls_verify_failed":
                raise tried(described, attempt) from exc
        except redis_exceptions.ResponseError as exc:
            raise tried(describe(exc, params), attempt) from exc
        attempt += 1
        time.sleep(delay)


def login(params: dict[str, Any], passwords: list[str | None], what: str = "Redis") -> tuple[Any, int]:
    """A client authenticated with the first of passwords that the server accepts, and its index.

    A rotation passes the new and the old password, so that a rerun logs in whichever step the last
    run reached. Only a refused password moves on to the next; any other failure is final.
    """
    last_error: RedisCheckError | None = None
    for index, candidate in enumerate(passwords):
        client = make_client(dict(params, password=candidate))
        try:
            with_retries(client.ping, params["retries"], params["delay"], params)
        except RedisCheckError as exc:
            client.close()
            if exc.kind != "wrongpass":
                raise
            last_error = exc
            continue
        return client, index
    raise last_error or RedisCheckError("wrongpass", f"No login password given for {what} at {endpoint(params)}.")
