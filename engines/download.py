"""Fetching checkpoints: resumable, verified downloads and the offline import of a file.

:func:`download` streams a :class:`~engines.weights.WeightSpec`'s URLs (mirrors, in order) to
``<cache>/<id>/<filename>.part``, resumes that file with an HTTP ``Range`` request (after a
cut connection, automatically; after a cancelled or interrupted run, on the next call) only
while the server still has the same file (``If-Range`` with the validator recorded beside
the ``.part``, see :func:`_transfer`: never two files spliced), follows Google Drive's "can't
scan for viruses" confirmation page, verifies the result (digest when the spec pins one, else
size, format and a zip's own CRCs; never a web page), extracts the one member it needs from a
zip, and renames into place atomically. A cancel takes effect at once, even while the
server stalls (a request is awaited on a helper thread; a blocked read is ended by shutting
its connection down). A server that sends nothing for ``TIMEOUT_S`` (one socket read that
long: each read is one ``recv``) has stalled: the transfer resumes on a new connection, and
after ``MAX_STALLED_ATTEMPTS`` reconnects that bring nothing the download fails saying "the
server stopped sending for 30 s", keeping the ``.part`` file for the next run.
:func:`import_file` puts a file the user already has through the same checks. One
checkpoint is transferred by one program at a time: others wait on its lock
(:func:`engines.weights.checkpoint_lock`) and then find it installed.

Failures raise :class:`DownloadError` or :class:`~engines.weights.WeightsCorruptError`
subclasses (both :class:`~engines.base.EngineError`) with one-line messages; a disk that runs
out of room raises :class:`DiskFullError`, which carries the ``errno`` (so a caller tells it
from a refused download), keeps the partial file and tries no other address; a cancelled run
raises :class:`~engines.base.Cancelled` and keeps the partial file. Qt-free; stdlib HTTP.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import http.cookiejar
import json
import os
import shutil
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, BinaryIO

from engines import weights
from engines.base import CancelToken, EngineError, message_line
from engines.fileio import join_words, new_file_beside
from engines.weights import ProgressCallback, WeightsCorruptError, WeightSpec, format_size

CHUNK_SIZE = 256 * 1024
TIMEOUT_S = 30.0  # the longest the server may send nothing (connecting, answering, mid-body)
CANCEL_POLL_S = 0.1  # how often a request or read waiting on the server checks for a cancel
RESUME_OVERLAP = 64 * 1024  # bytes fetched again and compared on a resume with no validator
MAX_STALLED_ATTEMPTS = 3  # consecutive reconnects that bring no new bytes before giving up
RETRY_DELAY_S = 1.0
MAX_PAGE_BYTES = 1 << 20  # the most of an HTML confirmation page that is read
USER_AGENT = "Mozilla/5.0 (compatible; inpaint-studio/0.1)"

# Google Drive: hosts whose HTML answers are confirmation pages, and the download address of
# a file id. Module constants so tests can point them at a local server.
DRIVE_HOSTS = {"drive.google.com", "docs.google.com", "drive.usercontent.google.com"}
DRIVE_UC_URL = "https://drive.google.com/uc?export=download&id={id}"
MAX_CONFIRM_STEPS = 3


class DownloadError(EngineError):
    """A download failed; the message says why and what to do (one line)."""


class NoDownloadAddressError(DownloadError, weights.WeightsMissingError):
    """A checkpoint that is not installed and has no download address (:func:`download`).

    ``str()`` is the command-line tool's words, with its import command
    (:func:`_no_address_message`). As a :class:`~engines.weights.WeightsMissingError` it
    names the checkpoint (``weights_ids``; ``reason``: that it has no download address, no
    advice), so that the editor says it in its own words from those fields, never the
    command: :func:`app.model_dialogs.gui_error_text`, as the download dialog shows a
    failure (``"The {title} weights are not installed: File → Models… says where to get
    them, then Import file… installs them"``)."""


class DiskFullError(DownloadError):
    """The checkpoint did not fit on the disk (a full disk, a quota): the transfer ran but its
    file could not be kept. ``errno`` is ``errno.ENOSPC`` or ``errno.EDQUOT``, as on the
    :class:`OSError` it comes from (its ``__cause__``, where a write failed; none where a
    check of the free space came first), so callers class it as any write that fails for
    lack of room (the CLI's exit code 1, not 2)."""

    def __init__(self, message: str, code: int = errno.ENOSPC) -> None:
        super().__init__(message)
        self.errno = code


# the errno values of a write that failed for lack of room
_NO_ROOM = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT")
                     if hasattr(errno, name))


class OfflineError(DownloadError):
    """The server could not be reached (no network, refused, timed out)."""


class HTTPStatusError(DownloadError):
    """The server answered with an HTTP error status (``status``: 404, 403, ...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Interrupted(Exception):
    """The body stopped before its end; the partial file is kept for a resume."""


class _RangeRefused(Exception):
    """HTTP 416: the server has nothing past the bytes already held."""


@dataclass(frozen=True)
class _Partial:
    """An unfinished download: ``data``, the ``.part`` file with the bytes so far, and
    ``record``, a small JSON file beside it saying what they are the beginning of: the
    address, the server's validator (a strong ETag, a Last-Modified date) and the total
    size. The record is written (atomically) before the first byte, so a ``.part`` file
    without one is of unknown origin and is never resumed."""

    data: Path
    record: Path

    @classmethod
    def of(cls, weights_id: str) -> _Partial:
        return cls(weights.partial_path(weights_id), weights.partial_record_path(weights_id))

    def size(self) -> int:
        return _size(self.data)

    def origin(self) -> dict[str, Any] | None:
        """The record, or None when it is missing or unreadable."""
        try:
            record = json.loads(self.record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def begin(self, url: str, response: http.client.HTTPResponse,
              total: int | None) -> BinaryIO:
        """Start from the first byte of ``response``'s file: the data file emptied, then
        the record written; the data file, open for writing."""
        self.record.unlink(missing_ok=True)
        handle = open(self.data, "wb")  # noqa: SIM115 - the caller closes it
        try:
            with _temporary_beside(self.record) as temp:
                temp.write_text(json.dumps({"url": url, **_validators(response),
                                            "total": total}), encoding="utf-8")
                os.replace(temp, self.record)
        except BaseException:
            handle.close()
            raise
        return handle

    def discard(self) -> None:
        self.data.unlink(missing_ok=True)
        self.record.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Resume:
    """How one request continues a ``.part`` file: ``held`` bytes are kept and the request
    (``headers``: Range, If-Range) asks for the file from ``held - overlap``; ``origin`` is
    the ``.part``'s record. ``held`` 0: a request for the whole file."""

    held: int = 0
    overlap: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    origin: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return self.held - self.overlap


def drive_url(file_id: str) -> str:
    """The direct-download address of a publicly shared Google Drive file."""
    return DRIVE_UC_URL.format(id=urllib.parse.quote(file_id, safe=""))


# --- public entry points ------------------------------------------------------------------


def download(spec: WeightSpec | str, progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None, force: bool = False,
             waiting: Callable[[str], None] | None = None) -> Path:
    """Download, verify and install the checkpoint ``spec`` (or its id); its cached path.

    Returns at once when the file is installed (unless ``force``). ``progress(done, total)``
    is called after each chunk (``total`` None when the server does not say); ``cancel``
    takes effect at once, also while the server stalls. While another process downloads or
    imports the same checkpoint, this waits for it (``waiting(message)`` is called once;
    ``cancel`` works meanwhile) and returns its file when it installed one. Raises
    :class:`DownloadError` (offline, a server that stopped sending, HTTP errors, the same
    checkpoint already in transfer in this process), :class:`DiskFullError` (the ``.part``
    file is kept for the next run, and no other address is tried: none would fit),
    :class:`~engines.weights.HashMismatchError` / :class:`~engines.weights.WrongFileError`
    (the bad file is deleted), :class:`~engines.base.Cancelled` (the ``.part`` file is kept).
    """
    spec = weights.get_spec(spec) if isinstance(spec, str) else spec
    target = weights.local_path(spec.id)
    if target.is_file() and not force:
        return target
    if not spec.urls:
        raise NoDownloadAddressError(_no_address_message(spec), weights_ids=(spec.id,),
                                     reason=f"{spec.title} has no download address")
    cancel = cancel or CancelToken()
    partial = _Partial.of(spec.id)
    with _exclusive(spec.id, cancel, waiting, activity="downloaded"):
        if target.is_file() and not force:  # installed by the process we waited for
            return target
        # a download that fails before its first byte (offline) leaves no empty folder;
        # one that kept a .part file to resume keeps its folder
        with _folder_kept_only_if_used(partial.data.parent), \
                _empty_partial_removed_on_failure(partial):
            failures: list[EngineError] = []
            for url in spec.urls:
                try:
                    _fetch(url, partial, progress, cancel,
                           lambda: _passes(spec, partial.data, cancel))
                    return _install(spec, partial, url, cancel)
                except DiskFullError:
                    raise  # no other address fits either (and would discard the .part)
                except (DownloadError, WeightsCorruptError) as exc:
                    failures.append(exc)
            raise _summarise(failures)


def import_file(spec_id: str, source_path: str | os.PathLike, move: bool = False,
                progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                waiting: Callable[[str], None] | None = None, what: str = "") -> Path:
    """Install a checkpoint file the user already has (offline); its cached path.

    ``source_path`` is the file as downloaded (checked like a download: digest or size, and
    format; for a zip spec the member is extracted) or, for a zip spec, the extracted member
    itself (format and its zip's CRCs checked: :func:`~engines.weights.check_unpinned_file`; a
    zip archive cut short, whose directory :mod:`zipfile` would take from the last file
    stored in it, is refused by the format check). Either way the spec's ``check_contents``
    (does it fit the network) runs before anything is installed. The source is copied
    (moved with ``move``) only once it passed; a failing source, and an installed file it
    would have replaced, are left untouched. Waits like :func:`download` while another
    process transfers the same checkpoint. ``what`` names the source in refusals (default:
    its file name; a file found in a folder the user gave is better named by its path).
    Raises ``FileNotFoundError``, :class:`~engines.weights.HashMismatchError`,
    :class:`~engines.weights.WrongFileError`.
    """
    spec = weights.get_spec(spec_id)
    source = Path(source_path).expanduser()
    what = what or source.name
    if not source.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(source))
    if source.is_dir():
        raise IsADirectoryError(errno.EISDIR, "a folder, not a checkpoint file", str(source))
    cancel = cancel or CancelToken()
    target = weights.local_path(spec.id)
    with _exclusive(spec.id, cancel, waiting, activity="imported"), \
            _folder_kept_only_if_used(target.parent):
        origin = f"imported from {source}"
        member = spec.archive_member and weights.find_archive_member(source, spec.archive_member)
        if spec.archive_member and not member:  # the extracted member itself
            weights.check_unpinned_file(spec, source, what, cancel)
            sha256 = weights.file_digests(source, ("sha256",), cancel)["sha256"]
            _place(source, target, move, progress, cancel)
            checked = f"{spec.format} format of the extracted file" + (
                " and its tensors" if spec.check_contents is not None else "")
        elif member:  # the archive as downloaded
            weights.check_download(spec, source, what, cancel)
            _extract(spec, source, target, cancel)
            sha256 = weights.file_digests(target, ("sha256",), cancel)["sha256"]
            _install_siblings(spec, source, origin, cancel)
            if move:
                source.unlink()
            checked = _what_was_checked(spec)
        else:
            sha256 = weights.check_download(spec, source, what, cancel)
            _place(source, target, move, progress, cancel)
            checked = _what_was_checked(spec)
        weights.write_manifest(spec.id, sha256, origin, checked)
        _Partial.of(spec.id).discard()
    return target


# --- transfer -----------------------------------------------------------------------------


def _fetch(url: str, partial: _Partial, progress: ProgressCallback | None,
           cancel: CancelToken, part_is_complete: Callable[[], bool]) -> None:
    """Bring ``partial`` to the complete body of ``url``, resuming and reconnecting as
    needed."""
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies),
                                         urllib.request.HTTPSHandler(context=_ssl_context()))
    stalled = 0
    while True:
        before = partial.size()
        try:
            _transfer(opener, cookies, url, partial, progress, cancel)
            return
        except _RangeRefused:
            if part_is_complete():
                return
            partial.discard()  # held bytes the server does not have: start over
            reason = "the server refused to resume"
        except _Interrupted as cut:
            reason = str(cut)
        stalled = 0 if partial.size() > before else stalled + 1
        if stalled >= MAX_STALLED_ATTEMPTS:
            kept = partial.size()
            keep = (f"; {format_size(kept)} are kept: run the download again to resume"
                    if kept else "")
            raise DownloadError(f"the download from {_host(url)} keeps failing ({reason})"
                                f"{keep}")
        _pause(RETRY_DELAY_S, cancel)


def _transfer(opener: urllib.request.OpenerDirector, cookies: http.cookiejar.CookieJar,
              url: str, partial: _Partial, progress: ProgressCallback | None,
              cancel: CancelToken) -> None:
    """One request: continue ``partial`` from where it ends while the server still has the
    file it is the beginning of, else rewrite it from the first byte.

    A resume sends ``Range`` and ``If-Range`` with the validator recorded when the ``.part``
    began (its strong ETag, else its Last-Modified date), so a server whose file changed
    answers with the whole new file (200), which replaces the bytes held, as any 200 answer
    does. A 206 answer is checked against the record too (its validator, the total size).
    A server that gave no validator at all is asked for the file from ``RESUME_OVERLAP``
    bytes before the end of the ``.part``, and those bytes must equal the ``.part``'s own
    (and the total size the recorded one): a changed file passes only if it is identical
    there and of the same size, and a spliced result can still fail the format and CRC
    checks. A ``.part`` with no record (left by an older version, or from another address)
    is restarted, not resumed.
    """
    cancel.raise_if_cancelled()
    plan = _resume_plan(partial, url)
    response = _interruptible(lambda: _open(opener, cookies, url, plan.headers), cancel)
    changed = None
    with response, _shut_down_on_cancel(response, cancel):
        done, total = 0, _header_int(response, "Content-Length")
        if response.status == 206:
            start, whole = _content_range(response.headers.get("Content-Range", ""))
            changed = _not_the_rest(plan, response, start, whole)
            if changed is None and plan.overlap:
                changed = _overlap_differs(response, partial, plan.overlap)
            if changed is not None and not plan.held:
                raise _Interrupted(changed)
            done = plan.held
            total = whole if whole is not None else (start + total if total is not None
                                                     else None)
        if changed is None:
            try:  # a 200 answer, to a Range request too, restarts from the first byte
                handle = open(partial.data, "ab") if done else \
                    partial.begin(url, response, total)  # noqa: SIM115 - closed below
            except OSError as exc:
                raise _write_error(partial.data, exc) from exc
            try:
                done = _receive(response, handle, done, total, progress, cancel)
            except BaseException:
                with contextlib.suppress(OSError):  # what stopped the transfer is told
                    handle.close()
                raise
            _close(handle, partial.data)
    if changed is not None:  # not the file the .part began: start it again
        partial.discard()
        _transfer(opener, cookies, url, partial, progress, cancel)
        return
    if total is not None and done < total:
        raise _Interrupted(f"the connection closed after {format_size(done)} of "
                           f"{format_size(total)}")


def _resume_plan(partial: _Partial, url: str) -> _Resume:
    """How to ask ``url`` for what ``partial`` lacks; discards a ``.part`` whose record is
    missing or names another address (its bytes may be of another file)."""
    held = partial.size()
    if not held:
        return _Resume()
    origin = partial.origin()
    if origin is None or origin.get("url") != url:
        partial.discard()
        return _Resume()
    validator = origin.get("etag") or origin.get("last_modified")
    overlap = 0 if validator else min(RESUME_OVERLAP, held)
    headers = {"Range": f"bytes={held - overlap}-"}
    if validator:
        headers["If-Range"] = validator
    return _Resume(held, overlap, headers, origin)


def _not_the_rest(plan: _Resume, response: http.client.HTTPResponse, start: int,
                  whole: int | None) -> str | None:
    """Why a 206 answer (from ``start``, of ``whole`` bytes) is not the rest of the file the
    ``.part`` began (another start, validator or total size); None when it is."""
    if start != plan.start:
        return f"the server sent bytes from {start} instead of {plan.start}"
    now = _validators(response)
    if any(now[name] and plan.origin.get(name) and now[name] != plan.origin[name]
           for name in ("etag", "last_modified")):
        return "the file on the server changed"
    recorded = plan.origin.get("total")
    if whole is not None and (whole < plan.held or (isinstance(recorded, int)
                                                    and whole != recorded)):
        return "the file on the server changed size"
    return None


def _overlap_differs(response: http.client.HTTPResponse, partial: _Partial,
                     overlap: int) -> str | None:
    """Read the first ``overlap`` bytes of ``response`` and compare them with the last
    ``overlap`` bytes of ``partial``; why they differ, or None when they are equal."""
    received = bytearray()
    while len(received) < overlap:
        try:
            chunk = response.read1(overlap - len(received))
        except (OSError, http.client.HTTPException) as exc:
            raise _Interrupted(_read_failure(exc)) from None
        if not chunk:
            raise _Interrupted("the connection closed before the resumed bytes arrived")
        received += chunk
    with open(partial.data, "rb") as handle:
        handle.seek(-overlap, os.SEEK_END)
        held = handle.read(overlap)
    return None if held == received else "the file on the server changed"


def _receive(response: http.client.HTTPResponse, handle: BinaryIO, done: int,
             total: int | None, progress: ProgressCallback | None,
             cancel: CancelToken) -> int:
    """Append the rest of ``response``'s body to ``handle``; the bytes held after it."""
    if progress is not None:
        progress(done, total)
    while True:
        cancel.raise_if_cancelled()
        try:
            chunk = response.read1(CHUNK_SIZE)
        except (OSError, http.client.HTTPException) as exc:
            cancel.raise_if_cancelled()  # the connection was shut down by the cancel
            raise _Interrupted(_read_failure(exc)) from None
        if not chunk:
            cancel.raise_if_cancelled()
            return done
        try:
            handle.write(chunk)
        except OSError as exc:
            raise _write_error(Path(handle.name), exc, total and total - done) from exc
        done += len(chunk)
        if progress is not None:
            progress(done, total)


def _validators(response: http.client.HTTPResponse) -> dict[str, str | None]:
    """What identifies the version of the file a response carries: its strong ETag (a
    weak one cannot be used with If-Range) and its Last-Modified date, each None when
    absent."""
    etag = response.headers.get("ETag", "").strip()
    return {"etag": etag if etag and not etag.startswith("W/") else None,
            "last_modified": response.headers.get("Last-Modified", "").strip() or None}


def _interruptible(call: Callable[[], http.client.HTTPResponse],
                   cancel: CancelToken) -> http.client.HTTPResponse:
    """``call()`` (a request: connect, send, read the answer's head) run on a helper thread
    and awaited here, checking ``cancel`` every ``CANCEL_POLL_S``: a server that accepts the
    connection and then says nothing cannot hold a cancelled download for ``TIMEOUT_S``.
    After a cancel the helper is left to end by itself (within ``TIMEOUT_S``); a response
    it still gets is closed."""
    outcome: dict[str, Any] = {}
    lock = threading.Lock()
    finished = threading.Event()

    def run() -> None:
        try:
            result = call()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        else:
            with lock:
                if outcome.get("abandoned"):
                    result.close()
                else:
                    outcome["result"] = result
        finally:
            finished.set()

    threading.Thread(target=run, name="download-request", daemon=True).start()
    try:
        while not finished.wait(CANCEL_POLL_S):
            cancel.raise_if_cancelled()
    except BaseException:  # cancelled, or Ctrl+C in the main thread
        with lock:
            outcome["abandoned"] = True
            leftover = outcome.pop("result", None)
        if leftover is not None:
            leftover.close()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@contextlib.contextmanager
def _shut_down_on_cancel(response: http.client.HTTPResponse,
                         cancel: CancelToken) -> Iterator[None]:
    """While the body of ``response`` is read: a watcher thread that shuts its connection
    down as soon as ``cancel`` is set, so a read blocked on a stalled server returns at once
    instead of after ``TIMEOUT_S``. The watcher holds a duplicate of the socket (closed
    here), so it never touches a descriptor the response has given back."""
    try:
        connection = socket.fromfd(response.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    except (AttributeError, OSError, ValueError):  # no socket to watch: reads time out
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(CANCEL_POLL_S):
            if cancel.cancelled:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                return

    watcher = threading.Thread(target=watch, name="download-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        connection.close()


def _open(opener: urllib.request.OpenerDirector, cookies: http.cookiejar.CookieJar, url: str,
          resume_headers: dict[str, str]) -> http.client.HTTPResponse:
    """The response carrying the file (Drive confirmation pages followed);
    ``resume_headers``: Range and If-Range, or none."""
    request_url, data = url, None
    for _ in range(MAX_CONFIRM_STEPS + 1):
        headers = {"User-Agent": USER_AGENT, **resume_headers}
        request = urllib.request.Request(request_url, data=data, headers=headers)
        try:
            response = opener.open(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and "Range" in resume_headers:
                raise _RangeRefused() from None
            raise _http_error(request_url, exc.code, exc.reason) from None
        except urllib.error.URLError as exc:  # connecting or sending the request failed
            raise _connection_error(request_url, exc.reason) from None
        except TimeoutError:  # connected and asked, but no answer came
            raise OfflineError(f"{_host(request_url)} accepted the connection but sent no "
                               f"answer for {TIMEOUT_S:g} s; try again later") from None
        except (OSError, http.client.HTTPException) as exc:
            raise _connection_error(request_url, exc) from None
        if not _is_web_page(response):
            return response
        final_url = response.geturl()
        if not (_is_drive(url) or _is_drive(final_url)):
            response.close()
            raise weights.WrongFileError(f"{_host(final_url)} answered with a web page instead "
                                         "of the file (a login or portal page?)")
        with response:
            page = response.read(MAX_PAGE_BYTES).decode("utf-8", "replace")
        request_url, data = _drive_confirmation(page, final_url, url, cookies)
    raise DownloadError("Google Drive kept answering with a web page instead of the file; "
                        f"download it in a browser from {url} and import it")


# --- Google Drive -------------------------------------------------------------------------


class _DrivePage(HTMLParser):
    """The parts of a Drive answer page that lead to the file: the ``download-form`` (newer
    pages: action ``drive.usercontent.google.com/download`` with hidden ``id``, ``export``,
    ``confirm``, ``uuid``), a ``/uc?export=download&confirm=...`` link (older pages), and the
    ``uc-error-subcaption`` text of an error page (quota exceeded, no access)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.form_action: str | None = None
        self.form_method = "get"
        self.form_fields: list[tuple[str, str]] = []
        self.link: str | None = None
        self.error = ""
        self._in_form = False
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and values.get("id") == "download-form":
            self.form_action = values.get("action", "")
            self.form_method = values.get("method", "get").lower()
            self._in_form = True
        elif tag == "input" and self._in_form and values.get("type") == "hidden" \
                and values.get("name"):
            self.form_fields.append((values["name"], values.get("value", "")))
        elif tag == "a" and self.link is None and "export=download" in values.get("href", ""):
            self.link = values["href"]
        elif tag == "p" and "uc-error-subcaption" in values.get("class", "").split():
            self._in_error = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "p":
            self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_error:
            self.error += data


def _drive_confirmation(page: str, page_url: str, original_url: str,
                        cookies: http.cookiejar.CookieJar) -> tuple[str, bytes | None]:
    """The next request (url, POST body or None) that a Drive confirmation page asks for."""
    parser = _DrivePage()
    parser.feed(page)
    parser.close()
    if parser.form_action is not None:
        action = urllib.parse.urljoin(page_url, parser.form_action)
        if parser.form_method == "post":
            return action, urllib.parse.urlencode(parser.form_fields).encode()
        parts = urllib.parse.urlsplit(action)
        names = {name for name, _ in parser.form_fields}
        query = [(name, value) for name, value in urllib.parse.parse_qsl(parts.query)
                 if name not in names] + parser.form_fields
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query))), None
    if parser.link:
        return urllib.parse.urljoin(page_url, parser.link), None
    marker = page.find('"downloadUrl":"')
    if marker >= 0:
        start = marker + len('"downloadUrl":')
        end = page.find('"', start + 1)
        while end > 0 and page[end - 1] == "\\":
            end = page.find('"', end + 1)
        return json.loads(page[start:end + 1]), None
    token = next((cookie.value for cookie in cookies
                  if cookie.name.startswith("download_warning") and cookie.value), None)
    if token:
        parts = urllib.parse.urlsplit(original_url)
        query = [*urllib.parse.parse_qsl(parts.query), ("confirm", token)]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query))), None
    if parser.error.strip():
        raise DownloadError(f"Google Drive refused the download: {' '.join(parser.error.split())}"
                            " (try later, or download it in a browser and import it)")
    raise DownloadError("Google Drive did not offer the file (is it shared publicly?); "
                        f"download it in a browser from {original_url} and import it")


def _is_drive(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.netloc in DRIVE_HOSTS or (parts.hostname or "") in DRIVE_HOSTS


def _is_web_page(response: http.client.HTTPResponse) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    disposition = response.headers.get("Content-Disposition", "").lower()
    return content_type.startswith("text/html") and "attachment" not in disposition


# --- installing ---------------------------------------------------------------------------


def _install(spec: WeightSpec, partial: _Partial, url: str, cancel: CancelToken) -> Path:
    """Verify the finished download ``partial`` and move (or extract) it into place; the
    bad file is deleted when it fails."""
    target = weights.local_path(spec.id)
    what = f"the file from {_host(url)}"
    part = partial.data
    try:
        sha256 = weights.check_download(spec, part, what, cancel)
        if spec.archive_member:
            _extract(spec, part, target, cancel)
            sha256 = weights.file_digests(target, ("sha256",), cancel)["sha256"]
    except WeightsCorruptError as exc:  # of the download: nothing installed is at fault
        partial.discard()
        raise type(exc)(f"{exc}; the bad file was removed", weights_ids=(spec.id,),
                        reason=f"{exc.reason}; the bad file was removed") from None
    if not spec.archive_member:
        os.replace(part, target)
    weights.write_manifest(spec.id, sha256, url, _what_was_checked(spec))
    if spec.archive_member:
        _install_siblings(spec, part, url, cancel)
    partial.discard()
    return target


def _install_siblings(spec: WeightSpec, archive_path: Path, origin: str,
                      cancel: CancelToken) -> list[str]:
    """Also extract the members of this verified archive that other checkpoints of the same
    engine need (an edge and an inpainting generator shipped in one zip: one download)."""
    installed = []
    for other in weights.all_specs():
        if other.id == spec.id or other.engine != spec.engine or other.urls != spec.urls \
                or not other.archive_member or weights.is_present(other.id) \
                or weights.find_archive_member(archive_path, other.archive_member) is None:
            continue
        try:
            with _exclusive(other.id, wait=False, activity="downloaded"):
                target = weights.local_path(other.id)
                if target.is_file():  # installed meanwhile by another process
                    continue
                _make_folder(target.parent)
                _extract(other, archive_path, target, cancel)
                sha256 = weights.file_digests(target, ("sha256",), cancel)["sha256"]
                weights.write_manifest(other.id, sha256, origin, _what_was_checked(spec))
        except (DownloadError, WeightsCorruptError, weights.CheckpointBusyError):
            continue  # optional extra: its own download will report the problem
        installed.append(other.id)
    return installed


def _what_was_checked(spec: WeightSpec) -> str:
    """What the install record says was checked: the pinned digests, else size and format,
    and the tensors where the spec has a ``check_contents`` (``"size, format and tensors"``)."""
    checks = [name for name, value in (("sha256", spec.sha256), ("md5", spec.md5))
              if value] or ["size", "format"]
    if spec.check_contents is not None:
        checks.append("tensors")
    return join_words(checks)


def _extract(spec: WeightSpec, archive_path: Path, target: Path, cancel: CancelToken) -> None:
    """Write ``spec.archive_member`` of the zip to ``target`` atomically (only that member,
    under our own name: nothing in the archive chooses a path)."""
    member = weights.find_archive_member(archive_path, spec.archive_member or "")
    if member is None:
        raise weights.WrongFileError(f"{archive_path.name} has no {spec.archive_member!r}")
    with zipfile.ZipFile(archive_path) as archive:
        info = archive.getinfo(member)
        _ensure_space(target.parent, info.file_size)
        with _temporary_beside(target) as temp:
            try:
                with archive.open(info) as source, open(temp, "wb") as out:
                    while block := source.read(CHUNK_SIZE):
                        cancel.raise_if_cancelled()
                        out.write(block)
            except zipfile.BadZipFile as exc:
                raise weights.WrongFileError(f"{archive_path.name} is damaged ({exc})") from None
            except OSError as exc:
                raise _write_error(temp, exc, info.file_size, _TRY_AGAIN) from exc
            weights.check_checkpoint_file(spec, temp, f"{member} in {archive_path.name}")
            os.replace(temp, target)


def _place(source: Path, target: Path, move: bool, progress: ProgressCallback | None,
           cancel: CancelToken) -> None:
    """Copy (or move) ``source`` to ``target`` atomically."""
    if target.exists() and os.path.samefile(source, target):
        return
    if move:
        try:
            os.replace(source, target)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
    total = source.stat().st_size
    _ensure_space(target.parent, total)
    with _temporary_beside(target) as temp:
        done = 0
        try:
            with open(source, "rb") as reader, open(temp, "wb") as writer:
                while block := reader.read(CHUNK_SIZE):
                    cancel.raise_if_cancelled()
                    writer.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
        except OSError as exc:
            if exc.filename == str(source):
                raise
            raise _write_error(temp, exc, total - done, _TRY_AGAIN) from exc
        os.replace(temp, target)
    if move:
        source.unlink()


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    """A temporary file name in ``target``'s folder, removed unless it was renamed away."""
    fd, name = new_file_beside(target, ".tmp")  # the umask's mode, as any new file
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


# --- helpers ------------------------------------------------------------------------------

_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


@contextlib.contextmanager
def _exclusive(weights_id: str, cancel: CancelToken | None = None,
               waiting: Callable[[str], None] | None = None, wait: bool = True,
               activity: str = "downloaded") -> Iterator[None]:
    """One download or import per checkpoint at a time: a second one in this process fails
    at once, one in another process waits unless ``wait`` is False (see
    :func:`engines.weights.checkpoint_lock`; ``activity``: ``"downloaded"`` or
    ``"imported"``, for the messages others get meanwhile)."""
    with _ACTIVE_LOCK:
        if weights_id in _ACTIVE:
            raise DownloadError(f"{weights_id} is already being downloaded or imported")
        _ACTIVE.add(weights_id)
    try:
        with weights.checkpoint_lock(weights_id, cancel, waiting, wait, activity):
            yield
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(weights_id)


@contextlib.contextmanager
def _empty_partial_removed_on_failure(partial: _Partial) -> Iterator[None]:
    """If the body fails with no byte of ``partial`` received (the connection cut before
    the first one), remove its empty ``.part`` and record: nothing is left to resume."""
    try:
        yield
    except BaseException:
        if partial.size() == 0:
            partial.discard()
        raise


@contextlib.contextmanager
def _folder_kept_only_if_used(folder: Path) -> Iterator[None]:
    """Create ``folder`` for the body; if the body fails, remove it again when it is empty
    and did not exist before (a refused import or a failed download leaves no trace in the
    cache)."""
    existed = folder.is_dir()
    _make_folder(folder)
    try:
        yield
    except BaseException:
        if not existed:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _no_address_message(spec: WeightSpec) -> str:
    """Why ``spec`` (no download address) cannot be downloaded, and how to get it, in the
    command-line tool's words: :func:`~engines.weights.by_hand_steps`, as every message says
    them (a hint that says where to get the file, then the import command; a hint that is a
    command, such as training one, or else the import command; with no hint, the import
    command). (The editor says it from :class:`NoDownloadAddressError`'s fields.)"""
    return f"{spec.title} has no download address: {weights.by_hand_steps(spec)}"


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        message = f"cannot create the model folder {folder}: {exc.strerror or exc}"
        if exc.errno in _NO_ROOM:
            raise DiskFullError(message, exc.errno) from exc
        raise DownloadError(message) from None


def _ensure_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DiskFullError(f"not enough disk space in {folder}: {format_size(needed)} "
                            f"needed, {format_size(free)} free")


# what a message on a full disk advises where nothing is kept to resume
_TRY_AGAIN = "try again"


def _write_error(path: Path, exc: OSError, remaining: int | None = None,
                 again: str = "run the download again to resume") -> DownloadError:
    """The error for a write of ``path`` that failed with ``exc``: a :class:`DiskFullError`
    (with ``exc``'s errno) saying how much was ``remaining`` and to free some space and
    ``again``, when the disk had no room; else a :class:`DownloadError` naming the file.
    Callers raise it from ``exc``."""
    if exc.errno in _NO_ROOM:
        more = f" ({format_size(remaining)} still to come)" if remaining else ""
        return DiskFullError(f"the disk holding {path.parent} is full{more}: free some space "
                             f"and {again}", exc.errno)
    return DownloadError(f"cannot write {path}: {exc.strerror or exc}")


def _close(handle: BinaryIO, path: Path) -> None:
    """Close ``handle`` (open on ``path`` for writing); a failure there (the last bytes
    flushed onto a full disk) raises :func:`_write_error`'s error, as a write's would."""
    try:
        handle.close()
    except OSError as exc:
        raise _write_error(path, exc) from exc


def _connection_error(url: str, reason: object) -> DownloadError:
    host = _host(url)
    if isinstance(reason, ssl.SSLError):
        return DownloadError(f"secure connection to {host} failed: {reason}")
    if isinstance(reason, socket.gaierror):
        detail = "host name not found"
    elif isinstance(reason, ConnectionRefusedError):
        detail = "connection refused"
    elif isinstance(reason, TimeoutError):
        detail = "timed out"
    else:
        detail = _reason(reason)
    return OfflineError(f"cannot reach {host}: {detail} (no network connection?)")


def _http_error(url: str, status: int, reason: str) -> HTTPStatusError:
    host = _host(url)
    if status == 404:
        message = (f"{host} has no such file (HTTP 404, {url}): the file may have moved; get it "
                   "by hand and import it")
    elif status in (401, 403):
        message = f"{host} refused access (HTTP {status} {reason})"
    elif status in (429, 500, 502, 503, 504):
        message = f"{host} is busy or down (HTTP {status} {reason}); try again later"
    else:
        message = f"{host} answered HTTP {status} {reason}"
    return HTTPStatusError(message, status)


def _summarise(failures: list[EngineError]) -> EngineError:
    if len(failures) == 1:
        return failures[0]
    message = (f"all {len(failures)} download addresses failed: "
               + "; ".join(str(failure) for failure in failures))
    kinds = {type(failure) for failure in failures}
    kind = kinds.pop() if len(kinds) == 1 else DownloadError
    if issubclass(kind, HTTPStatusError):
        return kind(message, failures[-1].status)
    return kind(message)


def _passes(spec: WeightSpec, part: Path, cancel: CancelToken) -> bool:
    try:
        weights.check_download(spec, part, cancel=cancel)
    except WeightsCorruptError:
        return False
    return True


def _pause(seconds: float, cancel: CancelToken) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        cancel.raise_if_cancelled()
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    cancel.raise_if_cancelled()


def _ssl_context() -> ssl.SSLContext:
    """The system's trust store, or certifi's bundle when installed (python.org macOS
    builds have no usable system store)."""
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _header_int(response: http.client.HTTPResponse, name: str) -> int | None:
    value = response.headers.get(name, "")
    return int(value) if value.strip().isdigit() else None


def _content_range(value: str) -> tuple[int, int | None]:
    """``bytes 100-199/1000`` -> (100, 1000); ``bytes 100-199/*`` -> (100, None)."""
    unit, _, spec = value.strip().partition(" ")
    span, _, whole = spec.partition("/")
    start = span.partition("-")[0]
    if unit.lower() != "bytes" or not start.isdigit():
        return -1, None
    return int(start), int(whole) if whole.isdigit() else None


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _read_failure(exc: BaseException) -> str:
    """Why reading a body failed: ``"the server stopped sending for 30 s"`` for a read that
    timed out (nothing came for ``TIMEOUT_S``), else the error's reason."""
    if isinstance(exc, TimeoutError):
        return f"the server stopped sending for {TIMEOUT_S:g} s"
    return _reason(exc)


def _reason(exc: object) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return message_line(exc)
