"""libpq's sslmode for the pipeline's Postgres connections: which TLS a connection demands.

The modes and their meaning are libpq's (https://www.postgresql.org/docs/current/libpq-ssl.html,
"SSL Mode Descriptions"): `disable` never asks for TLS; `prefer` uses it when the server
offers it, unverified; `require` refuses a server that declines it, still unverified;
`verify-ca` also checks the certificate chain against the CA bundle (`sslrootcert`);
`verify-full` also checks that the certificate names the host connected to. libpq's `allow`
(plain text first, TLS only if the server insists) is refused: nothing here should want it.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from pipeline_common.errors import ConfigError

SslMode = Literal["disable", "prefer", "require", "verify-ca", "verify-full"]
SSLMODES: tuple[SslMode, ...] = ("disable", "prefer", "require", "verify-ca", "verify-full")

# Where `sam build` finds the CA bundle the user saves before building (docs/deploy.md): the
# common layer's build copies this directory, so a Lambda reads it from /opt/python/.
DEFAULT_ROOT_CERT = Path(__file__).parent / "certs" / "root.crt"


@dataclass(frozen=True)
class TlsPolicy:
    """One connection's sslmode and, under verify-*, the context that checks the server."""

    mode: SslMode
    context: ssl.SSLContext | None = None

    @property
    def verified(self) -> bool:
        """Whether the server's certificate is checked (only then may a password cross)."""
        return self.mode in ("verify-ca", "verify-full")


def parse_sslmode(value: str) -> SslMode:
    """An sslmode as libpq spells it; anything else is a configuration error."""
    if value not in SSLMODES:
        raise ConfigError(f"sslmode {value!r} is not one of {', '.join(SSLMODES)}")
    return cast(SslMode, value)


def tls_policy(sslmode: str, sslrootcert: str = "") -> TlsPolicy:
    """Check the mode and, under verify-*, load the CA bundle now: a missing bundle is a
    start-up error, never a silent downgrade to an unverified connection.

    `sslrootcert` is a PEM file's path (empty: the bundle baked into the common layer), or
    `system` for the platform's trust store, as libpq 16 reads it.
    """
    mode = parse_sslmode(sslmode)
    if mode not in ("verify-ca", "verify-full"):
        return TlsPolicy(mode)
    return TlsPolicy(mode, _verifying_context(mode, sslrootcert or str(DEFAULT_ROOT_CERT)))


@functools.cache
def _verifying_context(mode: SslMode, cafile: str) -> ssl.SSLContext:
    """A context that checks the chain against `cafile` (and, for verify-full, the name);
    built once per process and bundle, as loading a bundle costs milliseconds of CPU."""
    if cafile == "system":
        context = ssl.create_default_context()
    else:
        if not Path(cafile).is_file():
            raise ConfigError(
                f"sslmode={mode} needs a CA bundle, and {cafile} does not exist "
                "(docs/deploy.md: the database's CA bundle, and how to hand it over)"
            )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_verify_locations(cafile=cafile)
        except ssl.SSLError as exc:
            raise ConfigError(f"CA bundle {cafile} holds no readable certificate") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = mode == "verify-full"
    return context


@functools.cache
def unverified_context() -> ssl.SSLContext:
    """prefer's and require's context: encrypts, verifies neither the certificate nor the
    name (libpq's meaning); built once per process and only when a server accepts TLS."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
