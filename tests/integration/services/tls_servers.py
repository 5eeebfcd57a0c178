"""Servers for the TLS matrix: a real Postgres with ssl=on and a certificate from a CA made
here with openssl, and a rogue server that presents a foreign certificate and asks for a
password in cleartext (or MD5), recording every message it receives."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import ssl
import struct
import subprocess  # nosec B404 - the test's own openssl and pg_ctl, fixed argv
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_bin() -> Path | None:
    """The newest installed Postgres's bin directory holding initdb and pg_ctl, if any."""
    for directory in PG_BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def _run(*argv: str | Path, cwd: Path | None = None, user: str | None = None) -> None:
    command = [str(a) for a in argv]
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)  # nosec B603


@dataclass(frozen=True)
class Pki:
    """Two CAs: `ca` signed the server's certificate (DNS:localhost only), `foreign` the
    rogue's."""

    ca: Path
    server_cert: Path
    server_key: Path
    foreign_ca: Path
    foreign_cert: Path
    foreign_key: Path


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-keyout", key, "-out", cert)  # fmt: skip
    return cert, key


def _make_leaf(directory: Path, name: str, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    ext = directory / f"{name}.ext"
    ext.write_text("subjectAltName = DNS:localhost\n")
    _run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-keyout", key, "-out", csr)  # fmt: skip
    _run("openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
         "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert)  # fmt: skip
    return cert, key


def make_pki(directory: Path) -> Pki:
    """Both CAs and a localhost certificate from each (openssl must be installed)."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not installed (.ci/run installs it)")
    ca = _make_ca(directory, "test-ca")
    foreign = _make_ca(directory, "foreign-ca")
    server = _make_leaf(directory, "server", ca)
    rogue = _make_leaf(directory, "rogue", foreign)
    return Pki(ca[0], server[0], server[1], foreign[0], rogue[0], rogue[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class TlsPostgres:
    """A running ssl=on Postgres on 127.0.0.1: `scram_user` and `cleartext_user` (hba
    `password`) authenticate with `password`; unix-socket connections are trusted."""

    port: int
    socket_dir: Path
    password: str = "s3cret/with@signs"
    scram_user: str = "scram_user"
    cleartext_user: str = "cleartext_user"


@contextmanager
def tls_postgres(bin_dir: Path, pki: Pki) -> Iterator[TlsPostgres]:
    """initdb, certificates and hba for TLS, pg_ctl start; stopped and removed on exit.
    As root, the server runs as the `postgres` user (initdb refuses root)."""
    user = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="tls-pg-"))
    data = base / "data"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    _run(bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", user=user)
    for source, name in ((pki.server_cert, "server.crt"), (pki.server_key, "server.key")):
        shutil.copy(source, data / name)
        os.chmod(data / name, 0o600)
        if user is not None:
            os.chown(data / name, entry.pw_uid, entry.pw_gid)
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "hostssl all cleartext_user 127.0.0.1/32 password\n"
        "hostssl all all 127.0.0.1/32 scram-sha-256\n"
    )
    port = free_port()
    server = TlsPostgres(port=port, socket_dir=data)
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{data}'\nssl = on\n"
            "fsync = off\nshared_buffers = 16MB\nmax_connections = 20\n"
        )
    _run(bin_dir / "pg_ctl", "-D", data, "-w", "-l", data / "log", "start", user=user)
    try:
        sql = (
            f"CREATE ROLE {server.scram_user} LOGIN PASSWORD '{server.password}';"
            f"CREATE ROLE {server.cleartext_user} LOGIN PASSWORD '{server.password}';"
        )
        _run(bin_dir / "psql", "-h", data, "-p", str(port), "-U", "postgres",
             "-d", "postgres", "-c", sql, user=user)  # fmt: skip
        yield server
    finally:
        _run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop", user=user)
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class RogueServer:
    """Answers the SSLRequest with `answer`; after "S", a TLS handshake with the foreign
    certificate; then asks for a password (`auth_code` 3: cleartext, 5: MD5) and records
    the type byte of every message the client sends after its startup message."""

    pki: Pki
    answer: bytes = b"S"
    auth_code: int = 3
    port: int = 0
    received: list[bytes] = field(default_factory=list)
    connections: int = 0
    _listener: socket.socket | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> RogueServer:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(10)
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Wait until the one connection is over, so `received` is complete."""
        assert self._listener is not None and self._thread is not None
        self._thread.join(timeout=15)
        self._listener.close()

    def _serve(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        self.connections += 1
        conn.settimeout(5)
        try:
            self._talk(conn)
        except (OSError, ssl.SSLError, struct.error):
            pass  # the client hung up, which is what a refusing client does
        finally:
            conn.close()

    def _talk(self, conn: socket.socket) -> None:
        assert _recv_exact(conn, 8) == struct.pack("!ii", 8, 80877103)
        conn.sendall(self.answer)
        if self.answer != b"S":
            return
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.foreign_cert, self.pki.foreign_key)
        tls = context.wrap_socket(conn, server_side=True)
        (length,) = struct.unpack("!i", _recv_exact(tls, 4))
        _recv_exact(tls, length - 4)  # the startup message (user, database)
        request = struct.pack("!i", self.auth_code) + (b"salt" if self.auth_code == 5 else b"")
        tls.sendall(b"R" + struct.pack("!i", 4 + len(request)) + request)
        while True:
            kind = tls.recv(1)
            if not kind:
                return
            self.received.append(kind)
            (length,) = struct.unpack("!i", _recv_exact(tls, 4))
            _recv_exact(tls, length - 4)


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("peer closed")
        data += chunk
    return data
