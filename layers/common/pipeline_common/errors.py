"""One error hierarchy for the pipeline: every error says whether a retry can help."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    transient: bool = False


class TransientError(PipelineError):
    """A retry may succeed (network, throttling, a database restarting)."""

    transient = True


class TerminalError(PipelineError):
    """A retry will fail the same way until someone fixes data or configuration."""

    transient = False


class ConfigError(TerminalError):
    """A setting is missing or invalid."""


class SecretError(TerminalError):
    """A secret is missing, unreadable or not of the expected shape."""


class DatabaseUnavailableError(TransientError):
    """The database could not be reached or dropped the connection."""


class ConcurrentRunError(TransientError):
    """Another run of the same stage holds the lock; this one did nothing."""


class TlsError(TerminalError):
    """A server's TLS falls short of the connection's sslmode (declined, or a certificate
    that fails verification), or it asked for a password over an unverified channel."""


class UnsafeIdentifierError(TerminalError, ValueError):
    """A name outside the SQL identifier allow-list (lower-case, at most 63 characters) was
    about to be spliced into SQL; the ValueError base is what callers caught before."""
