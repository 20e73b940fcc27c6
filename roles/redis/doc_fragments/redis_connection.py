# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the connection options every module of the redis role shares (module_utils/redis_connection.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
requirements:
  - redis-py (Debian C(python3-redis), installed by the role) on the host that runs the module
options:
  host:
    description: Host name or IP address of the Redis server. Ignored when O(unix_socket) is set.
    type: str
    default: 127.0.0.1
  port:
    description: TCP port of the Redis server.
    type: int
    default: 6379
  unix_socket:
    description: Path of the Redis unix socket; when set, it is used instead of O(host) and O(port).
    type: path
  username:
    description:
      - ACL user to authenticate as. Without it, Redis authenticates the C(default) user.
    type: str
  password:
    description:
      - Password to authenticate with. Leave it out to reach a server that runs without
        authentication (the guide's development-only mode).
      - Never shown in output (C(no_log)).
    type: str
  tls:
    description:
      - Connect with TLS. The server certificate is then always verified, against O(tls_ca_certs)
        or the system's CAs; there is no option to skip that.
    type: bool
    default: false
  tls_ca_certs:
    description: CA certificate (PEM) to verify the server certificate with.
    type: path
  tls_certfile:
    description: Client certificate (PEM) for servers that require one (mutual TLS).
    type: path
  tls_keyfile:
    description: Key of O(tls_certfile).
    type: path
  tls_check_hostname:
    description: Check that the server certificate names O(host). Only with O(tls=true).
    type: bool
    default: true
  connect_timeout:
    description: Seconds to wait for a connection and for each reply.
    type: float
    default: 5.0
  retries:
    description:
      - How many more times to try while the server refuses connections, times out, fails the TLS
        handshake (a restarting server resets connections) or is still loading its dataset, for
        example just after a restart. Authentication errors and untrusted server certificates are
        never retried.
    type: int
    default: 3
  delay:
    description: Seconds between two tries.
    type: float
    default: 1.0
"""
