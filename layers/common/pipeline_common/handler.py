"""The one error boundary of both handlers: init guarded, every failure logged and counted.

Both functions are invoked asynchronously (EventBridge Scheduler and rules), and Lambda
retries an asynchronous invocation whose function returns an error: "If the function
returns an error, by default Lambda attempts to run it two more times ... Function errors
include errors returned by the function's code and errors returned by the function's
runtime" (AWS Lambda Developer Guide, "How Lambda handles errors and retries with
asynchronous invocation",
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). Only an
invocation that ends without a function error is not retried, so:

- a transient error (or any exception the pipeline did not classify) is logged, counted as
  `<Stage>Failed` and raised again: Lambda retries it up to the template's
  MaximumRetryAttempts, then sends the event to its OnFailure destination;
- a terminal error (`PipelineError.transient` False) is logged at ERROR, counted, and the
  invocation returns a failure body instead of raising, so it uses up no retry. Nothing is
  lost: each event only says *when*; the work is found from the bucket's or the warehouse's
  state. Lambda's `Errors` metric no longer sees it, so `<Stage>FailedAlarm` watches the
  count (docs/adr/0012-terminal-errors-not-retried.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pipeline_common.errors import PipelineError
from pipeline_common.redact import describe_database_error

T = TypeVar("T")
S = TypeVar("S")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

MESSAGE_LIMIT = 1000
"""Longest message a failure body carries (the logs hold the rest)."""


def is_transient(error: BaseException) -> bool:
    """Whether a retry may help: a PipelineError says; anything else is assumed to."""
    return error.transient if isinstance(error, PipelineError) else True


@dataclass(frozen=True)
class Resources(Generic[S]):
    """What a handler module makes once per container: its settings and its AWS clients."""

    settings: S
    s3: Any
    secretsmanager: Any


class InitGuard(Generic[T]):
    """What a handler module built at init, or the error building it raised.

    Lambda reports an error of the init phase with a bare traceback and no metric; caught
    here, it is logged through Powertools, then raised at every invocation of the container,
    inside the handler's error boundary, so it is counted like any other failure.
    """

    def __init__(self, build: Callable[[], T], *, logger: Logger) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._traceback: TracebackType | None = None
        try:
            self._value = build()
        except Exception as exc:  # kept, and raised at every invocation
            logger.exception(
                "configuration error at init",
                extra={"error": type(exc).__name__, "transient": is_transient(exc)},
            )
            self._error, self._traceback = exc, exc.__traceback__

    def get(self) -> T:
        """The value built at init; the init's error again if there is none."""
        if self._error is not None:
            raise self._error.with_traceback(self._traceback)  # init's traceback, not grown
        return self._value  # type: ignore[return-value]


def init_guard(build: Callable[[], T], *, logger: Logger) -> InitGuard[T]:
    """Build a handler's settings and clients at import, keeping any error for the handler."""
    return InitGuard(build, logger=logger)


class FailureResponse(dict[str, Any]):
    """A terminal failure's response body; in process (the local runtime), also its error.

    The body is what Lambda returns (plain JSON); `error` never leaves the process.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(
            status="failed",
            error=type(error).__name__,
            transient=False,
            message=describe_error(error),
        )
        self.error = error


def describe_error(error: BaseException) -> str:
    """One line about the error without row data or secrets (pipeline_common.redact)."""
    if error.args and isinstance(error.args[0], dict):  # a pg8000 DatabaseError's fields
        text = describe_database_error(error)  # type: ignore[arg-type]
    else:
        text = " ".join(str(error).split()) or type(error).__name__
    return text[:MESSAGE_LIMIT]


def count_failure(metrics: Metrics, name: str, error: BaseException | None) -> None:
    """`<Stage>Failed` on the handler's metrics (its namespace, dimension `service`, as the
    alarm names): 1 with the error's class and retry class as properties, 0 on a success."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=0 if error is None else 1)
    if error is not None:
        metrics.add_metadata(key="error", value=type(error).__name__)
        metrics.add_metadata(key="transient", value=str(is_transient(error)).lower())


def pipeline_handler(
    stage: str, *, logger: Logger, metrics: Metrics
) -> Callable[[Handler], Handler]:
    """The handler's error boundary: log and count `<stage>Failed`; re-raise a transient
    error (Lambda retries it), return a failure body for a terminal one (no retry).

    Goes under `@metrics.log_metrics`, which publishes the count whether the handler
    returns or raises.
    """
    metric = f"{stage}Failed"

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(event: dict[str, Any], context: Any) -> dict[str, Any]:
            try:
                response = handler(event, context)
            except Exception as exc:
                transient = is_transient(exc)
                extra = {"error": type(exc).__name__, "transient": transient}
                count_failure(metrics, metric, exc)
                if transient:
                    logger.exception(f"{stage} failed (transient, raised)", extra=extra)
                    raise
                logger.exception(f"{stage} failed (terminal, not retried)", extra=extra)
                return FailureResponse(exc)
            count_failure(metrics, metric, None)
            return response

        return wrapper

    return decorate
