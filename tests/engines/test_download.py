"""Downloads against a local HTTP server on 127.0.0.1: resume, Range quirks, verification,
HTTP and network errors, Google Drive's confirmation pages, zip members, cancel."""

from __future__ import annotations

import errno
import hashlib
import http.cookiejar
import http.server
import io
import os
import socket
import stat
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from engines import download, weights
from engines.base import Cancelled, CancelToken

pytestmark = pytest.mark.timeout(60)


# --- a small scripted file server ---------------------------------------------------------


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    honour_range: bool = True
    cut_after: int | None = None  # close the connection after this many body bytes...
    cuts: int = 0  # ...on this many requests
    delay: float = 0.0  # seconds between 8 KiB blocks
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # validators sent with every answer
    last_modified: str | None = None
    honour_if_range: bool = True  # False: Range is served even when If-Range does not match
    stall_after: int | None = None  # send this many body bytes, then nothing until closed
    stall_before_answer: bool = False  # read the request, answer nothing until closed
    stall_at: int | None = None  # send the file up to this byte (of the whole), then stall


class FileServer:
    """``ThreadingHTTPServer`` on 127.0.0.1 with per-path routes, Range support and a
    Google Drive imitation (``/uc`` and ``/download``)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.drive_files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.closed_by_client = threading.Event()  # a stalled answer's client hung up
        self._ending = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                server.requests.append(("GET", self.path, dict(self.headers)))
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                if parts.path in ("/uc", "/download"):
                    server.drive(self, parts.path, query)
                elif parts.path in server.routes:
                    server.serve(self, server.routes[parts.path])
                else:
                    self.send_error(404)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ranges(self, path_prefix: str) -> list[str | None]:
        """The Range header of each request whose path starts with ``path_prefix``."""
        return self.header("Range", path_prefix)

    def header(self, name: str, path_prefix: str) -> list[str | None]:
        """Header ``name`` of each request whose path starts with ``path_prefix``."""
        return [headers.get(name) for _, path, headers in self.requests
                if path.startswith(path_prefix)]

    def stall(self, handler) -> None:
        """Send nothing more; return when the client closes the connection (noted in
        ``closed_by_client``) or the server ends."""
        handler.wfile.flush()
        handler.connection.settimeout(0.05)
        while not self._ending.is_set():
            try:
                if not handler.connection.recv(1):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        else:
            return
        self.closed_by_client.set()

    def serve(self, handler, route: Route, extra: dict[str, str] | None = None) -> None:
        if route.status != 200:
            handler.send_error(route.status)
            return
        if route.stall_before_answer:
            self.stall(handler)
            return
        body, start = route.body, 0
        requested = handler.headers.get("Range")
        condition = handler.headers.get("If-Range")
        if condition is not None and route.honour_if_range and \
                condition not in (route.etag, route.last_modified):
            requested = None  # another version than the client holds: the whole file
        status = 200
        if requested and route.honour_range:
            start = int(requested.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{len(body)}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            status = 206
        handler.send_response(status)
        handler.send_header("Content-Type", route.content_type)
        handler.send_header("Content-Length", str(len(body) - start))
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        validators = {"ETag": route.etag, "Last-Modified": route.last_modified}
        for name, value in {**validators, **route.headers, **(extra or {})}.items():
            if value is not None:
                handler.send_header(name, value)
        handler.end_headers()
        payload = body[start:]
        if route.cuts > 0 and route.cut_after is not None:
            route.cuts -= 1
            payload = payload[:route.cut_after]
        if route.stall_after is not None:
            payload = payload[:route.stall_after]
        if route.stall_at is not None:
            payload = payload[:max(0, route.stall_at - start)]
        for offset in range(0, len(payload), 8192):
            try:
                handler.wfile.write(payload[offset:offset + 8192])
                handler.wfile.flush()
            except OSError:
                return
            if route.delay:
                time.sleep(route.delay)
        if route.stall_after is not None or route.stall_at is not None:
            self.stall(handler)
        handler.close_connection = True

    # Google Drive, as seen by gdown: old pages link to /uc?...&confirm=TOKEN and set a
    # download_warning cookie; new pages redirect to drive.usercontent.google.com/download
    # and hold a GET form with hidden id, export, confirm, uuid.
    OLD_TOKEN = "Xk3q"
    NEW_UUID = "3f1d7a4e-9c8e-4b7a-8a6f-1c0d5e2b9a11"
    QUOTA = ("Too many users have viewed or downloaded this file recently. Please try "
             "accessing the file again later.")

    def drive(self, handler, path: str, query: dict[str, str]) -> None:
        file_id = query.get("id", "")
        if file_id == "quota":
            self.page(handler, f'<div class="uc-main"><div id="uc-text"><p class="uc-error-'
                      f'caption">Sorry, you can\'t view or download this file at this time.</p>'
                      f'<p class="uc-error-subcaption">{self.QUOTA}</p></div></div>')
            return
        body = self.drive_files.get(file_id)
        if body is None:
            handler.send_error(404)
            return
        route = Route(body=body, etag=f'"{sha256(body)[:16]}"')
        disposition = {"Content-Disposition": f'attachment; filename="{file_id}.pth"'}
        if file_id.startswith("old"):
            cookie = handler.headers.get("Cookie", "")
            if query.get("confirm") == self.OLD_TOKEN and \
                    f"download_warning_13058876669334088843_{file_id}={self.OLD_TOKEN}" in cookie:
                self.serve(handler, route, disposition)
                return
            link = f"/uc?export=download&amp;confirm={self.OLD_TOKEN}&amp;id={file_id}"
            self.page(handler, f'<div class="uc-main"><div id="uc-text"><p class="uc-warning-'
                      f'caption">Google Drive can\'t scan this file for viruses.</p><p class="uc-'
                      f'warning-subcaption"><span class="uc-name-size"><a href="/open?id='
                      f'{file_id}">{file_id}.pth</a> (16M)</span> is too large for Google to '
                      f'scan for viruses. Would you still like to download this file?</p><a id="'
                      f'uc-download-link" class="goog-inline-block jfk-button jfk-button-action"'
                      f' href="{link}">Download anyway</a></div></div>',
                      {"Set-Cookie": f"download_warning_13058876669334088843_{file_id}="
                                     f"{self.OLD_TOKEN}; Path=/; HttpOnly"})
            return
        if path == "/uc":  # newer Drive: redirect to the usercontent host
            handler.send_response(303)
            handler.send_header("Location", self.url(f"/download?id={file_id}&export=download"))
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if query.get("confirm") == "t" and query.get("uuid") == self.NEW_UUID:
            self.serve(handler, route, disposition)
            return
        self.page(handler, f'<div class="uc-main"><div id="uc-text"><p class="uc-warning-caption"'
                  f'>Google Drive can\'t scan this file for viruses.</p><p class="uc-warning-sub'
                  f'caption"><span class="uc-name-size"><a href="/open?id={file_id}">{file_id}'
                  f'.pth</a> (204M)</span> is too large for Google to scan for viruses. Would you '
                  f'still like to download this file?</p><form id="download-form" action="'
                  f'{self.url("/download")}" method="get"><input type="submit" id="uc-download-'
                  f'link" class="goog-inline-block jfk-button jfk-button-action" value="Download '
                  f'anyway"/><input type="hidden" name="id" value="{file_id}"><input type="hidden'
                  f'" name="export" value="download"><input type="hidden" name="confirm" value="t'
                  f'"><input type="hidden" name="uuid" value="{self.NEW_UUID}"></form></div></div>')

    @staticmethod
    def page(handler, body: str, headers: dict[str, str] | None = None) -> None:
        html = ('<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>'
                '<meta http-equiv="content-type" content="text/html; charset=utf-8"/></head>'
                f'<body>{body}</body></html>').encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(html)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(html)

    def close(self) -> None:
        self._ending.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(download, "RETRY_DELAY_S", 0.0)
    files = FileServer()
    monkeypatch.setattr(download, "DRIVE_HOSTS", {f"127.0.0.1:{files.port}"})
    monkeypatch.setattr(download, "DRIVE_UC_URL", files.url("/uc?export=download&id={id}"))
    yield files
    files.close()




def checkpoint_bytes(size: int = 300_000, seed: int = 0) -> bytes:
    """A real ``torch.save`` state dict of roughly ``size`` bytes."""
    generator = torch.Generator().manual_seed(seed)
    buffer = io.BytesIO()
    torch.save({"conv.weight": torch.rand(size // 4, generator=generator)}, buffer)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- plain downloads ----------------------------------------------------------------------


def test_download_verifies_and_installs_with_progress(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    spec = make_spec(urls=(server.url("/net.pth"),), sha256=sha256(body))
    seen = []

    path = download.download(spec.id, progress=lambda done, total: seen.append((done, total)))

    assert path == weights.local_path(spec.id) and path.read_bytes() == body
    assert not weights.partial_path(spec.id).exists()
    assert seen[-1] == (len(body), len(body))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert weights.read_manifest(spec.id)["sha256"] == sha256(body)
    assert weights.installation(spec.id).state is weights.InstallState.INSTALLED
    requests_before = len(server.requests)
    assert download.download(spec.id) == path  # installed: no network
    assert len(server.requests) == requests_before


ETAG = '"5d41402abc4b2a76"'
LAST_MODIFIED = "Tue, 03 Jun 2025 10:00:00 GMT"


def cancelled_download(spec, at_least: int, monkeypatch) -> int:
    """Download ``spec`` and cancel once ``at_least`` bytes arrived, as the user would;
    the bytes kept in its ``.part`` file."""
    monkeypatch.setattr(download, "CHUNK_SIZE", 8192)
    token = CancelToken()

    def cancel_after(done, total):
        if done >= at_least:
            token.cancel()

    with pytest.raises(Cancelled):
        download.download(spec, progress=cancel_after, cancel=token)
    monkeypatch.setattr(download, "CHUNK_SIZE", 256 * 1024)
    return weights.partial_path(spec.id).stat().st_size


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
def test_resume_after_the_connection_is_cut(server, make_spec, validator):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body, cut_after=100_000, cuts=1,
                                      **{validator: {"etag": ETAG,
                                                     "last_modified": LAST_MODIFIED}[validator]})
    spec = make_spec(urls=(server.url("/net.pth"),), size=len(body))  # no digest

    path = download.download(spec)

    assert path.read_bytes() == body
    assert server.ranges("/net.pth") == [None, "bytes=100000-"]
    expected = ETAG if validator == "etag" else LAST_MODIFIED
    assert server.header("If-Range", "/net.pth") == [None, expected]


def test_resume_without_a_validator_rereads_and_compares_the_last_bytes(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body, cut_after=100_000, cuts=1)
    spec = make_spec(urls=(server.url("/net.pth"),), size=len(body))

    assert download.download(spec).read_bytes() == body
    start = 100_000 - download.RESUME_OVERLAP
    assert server.ranges("/net.pth") == [None, f"bytes={start}-"]
    assert server.header("If-Range", "/net.pth") == [None, None]


def test_partial_file_from_an_earlier_run_is_resumed(server, make_spec, monkeypatch):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body, delay=0.002, etag=ETAG)
    spec = make_spec(urls=(server.url("/net.pth"),), size=len(body))
    kept = cancelled_download(spec, 100_000, monkeypatch)
    assert weights.installation(spec.id).state is weights.InstallState.PARTIAL
    assert weights.installation(spec.id).partial_bytes == kept

    assert download.download(spec).read_bytes() == body
    assert server.ranges("/net.pth")[-1] == f"bytes={kept}-"
    assert server.header("If-Range", "/net.pth")[-1] == ETAG
    assert sorted(p.name for p in weights.local_path(spec.id).parent.iterdir()) == [
        "manifest.json", "net.pth"]  # the .part and its record are gone


def test_partial_file_of_unknown_origin_is_restarted(server, make_spec):
    """A .part with no record beside it (an older version's, say) may hold another file's
    bytes: it is downloaded again from the first byte, not resumed."""
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body, etag=ETAG)
    spec = make_spec(urls=(server.url("/net.pth"),), size=len(body))
    part = weights.partial_path(spec.id)
    part.parent.mkdir(parents=True)
    part.write_bytes(checkpoint_bytes(seed=9)[:123_456])

    assert download.download(spec).read_bytes() == body
    assert server.ranges("/net.pth") == [None]


@pytest.mark.parametrize("validator", ["etag", "last_modified", None])
def test_a_file_changed_between_cancel_and_resume_is_downloaded_anew(server, make_spec,
                                                                     monkeypatch, validator):
    """The server's file is replaced by another of the same size (a new upload) after a
    cancel: the result is the new file, byte for byte, never the old bytes with the new
    ones appended."""
    old, new = checkpoint_bytes(seed=1), checkpoint_bytes(seed=2)
    assert len(old) == len(new) and old[:500] == new[:500]  # same header, other tensors
    versions = {"etag": ('"v1"', '"v2"'), "last_modified": (LAST_MODIFIED,
                                                             "Wed, 04 Jun 2025 09:00:00 GMT")}
    before, after = versions.get(validator, (None, None))
    name = validator or "etag"
    server.routes["/net.pth"] = Route(body=old, delay=0.002, **{name: before})
    spec = make_spec(urls=(server.url("/net.pth"),), size=len(old))  # no digest
    kept = cancelled_download(spec, 150_000, monkeypatch)
    server.routes["/net.pth"] = Route(body=new, **{name: after})

    assert download.download(spec).read_bytes() == new

    ranges = server.ranges("/net.pth")
    if validator:  # If-Range with the old validator: the server sent the whole new file
        assert ranges[-1] == f"bytes={kept}-"
        assert server.header("If-Range", "/net.pth")[-1] == before
    else:  # the re-read bytes differ from the .part's end: started again
        assert ranges[-2:] == [f"bytes={kept - download.RESUME_OVERLAP}-", None]


def test_a_changed_file_is_noticed_when_the_server_ignores_if_range(server, make_spec,
                                                                    monkeypatch):
    old, new = checkpoint_bytes(seed=1), checkpoint_bytes(seed=2)
    server.routes["/net.pth"] = Route(body=old, delay=0.002, etag='"v1"')
    spec = make_spec(urls=(server.url("/net.pth"),), size=len(old))
    kept = cancelled_download(spec, 150_000, monkeypatch)
    server.routes["/net.pth"] = Route(body=new, etag='"v2"', honour_if_range=False)

    assert download.download(spec).read_bytes() == new
    assert server.ranges("/net.pth")[-2:] == [f"bytes={kept}-", None]  # 206 of "v2": anew


def test_a_file_that_changed_size_is_downloaded_anew(server, make_spec, monkeypatch):
    """No validator, and the new file is the same as the .part in the re-read window: its
    other size (Content-Range) still tells that it is another file."""
    old = np.random.default_rng(1).bytes(300_000)
    server.routes["/net.bin"] = Route(body=old, delay=0.002)  # no validator at all
    spec = make_spec(urls=(server.url("/net.bin"),), filename="net.bin", format="raw")
    kept = cancelled_download(spec, 150_000, monkeypatch)
    window = kept - download.RESUME_OVERLAP
    new = np.random.default_rng(2).bytes(window) + old[window:kept] + b"another tail"
    server.routes["/net.bin"] = Route(body=new)

    assert download.download(spec).read_bytes() == new
    assert server.ranges("/net.bin")[-2:] == [f"bytes={window}-", None]


def test_server_ignoring_range_restarts_cleanly(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body, honour_range=False, cut_after=100_000, cuts=1,
                                      etag=ETAG)
    spec = make_spec(urls=(server.url("/net.pth"),), sha256=sha256(body))

    assert download.download(spec).read_bytes() == body  # the 200 answer was not appended
    assert server.ranges("/net.pth") == [None, "bytes=100000-"]


def test_complete_partial_file_answered_416_is_installed(server, make_spec, monkeypatch):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body, etag=ETAG)
    spec = make_spec(urls=(server.url("/net.pth"),), sha256=sha256(body))
    assert cancelled_download(spec, len(body), monkeypatch) == len(body)  # before the check

    assert download.download(spec).read_bytes() == body
    assert server.ranges("/net.pth")[-1] == f"bytes={len(body)}-"


def test_oversized_partial_file_answered_416_restarts(server, make_spec, monkeypatch):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body, etag=ETAG)
    spec = make_spec(urls=(server.url("/net.pth"),), sha256=sha256(body))
    cancelled_download(spec, len(body), monkeypatch)
    with open(weights.partial_path(spec.id), "ab") as part:
        part.write(b"garbage")

    assert download.download(spec).read_bytes() == body
    assert server.ranges("/net.pth")[-2:] == [f"bytes={len(body) + 7}-", None]


def test_hash_mismatch_removes_the_bad_file(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    spec = make_spec(urls=(server.url("/net.pth"),), sha256=sha256(b"something else"))

    with pytest.raises(weights.HashMismatchError, match="bad file was removed"):
        download.download(spec)

    folder = weights.local_path(spec.id).parent
    assert not weights.local_path(spec.id).exists()
    assert not weights.partial_path(spec.id).exists()
    assert not folder.exists()  # nothing of the bad file, not even its empty folder
    assert weights.installation(spec.id).state is weights.InstallState.MISSING


def test_md5_is_checked_too(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    good = make_spec(urls=(server.url("/net.pth"),), md5=hashlib.md5(body).hexdigest())
    bad = make_spec(urls=(server.url("/net.pth"),), md5="0" * 32)

    assert download.download(good).read_bytes() == body
    with pytest.raises(weights.HashMismatchError, match="md5"):
        download.download(bad)


def test_http_404_is_a_clear_error(server, make_spec):
    spec = make_spec(urls=(server.url("/gone.pth"),))

    with pytest.raises(download.HTTPStatusError, match="HTTP 404") as error:
        download.download(spec)

    assert error.value.status == 404
    assert not weights.partial_path(spec.id).exists()


def test_offline_is_a_clear_error(make_spec, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = make_spec(urls=(f"http://127.0.0.1:{port}/net.pth",))

    with pytest.raises(download.OfflineError,
                       match=f"cannot reach 127.0.0.1:{port}: .*no network connection"):
        download.download(spec)
    assert not weights.local_path(spec.id).parent.exists()  # no empty model folder left


def test_mirrors_are_tried_in_order(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/mirror.pth"] = Route(body=body)
    spec = make_spec(urls=(server.url("/gone.pth"), server.url("/mirror.pth")),
                     sha256=sha256(body))

    assert download.download(spec).read_bytes() == body

    both_bad = make_spec(urls=(server.url("/gone.pth"), server.url("/gone-too.pth")))
    with pytest.raises(download.HTTPStatusError, match="all 2 download addresses failed"):
        download.download(both_bad)


def test_a_web_page_instead_of_the_checkpoint_is_rejected(server, make_spec, monkeypatch):
    monkeypatch.setattr(download, "DRIVE_HOSTS", set())  # an ordinary host, not Drive
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
    server.routes["/portal"] = Route(body=page, content_type="text/html")
    server.routes["/mislabelled"] = Route(body=page)
    portal = make_spec(urls=(server.url("/portal"),), size=300_000)
    mislabelled = make_spec(urls=(server.url("/mislabelled"),), size=300_000)

    with pytest.raises(weights.WrongFileError, match="web page"):
        download.download(portal)
    with pytest.raises(weights.WrongFileError, match="web page"):
        download.download(mislabelled)
    assert not weights.partial_path(mislabelled.id).exists()


def test_wrong_format_and_size_are_rejected(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    wants_torchscript = make_spec(urls=(server.url("/net.pth"),), format="torchscript")
    far_off_in_size = make_spec(urls=(server.url("/net.pth"),), size=50 * len(body))

    with pytest.raises(weights.WrongFileError, match="not a TorchScript model"):
        download.download(wants_torchscript)
    with pytest.raises(weights.WrongFileError, match="not the right file"):
        download.download(far_off_in_size)
    assert not weights.partial_path(far_off_in_size.id).exists()


def test_a_checkpoint_cut_short_on_the_server_is_called_so(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/cut.pth"] = Route(body=body[:len(body) * 9 // 10])
    spec = make_spec(urls=(server.url("/cut.pth"),), size=len(body))  # within tolerance

    with pytest.raises(weights.WrongFileError) as error:
        download.download(spec)

    assert str(error.value) == (f"the file from 127.0.0.1:{server.port} is a zip archive cut "
                                f"short ({weights.format_size(len(body) * 9 // 10)}), as an "
                                "interrupted download or copy leaves it; the bad file was "
                                "removed")
    assert not weights.partial_path(spec.id).parent.exists()


def test_unhashed_file_of_about_the_right_size_is_accepted(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    spec = make_spec(urls=(server.url("/net.pth"),), size=int(len(body) * 1.1))

    assert download.download(spec).read_bytes() == body
    assert weights.read_manifest(spec.id)["checked"] == "size and format"


def test_spec_without_address_says_how_to_import(make_spec):
    spec = make_spec(manual="ask the authors for the file")

    with pytest.raises(download.DownloadError, match=r"ask the authors.*models import"):
        download.download(spec)


class FullDisk(io.FileIO):
    """A file on a disk that is full once ``ROOM`` bytes are in it (the test's ``open``)."""

    ROOM = 16384

    def write(self, data):
        if self.tell() >= self.ROOM:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_full_disk_keeps_the_partial_file(server, make_spec, monkeypatch):
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    server.routes["/mirror.pth"] = Route(body=body)
    spec = make_spec(urls=(server.url("/net.pth"), server.url("/mirror.pth")),
                     sha256=sha256(body))
    monkeypatch.setattr(download, "CHUNK_SIZE", 16384)
    monkeypatch.setattr(download, "open", lambda path, mode: FullDisk(path, mode), raising=False)

    with pytest.raises(download.DiskFullError, match="is full") as error:
        download.download(spec)

    assert error.value.errno == errno.ENOSPC  # what the CLI's exit code reads
    assert isinstance(error.value.__cause__, OSError)
    assert error.value.__cause__.errno == errno.ENOSPC
    assert "free some space and run the download again to resume" in str(error.value)
    assert 0 < weights.partial_path(spec.id).stat().st_size < len(body)  # kept to resume
    assert not weights.local_path(spec.id).exists()  # no partial file installed
    assert server.ranges("/mirror.pth") == []  # no mirror fits either: not tried


def test_a_full_disk_met_when_the_file_is_closed_is_said_alike(server, make_spec,
                                                                monkeypatch):
    """The last bytes of a buffered file reach the disk only when it is closed."""
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    spec = make_spec(urls=(server.url("/net.pth"),), sha256=sha256(body))

    class FullOnClose(io.FileIO):
        def close(self):
            flushing = not self.closed and str(self.name).endswith(".part")
            super().close()
            if flushing:
                raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download, "open", lambda path, mode: FullOnClose(path, mode),
                        raising=False)
    with pytest.raises(download.DiskFullError, match="is full") as error:
        download.download(spec)
    assert error.value.errno == errno.ENOSPC
    assert not weights.local_path(spec.id).exists()


def test_too_little_room_to_extract_is_a_full_disk(server, make_spec, monkeypatch):
    body = checkpoint_bytes(seed=5)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("net.pth", body)
    server.routes["/net.zip"] = Route(body=archive.getvalue())
    spec = make_spec(urls=(server.url("/net.zip"),), archive_member="net.pth",
                     sha256=sha256(archive.getvalue()))
    real_usage = download.shutil.disk_usage
    monkeypatch.setattr(download.shutil, "disk_usage",
                        lambda path: real_usage(path)._replace(free=1000))

    with pytest.raises(download.DiskFullError, match="not enough disk space") as error:
        download.download(spec)
    assert error.value.errno == errno.ENOSPC
    assert not weights.local_path(spec.id).exists()

    monkeypatch.setattr(download.shutil, "disk_usage", real_usage)  # room made
    assert download.download(spec).read_bytes() == body


# --- cancel -------------------------------------------------------------------------------


def test_cancel_keeps_the_partial_file_for_resume(server, make_spec, monkeypatch):
    body = checkpoint_bytes()
    server.routes["/slow.pth"] = Route(body=body, delay=0.01, etag=ETAG)
    spec = make_spec(urls=(server.url("/slow.pth"),), sha256=sha256(body))
    monkeypatch.setattr(download, "CHUNK_SIZE", 8192)
    token = CancelToken()

    def cancel_after_some(done, total):
        if done >= 40_000:
            token.cancel()

    with pytest.raises(Cancelled):
        download.download(spec, progress=cancel_after_some, cancel=token)
    kept = weights.partial_path(spec.id).stat().st_size  # its folder stays with it
    assert 40_000 <= kept < len(body)
    assert not weights.local_path(spec.id).exists()

    server.routes["/slow.pth"].delay = 0.0
    assert download.download(spec).read_bytes() == body
    assert server.ranges("/slow.pth")[-1] == f"bytes={kept}-"


def test_remove_deletes_a_partial_download_with_its_record(server, make_spec, monkeypatch):
    body = checkpoint_bytes()
    server.routes["/slow.pth"] = Route(body=body, delay=0.002, etag=ETAG)
    spec = make_spec(urls=(server.url("/slow.pth"),), size=len(body))
    kept = cancelled_download(spec, 50_000, monkeypatch)
    folder = weights.local_path(spec.id).parent
    assert sorted(p.name for p in folder.iterdir()) == ["net.pth.part", "net.pth.part.json"]

    assert weights.remove(spec.id) > kept
    assert not folder.exists()


@pytest.mark.parametrize("where", ["in the body", "before the answer"])
def test_cancel_while_the_server_stalls_returns_at_once(server, make_spec, monkeypatch, where):
    """The server sends 64 kB (or nothing) and then stalls. Socket reads wait up to
    TIMEOUT_S (made far longer than the joins below): the cancel must not wait for it."""
    body = checkpoint_bytes()
    stall = {"in the body": {"stall_after": 65536}, "before the answer":
             {"stall_before_answer": True}}[where]
    server.routes["/stall.pth"] = Route(body=body, etag=ETAG, **stall)
    spec = make_spec(urls=(server.url("/stall.pth"),), size=len(body))
    monkeypatch.setattr(download, "TIMEOUT_S", 600.0)
    monkeypatch.setattr(download, "CHUNK_SIZE", 8192)
    received = threading.Event()
    token = CancelToken()
    thread, outcome, _told = _download_in_thread(
        spec.id, cancel=token, progress=lambda done, total: done >= 65536 and received.set())
    if where == "in the body":
        assert received.wait(20)
    else:
        deadline = time.monotonic() + 20
        while not server.ranges("/stall.pth") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.ranges("/stall.pth") == [None]

    token.cancel()
    thread.join(20)

    assert not thread.is_alive() and isinstance(outcome.get("error"), Cancelled)
    if where == "in the body":
        assert server.closed_by_client.wait(20)  # the connection was shut down
        assert weights.partial_path(spec.id).stat().st_size == 65536  # kept for a resume


def test_a_cancel_during_a_stall_is_prompt_and_the_part_resumes_later(server, make_spec,
                                                                       monkeypatch):
    """The server sends the first 64 kB and stalls. The cancel must not wait for the stalled
    read to time out (TIMEOUT_S 5 s; it takes well under half of that); the bytes received
    are kept, and the next download asks for the rest only."""
    body = checkpoint_bytes()
    server.routes["/stall.pth"] = Route(body=body, etag=ETAG, stall_at=65536)
    spec = make_spec(urls=(server.url("/stall.pth"),), sha256=sha256(body))
    monkeypatch.setattr(download, "TIMEOUT_S", 5.0)
    monkeypatch.setattr(download, "CHUNK_SIZE", 8192)
    received = threading.Event()
    token = CancelToken()
    thread, outcome, _told = _download_in_thread(
        spec.id, cancel=token, progress=lambda done, total: done >= 65536 and received.set())
    assert received.wait(20)

    cancelled_at = time.monotonic()
    token.cancel()
    thread.join(20)
    took = time.monotonic() - cancelled_at

    assert not thread.is_alive() and isinstance(outcome.get("error"), Cancelled)
    assert took < 0.4 * download.TIMEOUT_S
    assert weights.partial_path(spec.id).stat().st_size == 65536
    assert weights.installation(spec.id).state is weights.InstallState.PARTIAL

    server.routes["/stall.pth"].stall_at = None
    assert download.download(spec).read_bytes() == body
    assert server.ranges("/stall.pth") == [None, "bytes=65536-"]


def test_a_server_that_stops_sending_fails_keeping_the_part(server, make_spec, monkeypatch):
    """No byte for TIMEOUT_S is a stall: the transfer reconnects and resumes; when the
    reconnects bring nothing either, the download fails saying so, and keeps what came."""
    body = checkpoint_bytes()
    server.routes["/stall.pth"] = Route(body=body, etag=ETAG, stall_at=65536)
    spec = make_spec(urls=(server.url("/stall.pth"),), sha256=sha256(body))
    monkeypatch.setattr(download, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(download, "MAX_STALLED_ATTEMPTS", 2)

    with pytest.raises(download.DownloadError) as failure:
        download.download(spec)

    assert str(failure.value) == (
        f"the download from 127.0.0.1:{server.port} keeps failing (the server stopped sending "
        "for 0.5 s); 66 kB are kept: run the download again to resume")
    assert weights.partial_path(spec.id).stat().st_size == 65536
    assert server.ranges("/stall.pth")[-2:] == ["bytes=65536-"] * 2  # reconnected, resumed

    server.routes["/stall.pth"].stall_at = None
    assert download.download(spec).read_bytes() == body
    assert server.ranges("/stall.pth")[-1] == "bytes=65536-"


def test_a_server_that_never_answers_is_named_as_such(server, make_spec, monkeypatch):
    server.routes["/mute.pth"] = Route(body=checkpoint_bytes(), stall_before_answer=True)
    spec = make_spec(urls=(server.url("/mute.pth"),), size=300_000)
    monkeypatch.setattr(download, "TIMEOUT_S", 0.5)

    with pytest.raises(download.OfflineError, match=r"^127\.0\.0\.1:\d+ accepted the "
                                                    r"connection but sent no answer for 0\.5 s"):
        download.download(spec)
    assert not weights.local_path(spec.id).parent.exists()  # nothing to resume


# --- another process on the same checkpoint ------------------------------------------------


def _download_in_thread(spec_id: str, **kwargs):
    """Start ``download.download`` on a thread; (thread, outcome dict, first-wait event)."""
    outcome: dict = {"messages": []}
    told = threading.Event()

    def waiting(message: str) -> None:
        outcome["messages"].append(message)
        told.set()

    def work() -> None:
        try:
            outcome["path"] = download.download(spec_id, waiting=waiting, **kwargs)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome, told


def _served_and_held(server, make_spec, checkpoint_held):
    """A served checkpoint whose lock another process holds: (body, spec, that process)."""
    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    spec = make_spec(urls=(server.url("/net.pth"),), sha256=sha256(body))
    return body, spec, checkpoint_held(spec.id)


def test_waits_for_another_process_and_takes_its_file(server, make_spec, checkpoint_held):
    body, spec, other = _served_and_held(server, make_spec, checkpoint_held)

    thread, outcome, told = _download_in_thread(spec.id)
    assert told.wait(20)
    time.sleep(0.3)
    assert thread.is_alive() and server.requests == []
    assert not weights.partial_path(spec.id).exists()
    # the other process finishes its download, then lets go
    target = weights.local_path(spec.id)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    weights.write_manifest(spec.id, sha256(body), "the other process", "sha256")
    other.release()
    thread.join(20)

    assert outcome.get("path") == target and "error" not in outcome
    assert server.requests == []  # nothing downloaded twice
    assert len(outcome["messages"]) == 1 and "another" in outcome["messages"][0]


def test_a_crashed_holder_does_not_block_the_download(server, make_spec, checkpoint_held):
    body, spec, other = _served_and_held(server, make_spec, checkpoint_held)
    thread, outcome, told = _download_in_thread(spec.id)
    assert told.wait(20)

    other.crash()
    thread.join(20)

    assert outcome.get("path") == weights.local_path(spec.id)
    assert outcome["path"].read_bytes() == body


def test_cancel_while_waiting_for_another_process(server, make_spec, checkpoint_held):
    _body, spec, _other = _served_and_held(server, make_spec, checkpoint_held)
    token = CancelToken()
    thread, outcome, told = _download_in_thread(spec.id, cancel=token)
    assert told.wait(20)

    token.cancel()
    thread.join(5)

    assert not thread.is_alive() and isinstance(outcome.get("error"), Cancelled)
    assert server.requests == [] and not weights.local_path(spec.id).exists()


def test_import_waits_for_another_process_too(make_spec, checkpoint_held, tmp_path):
    body = checkpoint_bytes(20_000)
    spec = make_spec(sha256=sha256(body))
    source = tmp_path / "net.pth"
    source.write_bytes(body)
    other = checkpoint_held(spec.id)
    told = threading.Event()
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(path=download.import_file(
        spec.id, source, waiting=lambda message: told.set())))
    thread.start()
    assert told.wait(20)
    time.sleep(0.2)
    assert not weights.local_path(spec.id).exists()

    other.release()
    thread.join(20)
    assert outcome["path"].read_bytes() == body


def test_remove_refuses_while_another_process_holds_the_checkpoint(make_spec, checkpoint_held,
                                                                   tmp_path):
    body = checkpoint_bytes(20_000)
    spec = make_spec(sha256=sha256(body))
    source = tmp_path / "net.pth"
    source.write_bytes(body)
    installed = download.import_file(spec.id, source)
    other = checkpoint_held(spec.id)

    with pytest.raises(weights.CheckpointBusyError, match="another"):
        weights.remove(spec.id)
    assert installed.read_bytes() == body and weights.read_manifest(spec.id)

    other.release()
    expected = len(body) + weights.manifest_path(spec.id).stat().st_size
    assert weights.remove(spec.id) == expected
    assert not installed.exists()


def test_a_second_transfer_in_the_same_process_fails_at_once(server, make_spec, monkeypatch):
    body = checkpoint_bytes()
    server.routes["/slow.pth"] = Route(body=body, delay=0.01)
    spec = make_spec(urls=(server.url("/slow.pth"),), sha256=sha256(body))
    monkeypatch.setattr(download, "CHUNK_SIZE", 8192)
    started = threading.Event()
    thread = threading.Thread(target=lambda: download.download(
        spec, progress=lambda done, total: started.set()))
    thread.start()
    assert started.wait(20)

    with pytest.raises(download.DownloadError, match="already being downloaded"):
        download.download(spec)
    with pytest.raises(weights.CheckpointBusyError):
        weights.remove(spec.id)
    assert weights.partial_path(spec.id).exists()
    thread.join(20)
    assert weights.local_path(spec.id).read_bytes() == body


# --- Google Drive -------------------------------------------------------------------------


@pytest.mark.parametrize("file_id", ["old-cookie-style", "new-form-style"])
def test_google_drive_confirmation_page(server, make_spec, file_id):
    body = checkpoint_bytes()
    server.drive_files[file_id] = body
    spec = make_spec(urls=(download.drive_url(file_id),), sha256=sha256(body))

    assert download.download(spec).read_bytes() == body
    last_path = server.requests[-1][1]
    if file_id.startswith("old"):
        assert "confirm=Xk3q" in last_path
    else:
        assert last_path.startswith("/download?") and "uuid=" in last_path
        assert [p.split("?")[0] for _, p, _ in server.requests] == ["/uc", "/download",
                                                                    "/download"]


def test_google_drive_download_resumes_after_the_confirmation(server, make_spec,
                                                              monkeypatch):
    body = checkpoint_bytes()
    server.drive_files["new-resume"] = body
    spec = make_spec(urls=(download.drive_url("new-resume"),), sha256=sha256(body))
    kept = cancelled_download(spec, 50_000, monkeypatch)
    assert kept < len(body)

    assert download.download(spec).read_bytes() == body
    assert server.ranges("/download")[-1] == f"bytes={kept}-"


def test_google_drive_error_page_is_reported(server, make_spec):
    spec = make_spec(urls=(download.drive_url("quota"),))

    with pytest.raises(download.DownloadError, match=r"Google Drive refused.*Too many users"):
        download.download(spec)


def test_drive_confirmation_parser_reads_the_download_url_json():
    page = '<script>var x = {"downloadUrl":"https://h.example/d?id\\u003d1\\u0026c\\u003dt"};'
    url, data = download._drive_confirmation(page, "https://h.example/uc", "https://x/uc",
                                             http.cookiejar.CookieJar())
    assert (url, data) == ("https://h.example/d?id=1&c=t", None)


# --- zip archives -------------------------------------------------------------------------


def test_zip_download_extracts_only_the_member(server, make_spec, tmp_path):
    member = checkpoint_bytes(seed=3)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("big-lama/config.yaml", "generator: ffc\n")
        zipped.writestr("big-lama/models/best.ckpt", member)
        zipped.writestr("../escape.txt", "must never be written")
    body = archive.getvalue()
    server.routes["/big-lama.zip"] = Route(body=body)
    spec = make_spec(urls=(server.url("/big-lama.zip"),), filename="best.ckpt",
                     archive_member="big-lama/models/best.ckpt", sha256=sha256(body),
                     format="lightning")

    path = download.download(spec)

    assert path.read_bytes() == member
    cache = weights.cache_dir()
    assert sorted(p.name for p in path.parent.iterdir()) == ["best.ckpt", "manifest.json"]
    assert not (cache / "escape.txt").exists() and not (cache.parent / "escape.txt").exists()
    assert weights.read_manifest(spec.id)["sha256"] == sha256(member)
    assert "format" in weights.verify(spec.id)


def test_one_zip_download_installs_the_members_its_engine_needs(server, make_spec):
    edge, inpaint = checkpoint_bytes(seed=1), checkpoint_bytes(seed=2)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("places2/EdgeModel_gen.pth", edge)
        zipped.writestr("places2/InpaintingModel_gen.pth", inpaint)
        zipped.writestr("celeba/EdgeModel_gen.pth", edge)
    server.routes["/checkpoints.zip"] = Route(body=archive.getvalue())
    common = {"urls": (server.url("/checkpoints.zip"),), "engine": "edgeconnect-test"}
    edge_spec = make_spec(filename="EdgeModel_gen.pth",
                          archive_member="places2/EdgeModel_gen.pth", **common)
    inpaint_spec = make_spec(filename="InpaintingModel_gen.pth",
                             archive_member="places2/InpaintingModel_gen.pth", **common)
    other_engine = make_spec(filename="EdgeModel_gen.pth", archive_member="celeba/EdgeModel_gen.pth",
                             urls=common["urls"], engine="edgeconnect-other")

    assert download.download(edge_spec).read_bytes() == edge

    assert weights.local_path(inpaint_spec.id).read_bytes() == inpaint
    assert weights.read_manifest(inpaint_spec.id)["sha256"] == sha256(inpaint)
    assert not weights.is_present(other_engine.id)  # another engine's member is left alone
    assert download.download(inpaint_spec).read_bytes() == inpaint
    assert len(server.ranges("/checkpoints.zip")) == 1
    assert not weights.partial_path(edge_spec.id).exists()


def test_zip_without_the_member_is_rejected(server, make_spec):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("other/file.bin", b"x" * 1000)
    server.routes["/other.zip"] = Route(body=archive.getvalue())
    spec = make_spec(urls=(server.url("/other.zip"),), filename="best.ckpt",
                     archive_member="big-lama/models/best.ckpt")

    with pytest.raises(weights.WrongFileError) as refused:
        download.download(spec)
    assert str(refused.value) == (f"the file from 127.0.0.1:{server.port} holds other/file.bin "
                                  "but has no 'big-lama/models/best.ckpt', the Test net "
                                  f"checkpoint ({spec.id}); the bad file was removed")
    assert not weights.partial_path(spec.id).exists()


# --- the command line ---------------------------------------------------------------------


def test_cli_download_and_failure_exit_codes(server, make_spec, capsys):
    from main import main

    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    good = make_spec(urls=(server.url("/net.pth"),), sha256=sha256(body))
    bad = make_spec(urls=(server.url("/net.pth"),), sha256="f" * 64)

    assert main(["models", "download", good.id]) == 0
    assert weights.local_path(good.id).read_bytes() == body
    assert main(["models", "download", bad.id]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "sha256" in err and "Traceback" not in err
    assert not weights.partial_path(bad.id).exists()


def test_cli_download_onto_a_full_disk_exits_1_saying_so(server, make_spec, capsys,
                                                        monkeypatch):
    """Exit 1 (the work ran, its result could not be kept), as any write onto a full disk,
    not 2 (refused); with several checkpoints the rest are not tried."""
    from main import main

    body = checkpoint_bytes()
    server.routes["/net.pth"] = Route(body=body)
    server.routes["/other.pth"] = Route(body=body)
    spec = make_spec(urls=(server.url("/net.pth"),), sha256=sha256(body))
    other = make_spec(urls=(server.url("/other.pth"),), sha256=sha256(body))
    monkeypatch.setattr(download, "CHUNK_SIZE", 16384)
    monkeypatch.setattr(download, "open", lambda path, mode: FullDisk(path, mode), raising=False)

    assert main(["models", "download", "-q", spec.id]) == 1
    err = capsys.readouterr().err
    folder = weights.local_path(spec.id).parent
    assert f"error: the disk holding {folder} is full" in err
    assert "free some space" in err and "looks like a bug" not in err
    assert not weights.local_path(spec.id).exists()
    assert weights.partial_path(spec.id).is_file()

    assert main(["models", "download", "-q", spec.id, other.id]) == 1
    err = capsys.readouterr().err
    assert f"error: {spec.id}: the disk holding {folder} is full" in err
    assert f"not tried: {other.id}" in err
    assert server.ranges("/other.pth") == [] and not weights.is_present(other.id)


def test_cli_import_without_room_exits_1(make_spec, capsys, monkeypatch, tmp_path):
    from main import main

    body = checkpoint_bytes(seed=6)
    source = tmp_path / "net.pth"
    source.write_bytes(body)
    spec = make_spec(sha256=sha256(body))
    real_usage = download.shutil.disk_usage
    monkeypatch.setattr(download.shutil, "disk_usage",
                        lambda path: real_usage(path)._replace(free=1000))

    assert main(["models", "import", spec.id, str(source)]) == 1
    err = capsys.readouterr().err
    assert "error: not enough disk space in" in err and "looks like a bug" not in err
    assert not weights.local_path(spec.id).exists() and source.read_bytes() == body


def test_cli_says_it_waits_and_refuses_to_remove_a_held_checkpoint(server, make_spec, capsys,
                                                                     checkpoint_held):
    from main import main

    body, spec, other = _served_and_held(server, make_spec, checkpoint_held)
    threading.Timer(1.0, other.release).start()

    assert main(["models", "download", "-q", spec.id]) == 0
    assert "waiting for it to finish" in capsys.readouterr().err
    assert weights.local_path(spec.id).read_bytes() == body

    checkpoint_held(spec.id)
    assert main(["models", "remove", spec.id]) == 2
    err = capsys.readouterr().err
    assert "try again when it has finished" in err and "Traceback" not in err
    assert weights.local_path(spec.id).read_bytes() == body


def test_cli_ctrl_c_keeps_the_partial_file(server, make_spec, capsys, monkeypatch):
    """A real SIGINT to the main thread, with Python's own handler installed: an earlier
    test or library may have left another one (Qt programs often restore SIG_DFL), under
    which ``_thread.interrupt_main`` silently does nothing."""
    import signal

    from main import main

    # 4 MB at 8 KiB per 20 ms takes 10 s: the interrupt, sent after 20 kB, lands long before
    # the end even when a loaded machine starves the thread that sends it
    body = checkpoint_bytes(4_000_000)
    server.routes["/slow.pth"] = Route(body=body, delay=0.02)
    spec = make_spec(urls=(server.url("/slow.pth"),), sha256=sha256(body))
    monkeypatch.setattr(download, "CHUNK_SIZE", 8192)
    part = weights.partial_path(spec.id)
    main_thread = threading.main_thread().ident

    def press_ctrl_c_once_started():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if part.is_file() and part.stat().st_size > 20_000:
                signal.pthread_kill(main_thread, signal.SIGINT)
                return
            time.sleep(0.01)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=press_ctrl_c_once_started, daemon=True).start()
        assert main(["models", "download", spec.id]) == 130
    finally:
        signal.signal(signal.SIGINT, previous)

    kept = part.stat().st_size
    assert 20_000 < kept < len(body) and not weights.is_present(spec.id)
    assert "run the same command to resume" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_installed_files_get_the_mode_the_umask_gives(server, make_spec, tmp_path):
    body = checkpoint_bytes(seed=4)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("net.pth", body)
    server.routes["/net.zip"] = Route(body=archive.getvalue())
    zipped_spec = make_spec(urls=(server.url("/net.zip"),), archive_member="net.pth",
                            sha256=sha256(archive.getvalue()))
    imported_spec = make_spec(sha256=sha256(body))
    source = tmp_path / "net.pth"
    source.write_bytes(body)
    previous = os.umask(0o027)
    try:
        installed = [download.download(zipped_spec),
                     download.import_file(imported_spec.id, source)]
    finally:
        os.umask(previous)
    for path in installed:
        for file in (path, path.parent / "manifest.json"):
            assert stat.S_IMODE(file.stat().st_mode) == 0o640, file  # not private 0600


def test_a_download_cut_before_its_first_byte_leaves_nothing(server, make_spec):
    body = checkpoint_bytes()
    server.routes["/empty.pth"] = Route(body=body, cut_after=0, cuts=99, etag='"v1"')
    spec = make_spec(urls=(server.url("/empty.pth"),))

    with pytest.raises(download.DownloadError, match="keeps failing"):
        download.download(spec)
    assert not weights.partial_path(spec.id).exists()
    assert not weights.partial_record_path(spec.id).exists()
    assert not weights.local_path(spec.id).parent.exists()  # no empty model folder left
