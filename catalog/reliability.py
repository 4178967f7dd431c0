"""Fault tolerance for remote reads: retries with backoff, GDAL HTTP options, token hygiene.

Three failure surfaces, one policy (:class:`RetryPolicy`):

* STAC API requests (pystac-client): :func:`with_retries` re-runs a whole operation on
  HTTP 5xx/429, connection errors, timeouts and truncated or invalid JSON, with
  exponential backoff, and ends with a :class:`RetryError` naming what failed.
* COG reads (GDAL ``/vsicurl/`` under odc-stac): GDAL retries each HTTP request itself
  (:meth:`RetryPolicy.gdal_options`). A read that still fails surfaces at compute time as
  a bare rasterio error ("HTTP response code: 503", no href); odc-loader logs the href
  ("Failed to load <uri>:<band> ..." / "Ignoring read failure reading <uri>:<band> ...")
  on the logger ``odc.loader._rio``. :class:`ReadFailureLog` captures those records, and
  :func:`asset_read_error` / :func:`skipped_assets` map them back to item id + asset key.
* Signed URLs (SAS ``se=``/``sig=``, presigned ``X-Amz-*``...) must never reach
  provenance, logs or error messages: :func:`strip_token` drops query and fragment of an
  href, :func:`redact` cleans free text, and :func:`protect_logs` installs a log-record
  factory that redacts every log message carrying a signature (GDAL's retry warnings and
  rasterio's debug messages include the full signed URL).

This module must not import ``pipeline`` (the pipeline imports the catalog).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from catalog.errors import SdgcubeError

log = logging.getLogger(__name__)

T = TypeVar("T")

ODC_READ_LOGGER = "odc.loader._rio"


# ---------------------------------------------------------------- errors


class RetryError(SdgcubeError, LookupError):
    """An operation that kept failing transiently until the retry policy gave up.

    A LookupError (like NoItemsFound) so the CLI reports it as a user-facing error.
    """

    def __init__(self, what: str, attempts: int, reason: str, last_error: BaseException | None = None):
        self.what, self.attempts, self.reason, self.last_error = what, attempts, reason, last_error
        plural = "attempt" if attempts == 1 else "attempts"
        super().__init__(f"{what}: {attempts} {plural} failed, last: {reason}")


class AssetReadError(SdgcubeError, LookupError):
    """An asset of an input item that could not be read (the message names item, asset and href)."""

    def __init__(self, message: str, *, input_name: str | None = None, item_id: str | None = None,
                 asset: str | None = None, href: str | None = None, reason: str = ""):
        super().__init__(message)
        self.input_name, self.item_id, self.asset, self.href, self.reason = input_name, item_id, asset, href, reason


# ---------------------------------------------------------------- policy


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``attempts`` in all (1 = no retry), delays ``base_delay * 2**k`` capped
    at ``max_delay`` and shortened by up to ``jitter`` (a fraction) drawn from a generator
    seeded with ``seed`` (deterministic; ``jitter=0`` for none); ``timeout`` per read of a request, s;
    ``deadline`` for one attempt whole and ``total_deadline`` for all attempts, s (a server that trickles
    a byte every few seconds never trips a read timeout). COG reads get ``timeout`` as GDAL's whole-transfer
    limit (``GDAL_HTTP_TIMEOUT`` is curl's overall timeout)."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    timeout: float = 30.0
    jitter: float = 0.25
    seed: int = 0
    deadline: float = 120.0  # one attempt as a whole (a search with all its pages): a trickle cannot outlast it
    total_deadline: float = 600.0  # the operation with all its retries

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"attempts must be an integer >= 1; got {self.attempts!r}")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError(f"need 0 <= base_delay <= max_delay; got {self.base_delay}, {self.max_delay}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 s; got {self.timeout}")
        if not (self.deadline > 0 and self.total_deadline >= self.deadline):
            raise ValueError(f"need 0 < deadline <= total_deadline; got {self.deadline}, {self.total_deadline}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be within 0..1; got {self.jitter}")

    def delays(self) -> list[float]:
        """Seconds to wait before attempt 2, 3, ..., ``attempts`` (deterministic)."""
        rng = random.Random(self.seed)
        out = []
        for k in range(self.attempts - 1):
            delay = min(self.max_delay, self.base_delay * 2.0 ** k)
            out.append(delay * (1.0 - self.jitter * rng.random()))
        return out

    def gdal_options(self) -> dict[str, str]:
        """GDAL configuration for COG reads over HTTP (for ``rasterio.Env(**...)`` around
        ``odc.stac.load``, which captures it into the graph, or ``odc.stac.configure_rio``).

        GDAL retries HTTP 429/500/502/503/504, timeouts and connection resets itself, with
        its own exponential backoff starting at ``GDAL_HTTP_RETRY_DELAY``; its timeouts are
        whole seconds.
        """
        seconds = str(max(1, math.ceil(self.timeout)))
        return {
            "GDAL_HTTP_MAX_RETRY": str(self.attempts - 1),
            "GDAL_HTTP_RETRY_DELAY": f"{max(self.base_delay, 0.001):g}",
            "GDAL_HTTP_TIMEOUT": seconds,
            "GDAL_HTTP_CONNECTTIMEOUT": seconds,
            # a COG needs no sidecar files: never list directories or probe .aux.xml/.ovr
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        }


DEFAULT_POLICY = RetryPolicy()


def clear_http_cache() -> bool:
    """Forget what GDAL's /vsicurl/ remembers about URLs (sizes, blocks, and failures).

    GDAL caches a URL that failed for the life of the process: a later open of it fails at
    once, without a request, even after the server recovered. Call between runs (not while
    reads are in flight). rasterio does not expose ``VSICurlClearCache``, so it is called
    through ctypes on the GDAL library rasterio loaded; returns False where it cannot be found.
    """
    global _clear_cache
    if _clear_cache is _UNRESOLVED:
        _clear_cache = _find_clear_cache()
    if _clear_cache is None:
        return False
    _clear_cache()
    return True


_UNRESOLVED: Any = object()
_clear_cache: Any = _UNRESOLVED


def _find_clear_cache() -> Callable[[], None] | None:
    import ctypes
    import ctypes.util
    from pathlib import Path

    try:
        import rasterio
    except ImportError:
        return None
    package = Path(rasterio.__file__).parent
    wheel_libs = package.parent / "rasterio.libs"  # manylinux/Windows wheels; macOS: rasterio/.dylibs
    candidates = [*sorted(wheel_libs.glob("libgdal*")), *sorted(wheel_libs.glob("gdal*.dll")),
                  *sorted((package / ".dylibs").glob("libgdal*"))]
    system = ctypes.util.find_library("gdal")
    if system:
        candidates.append(Path(system))
    for path in candidates:
        try:
            function = ctypes.CDLL(str(path)).VSICurlClearCache
        except (OSError, AttributeError):
            continue
        function.restype = None
        return function
    return None


# ---------------------------------------------------------------- tokens


# query parameters that carry credentials: Azure SAS, AWS SigV4/presigned, GCS, CloudFront, OAuth
_SECRET_PARAM = re.compile(
    r"(?i)(?<![A-Za-z0-9_-])(sig|se|st|sv|sp|sr|spr|srt|ss|skoid|sktid|skt|ske|sks|skv|"
    r"x-amz-[a-z-]+|x-goog-[a-z-]+|awsaccesskeyid|signature|expires|policy|key-pair-id|"
    r"access_token|token)=[^&#\s'\"<>)]*")
_URL = re.compile(r"(?i)\b(?:https?|s3|gs|az|abfss?|wasbs?|file)://[^\s'\"<>]*[^\s'\"<>.,;:!?)]")
# user-info in a URL (``scheme://user:password@host``): a credential wherever it is printed
# (a password may hold "/", as AWS secret keys do: only the user name may not)
_USERINFO = re.compile(r"(?i)\b((?:https?|s3|gs|az|abfss?|wasbs?|file|ftps?)://)[^/\s'\"<>@:]+(?::[^\s'\"<>@]*)?@")


def strip_token(href: str) -> str:
    """The href without user-info, query string or fragment (where credentials and signatures live)."""
    parts = urlsplit(href)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# credentials outside URLs: HTTP auth headers (as printed, or in a dict's repr), AWS key ids, and
# ``name=value`` / ``name: value`` settings of secret keys, session tokens and passwords
_HEADER = re.compile(r"(?i)\b(proxy-authorization|authorization|x-api-key|api-key|apikey|ocp-apim-subscription-key)"
                     r"(['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic|token|sas)\s+)?[^\s'\",}]+")
_KEY_SETTING = re.compile(r"(?i)\b(aws_secret_access_key|aws_session_token|aws_access_key_id|secret_access_key|"
                          r"secret_key|session_token|client_secret|password|passwd)(['\"]?\s*[:=]\s*['\"]?)"
                          r"[^\s'\",}&]+")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")


def has_secret(text: str) -> bool:
    return bool(_SECRET_PARAM.search(text) or _USERINFO.search(text) or _HEADER.search(text)
                or _KEY_SETTING.search(text) or _AWS_KEY_ID.search(text))


def redact(text: str) -> str:
    """``text`` with URL user-info removed, every URL's query/fragment removed if it carries a
    credential, and any remaining credential-like ``key=value``, auth header value, secret-key
    setting or AWS access key id replaced by ``<redacted>``."""
    if not has_secret(text):
        return text
    text = _USERINFO.sub(r"\1", text)
    text = _URL.sub(lambda m: strip_token(m.group(0)) if has_secret(m.group(0)) else m.group(0), text)
    text = _HEADER.sub(r"\1\2<redacted>", text)
    text = _KEY_SETTING.sub(r"\1\2<redacted>", text)
    text = _AWS_KEY_ID.sub("<redacted>", text)
    return _SECRET_PARAM.sub("<redacted>", text)


_factory_lock = threading.Lock()
_factory_installed = False


def protect_logs() -> None:
    """Redact credentials from every log record of this process (idempotent).

    A log-record factory, not a filter: filters attach to one logger each, and the
    signed URLs come from many (rasterio._env, rasterio._base, odc.loader._rio, ...).
    Records without a credential are left untouched.
    """
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a broken format string is the caller's problem, not ours
                return record
            if has_secret(message):
                record.msg, record.args = redact(message), None
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


# ---------------------------------------------------------------- retries


class DeadlineExceeded(TimeoutError):
    """One attempt took longer than its deadline as a whole (retried like any timeout)."""


def with_deadline(fn: Callable[[], T], seconds: float, what: str) -> T:
    """``fn()`` in a worker thread, given up after ``seconds``: the stalled request is left to its own read
    timeout in that (daemon) thread, the caller moves on."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"deadline: {what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DeadlineExceeded(f"{redact(what)} took longer than its deadline of {seconds:g} s (a stalled or very "
                               "slow server)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def transient_reason(exc: BaseException) -> str | None:
    """A short reason if ``exc`` is worth retrying (5xx/429, timeout, connection, bad JSON), else None."""
    for err in _chain(exc):
        status = _status(err)
        if status is not None:
            return f"HTTP {status}" if status >= 500 or status == 429 else None
        name = type(err).__name__
        module = type(err).__module__ or ""
        text = redact(str(err))
        if isinstance(err, json.JSONDecodeError):
            return f"truncated or invalid JSON ({err.msg} at char {err.pos})"
        if isinstance(err, TimeoutError) or "Timeout" in name:
            return f"timeout: {text}" if text else "timeout"
        if module.startswith(("requests", "urllib3")) and name in (
                "ConnectionError", "ChunkedEncodingError", "ProtocolError", "IncompleteRead",
                "ContentDecodingError", "NewConnectionError", "MaxRetryError", "ReadTimeoutError"):
            return f"connection error: {text}"
        if isinstance(err, (ConnectionError, EOFError)) or name in ("RemoteDisconnected", "IncompleteRead"):
            return f"connection error: {text or name}"
        if module.startswith("urllib") and name == "URLError":
            return f"connection error: {text}"
    return None


def _status(err: BaseException) -> int | None:
    """HTTP status of an HTTP error (pystac-client APIError, urllib HTTPError, requests HTTPError)."""
    for attr in ("status_code", "code", "status"):
        value = getattr(err, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(err, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes/contexts (pystac-client wraps requests errors in APIError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def with_retries(fn: Callable[[], T], policy: RetryPolicy, what: str, *,
                 retry_on: Callable[[BaseException], str | None] = transient_reason,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, retried per ``policy`` while ``retry_on(exc)`` gives a reason; other errors
    propagate at once. Gives up with a RetryError: "<what>: N attempts failed, last: <reason>"."""
    delays = policy.delays()
    start = time.monotonic()
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except Exception as exc:  # classified below
            reason = retry_on(exc)
            if reason is None:
                raise
            if attempt == policy.attempts:
                raise RetryError(redact(what), attempt, reason, last_error=exc) from None
            delay = delays[attempt - 1]
            if time.monotonic() - start + delay > policy.total_deadline:
                raise RetryError(redact(what), attempt, f"{reason}; gave up at the total deadline of "
                                 f"{policy.total_deadline:g} s", last_error=exc) from None
            log.warning("%s: attempt %d/%d failed (%s); retrying in %.2f s", redact(what), attempt,
                        policy.attempts, reason, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------- COG read failures


@dataclass(frozen=True)
class ReadFailure:
    """One failed read reported by odc-loader; ``uri`` is the raw (possibly signed) href and
    stays in memory only: use ``href`` (token stripped) and ``reason`` (redacted) for output."""

    uri: str = field(repr=False)
    band: int
    reason: str
    skipped: bool  # True: odc-loader continued with nodata (fail_on_error=False)

    @property
    def href(self) -> str:
        return strip_token(self.uri)


_ODC_FAILURE = re.compile(
    # the ":<band>" suffix is lost when a redactor strips the query string it was appended to
    r"^(?:Failed to load (?P<uri>.+?)(?::(?P<band>\d+))? due to rasterio error: '(?P<reason>.*)'"
    r"|Ignoring read failure reading (?P<uri2>.+?)(?::(?P<band2>\d+))? \(reason: '(?P<reason2>.*)'\))$", re.DOTALL)


class ReadFailureLog(logging.Filter):
    """Collects odc-loader's read-failure records (thread-safe: dask tasks run in threads).

    Attach with :func:`capture_read_failures`. The records themselves are dropped: the
    pipeline reports them itself, naming item and asset, with the token stripped. Records
    may arrive already redacted (by :func:`protect_logs` or another filter), so the uri is
    taken from the arguments when they are intact and parsed from the message otherwise.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._failures: list[ReadFailure] = []

    def filter(self, record: logging.LogRecord) -> bool:
        failure = self._parse(record)
        if failure is None:
            return True
        with self._lock:
            if failure not in self._failures:
                self._failures.append(failure)
        return False

    @staticmethod
    def _parse(record: logging.LogRecord) -> ReadFailure | None:
        skipped = record.levelno < logging.ERROR
        args = record.args if isinstance(record.args, tuple) else ()
        uri: str
        band: int
        if len(args) == 3 and isinstance(args[0], str) and isinstance(args[1], int):
            uri, band, reason = args[0], args[1], args[2]
        else:
            try:
                found = _ODC_FAILURE.match(record.getMessage())
            except Exception:  # noqa: BLE001 - not ours to judge
                return None
            if found is None:
                return None
            uri = found.group("uri") or found.group("uri2")
            band = int(found.group("band") or found.group("band2") or 0)
            reason = found.group("reason") if found.group("uri") else found.group("reason2")
        return ReadFailure(uri=uri, band=int(band), reason=_gdal_reason(redact(str(reason))), skipped=skipped)

    @property
    def failures(self) -> list[ReadFailure]:
        with self._lock:
            return list(self._failures)

    def take(self) -> list[ReadFailure]:
        """The failures collected so far, forgotten here (a worker hands them to each run once)."""
        with self._lock:
            found, self._failures = self._failures, []
        return found


def _gdal_reason(text: str) -> str:
    """GDAL's HTTP failure text, shortened: "HTTP response code: 503 - Failure writing output
    to destination, passed 25 returned 0" (curl aborting the error body) -> "HTTP 503"."""
    found = re.match(r"HTTP response code: (\d{3})\b", text)
    return f"HTTP {found.group(1)}" if found else text


_watching: ReadFailureLog | None = None


def watch_read_failures() -> ReadFailureLog:
    """This process's lasting collector of odc-loader read failures (a Dask worker's: its tasks run
    outside any run's ``capture_read_failures``); attached once, however often it is asked for."""
    global _watching
    if _watching is None:
        protect_logs()
        _watching = ReadFailureLog()
        logging.getLogger(ODC_READ_LOGGER).addFilter(_watching)
    return _watching


@contextmanager
def capture_read_failures() -> Iterator[ReadFailureLog]:
    """Collect odc-loader read failures raised while the block runs (compute time)."""
    protect_logs()
    logger = logging.getLogger(ODC_READ_LOGGER)
    collector = ReadFailureLog()
    logger.addFilter(collector)
    try:
        yield collector
    finally:
        logger.removeFilter(collector)


@dataclass(frozen=True)
class AssetRef:
    input_name: str
    item_id: str
    asset: str
    href: str  # token stripped


class AssetIndex:
    """Which (input, item, asset) an href belongs to, for the items of one run."""

    def __init__(self, inputs: Iterable[tuple[str, Iterable[Any]]]):
        """``inputs``: (input name, its pystac items); every asset of every item is indexed."""
        self._exact: dict[str, AssetRef] = {}
        self._stripped: dict[str, list[AssetRef]] = {}
        for input_name, items in inputs:
            for item in items:
                for key, asset in item.assets.items():
                    ref = AssetRef(input_name, item.id, key, strip_token(asset.href))
                    self._exact.setdefault(asset.href, ref)
                    self._stripped.setdefault(ref.href, []).append(ref)

    def lookup(self, uri: str) -> AssetRef | None:
        uri = uri.removeprefix("/vsicurl/")
        if uri in self._exact:
            return self._exact[uri]
        refs = self._stripped.get(strip_token(uri), [])
        return refs[0] if len(refs) == 1 else None

    def find_in(self, text: str) -> AssetRef | None:
        """The asset whose href occurs in ``text`` (longest match), if any."""
        found = [(len(h), ref) for h, ref in self._exact.items() if h in text]
        found += [(len(h), refs[0]) for h, refs in self._stripped.items() if len(refs) == 1 and h in text]
        return max(found, key=lambda pair: pair[0])[1] if found else None


def _retried(reason: str) -> bool:
    text = reason.lower()
    return bool(re.search(r"http( (response|error) code:)? ?(0|429|5\d\d)\b", text)
                or "timed out" in text or "timeout" in text or "connection" in text)


def describe_failure(ref: AssetRef, reason: str, policy: RetryPolicy) -> str:
    tries = f" after {policy.attempts} attempts" if policy.attempts > 1 and _retried(reason) else ""
    return f"asset {ref.asset!r} of item {ref.item_id} (href {ref.href}) could not be read{tries}: {reason}"


def asset_read_error(exc: BaseException, failures: Iterable[ReadFailure], index: AssetIndex,
                     policy: RetryPolicy) -> AssetReadError | None:
    """The AssetReadError behind a compute-time exception, or None if it is not a read failure.

    rasterio's message rarely names the file ("HTTP response code: 503"), so the href comes
    from odc-loader's failure record (the first fatal one), else from the exception text.
    """
    ref, reason = None, redact(str(exc)) or type(exc).__name__
    fatal = [f for f in failures if not f.skipped]
    for failure in fatal:
        ref = index.lookup(failure.uri)
        if ref is not None:
            reason = failure.reason or reason
            break
    if ref is None:
        if not _is_read_error(exc):
            return None
        ref = index.find_in(str(exc))
        if ref is None:
            return None
    message = (f"{describe_failure(ref, reason, policy)}; set inputs.{ref.input_name}.on_unreadable: nodata "
               "in the recipe to continue without it")
    return AssetReadError(message, input_name=ref.input_name, item_id=ref.item_id, asset=ref.asset,
                          href=ref.href, reason=reason)


def _is_read_error(exc: BaseException) -> bool:
    return any(type(err).__module__.startswith("rasterio") or isinstance(err, OSError) for err in _chain(exc))


def skipped_assets(failures: Iterable[ReadFailure], index: AssetIndex,
                   policy: RetryPolicy) -> list[dict[str, str]]:
    """Warnings for the assets odc-loader replaced by nodata (one per asset, in order)."""
    out: dict[tuple[str, str, str], dict[str, str]] = {}
    for failure in failures:
        if not failure.skipped:
            continue
        ref = index.lookup(failure.uri)
        key = (ref.input_name, ref.item_id, ref.asset) if ref else ("", "", failure.href)
        if key in out:
            continue
        if ref is None:
            message = f"unknown asset (href {failure.href}) could not be read: {failure.reason}; used nodata"
            out[key] = {"message": message, "input": "", "item": "", "asset": "", "href": failure.href,
                        "reason": failure.reason}
            continue
        message = f"{describe_failure(ref, failure.reason, policy)}; used nodata (inputs.{ref.input_name}." \
                  "on_unreadable: nodata)"
        out[key] = {"message": message, "input": ref.input_name, "item": ref.item_id, "asset": ref.asset,
                    "href": ref.href, "reason": failure.reason}
    return list(out.values())

