"""Invoke a function folder's real `app.lambda_handler` in this process, as Lambda would.

Lambda puts the function's folder and its layers on the import path and imports `app`
once per container; here each function's `app.py` is imported under its own module name
(both functions name their handler module `app`), after the environment is set.

`invoke_async` invokes as an asynchronous invocation runs: a raised error is retried up to
the function's `EventInvokeConfig.MaximumRetryAttempts` in template.yaml (at once, where
Lambda waits one, then two minutes), and a returned terminal failure body
(pipeline_common.handler) is a failure too, raised so the runner reports it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local.cfn import load_template, resources_of_type

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_PATHS = (REPO_ROOT / "layers" / "common",)
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
"""Lambda's default for an asynchronous invocation without EventInvokeConfig."""

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    timeout_ms: int = 900_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-2:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def _ensure_on_path(path: Path) -> None:
    text = str(path)
    if text not in sys.path:
        sys.path.insert(0, text)


def ensure_layers_on_path() -> None:
    """The shared layer importable, as Lambda's /opt/python is (the runner reads its errors)."""
    for path in LAYER_PATHS:
        _ensure_on_path(path)


ensure_layers_on_path()

from pipeline_common.errors import TerminalError  # noqa: E402 - needs the layer on sys.path


def load_handler(function_dir: str) -> Handler:
    """Import `<function_dir>/app.py` (layers and the folder on sys.path) and return its handler."""
    folder = REPO_ROOT / function_dir
    ensure_layers_on_path()
    _ensure_on_path(folder)
    module_name = f"{function_dir.replace('/', '_')}_app"  # e.g. ingest_fn_app
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, folder / "app.py")
        if spec is None or spec.loader is None:
            raise ImportError(f"{folder / 'app.py'} cannot be imported")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    return module.lambda_handler  # type: ignore[no-any-return]


class FunctionFailedError(TerminalError):
    """An invocation that returned a terminal failure body: Lambda records no error and does
    not retry it, but the stage failed, and the local runner says so."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(
            f"{body.get('message') or body.get('error')} "
            f"[{body.get('error')}, terminal: not retried]"
        )
        self.body = body


@functools.cache
def _template(path: Path, mtime_ns: int) -> dict[str, Any]:
    del mtime_ns  # part of the cache key only: an edited template is read again
    return load_template(path)


def maximum_retry_attempts(template_path: Path, function_dir: str) -> int:
    """The retries Lambda gives a failed asynchronous invocation of the function whose
    CodeUri is `function_dir`: its EventInvokeConfig's MaximumRetryAttempts (default 2)."""
    path = Path(template_path)
    template = _template(path, path.stat().st_mtime_ns)
    for resource in resources_of_type(template, "AWS::Serverless::Function").values():
        props = resource.get("Properties") or {}
        if str(props.get("CodeUri", "")).rstrip("/") == function_dir.rstrip("/"):
            config = props.get("EventInvokeConfig") or {}
            return int(config.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS))
    raise KeyError(f"{template_path} has no function with CodeUri {function_dir}")


def invoke_async(
    handler: Handler,
    event: dict[str, Any],
    context: Any,
    retries: int,
    on_retry: Callable[[int, Exception], None] | None = None,
) -> Any:
    """Invoke, retrying a raised error up to `retries` times as Lambda does; a response
    with `"status": "failed"` is raised as FunctionFailedError (from the error, in process)."""
    for attempt in range(retries + 1):
        try:
            response = handler(event, context)
        except Exception as exc:
            if attempt == retries:
                raise
            if on_retry is not None:
                on_retry(attempt + 1, exc)
            continue
        if isinstance(response, dict) and response.get("status") == "failed":
            raise FunctionFailedError(response) from getattr(response, "error", None)
        return response
    raise AssertionError("unreachable: the last attempt returns or raises")


def unload_handlers() -> None:
    """Forget imported handler modules: the next invocation is a cold start (new container).

    Handlers make their clients at import, bound to the endpoint of that moment; a new local
    AWS (another moto port) needs new clients, as a new Lambda container would make.
    """
    for name in [n for n in sys.modules if n.endswith("_fn_app")]:
        del sys.modules[name]


@contextlib.contextmanager
def logs_routed_to(stream: IO[str]) -> Iterator[None]:
    """Send every stdout log handler (Powertools' JSON logs) to a file for a block.

    The CLI's stdout carries its summary; the handlers' logs stay readable in --state-dir.
    A Powertools logger outlives the handler module that made it (a re-import finds it
    configured and keeps its handler), so its handler is rerouted wherever it points, and
    pointed back afterwards: else it would keep this pipeline's log file, closed once the
    pipeline is, and the next user of the logger would write to (or flush) a closed file.
    """
    std_streams = (sys.stdout, sys.__stdout__, sys.stderr, sys.__stderr__)
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    moved: list[tuple[logging.StreamHandler[Any], Any]] = []
    for logger in loggers:
        powertools_handler = getattr(logger, "powertools_handler", None)
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and (
                handler is powertools_handler or handler.stream in std_streams
            ):
                moved.append((handler, handler.stream))
                _point(handler, stream)
    try:
        yield
    finally:
        for handler, previous in reversed(moved):
            _point(handler, sys.stdout if getattr(previous, "closed", False) else previous)


def _point(handler: logging.StreamHandler[Any], stream: Any) -> None:
    if getattr(handler.stream, "closed", False):
        handler.stream = stream  # setStream would flush the closed file first
    else:
        handler.setStream(stream)
