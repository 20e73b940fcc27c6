"""The modules' TLS options against a real redis-server with mutual TLS and test-made certificates."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import PROJECT, RunModule, StartRedis, free_port

PASSWORD = "tls-retry-test-password-0123456789abcdef"


def test_failed_handshakes_are_retried_and_untrusted_certificates_are_not(
    tmp_path: Path, start_redis: StartRedis, run_module: RunModule
) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(["sh", str(PROJECT / "molecule/shared/files/make-certs.sh"), str(certs), "localhost"], check=True)
    tls_port = free_port()
    start_redis(
        password=PASSWORD,
        extra_conf=(
            f"tls-port {tls_port}",
            f"tls-cert-file {certs / 'server.crt'}",
            f"tls-key-file {certs / 'server.key'}",
            f"tls-ca-cert-file {certs / 'ca.crt'}",
            "tls-auth-clients yes",
        ),
    )
    common: dict[str, object] = {"host": "127.0.0.1", "port": tls_port, "password": PASSWORD, "tls": True}
    client = {"tls_certfile": str(certs / "client.crt"), "tls_keyfile": str(certs / "client.key")}

    good = run_module(**common, **client, tls_ca_certs=str(certs / "ca.crt"))
    assert good.returncode == 0, good.output
    assert good.result["pong"] is True and good.result["auth_required"] is True

    # A refused handshake may be a restarting server: tried again, then reported.
    no_client_cert = run_module(**common, tls_ca_certs=str(certs / "ca.crt"), retries=2, delay=0.1)
    assert no_client_cert.returncode != 0
    assert no_client_cert.result["failure"] == "tls_error", no_client_cert.output
    assert no_client_cert.result["attempts"] == 3

    # A server certificate from another CA does not become trusted by waiting: reported at once.
    untrusted = run_module(**common, **client, tls_ca_certs=str(certs / "rogue-ca.crt"), retries=2, delay=0.1)
    assert untrusted.returncode != 0
    assert untrusted.result["failure"] == "tls_verify_failed", untrusted.output
    assert untrusted.result["attempts"] == 1
    assert PASSWORD not in no_client_cert.output + untrusted.output
