"""The offline manifest the servers render blocks from: ``key -> HTML``.

Read once per process. A manifest on disk (``COMPRESS_ROOT/COMPRESS_OUTPUT_DIR/
COMPRESS_OFFLINE_MANIFEST``, or the ``compressor-offline`` storage when ``STORAGES`` names one)
is read again when its size, modification time or inode change: a ``stat`` tells, at most once
a second, and at once when a key is not found. stapler replaces the file by renaming, so a
reader never sees half of one. A manifest named by
``STAPLER_MANIFEST_URL`` (``s3://bucket/key`` with boto3, ``https://`` with urllib) is read at
the first render and kept for the life of the process: a rolling deploy publishes a manifest
that holds the keys of the last releases, so servers of either release find theirs.
"""

import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request

from django.core.exceptions import ImproperlyConfigured

from .conf import setting

# How long a remote manifest that could not be read is not asked for again.
RETRY_SECONDS = 30


class ManifestUnavailable(Exception):
    """The manifest could not be read: the message says where from and why."""


def location():
    """Where the manifest is read from, as a path or an URL, for messages."""
    return _source().describe()


def lookup(key):
    """The manifest's HTML for ``key``, or None. A key not found is looked for again in the
    manifest as it is on disk now, whenever it was last checked."""
    source = _source()
    html = source.entries().get(key)
    if html is None and source.refresh():
        html = source.entries().get(key)
    return html


def entries():
    """The whole manifest, read as :func:`lookup` reads it."""
    return _source().entries()


def load():
    """Reads the manifest now (a server's start-up can call it, so a bucket that cannot be
    reached stops the start rather than the first page). Returns how many keys it holds."""
    return len(_source().entries())


def forget():
    """Drops what was read and where from; the next render reads the manifest again."""
    global _current
    _current = None


_current = None
_lock = threading.Lock()


def _source():
    global _current
    current = _current
    if current is None:
        with _lock:
            if _current is None:
                _current = _make_source()
            current = _current
    return current


def _make_source():
    url = setting("STAPLER_MANIFEST_URL")
    if url:
        return RemoteManifest(_manifest_url(str(url)))
    from django.conf import settings as django_settings

    storages = getattr(django_settings, "STORAGES", None) or {}
    if "compressor-offline" in storages:
        return StorageManifest("compressor-offline", setting("COMPRESS_OFFLINE_MANIFEST"))
    return FileManifest(
        os.path.join(
            setting("COMPRESS_ROOT"),
            setting("COMPRESS_OUTPUT_DIR"),
            setting("COMPRESS_OFFLINE_MANIFEST"),
        )
    )


def _manifest_url(url):
    """The URL as given, or, for one naming a folder (ending with a slash), the manifest under
    it as ``stapler publish`` lays it out."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("s3", "https", "http"):
        raise ImproperlyConfigured(
            "STAPLER_MANIFEST_URL is %r: name the manifest as s3://bucket/key or an https:// "
            "URL" % url
        )
    if url.endswith("/"):
        url += "%s/%s" % (
            setting("COMPRESS_OUTPUT_DIR").strip("/"),
            setting("COMPRESS_OFFLINE_MANIFEST"),
        )
    return url


def _parse(data, where):
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError as error:
        raise ManifestUnavailable("the offline manifest %s is not JSON: %s" % (where, error))
    if not isinstance(manifest, dict):
        raise ManifestUnavailable("the offline manifest %s is not a JSON object" % where)
    return manifest


# How often a manifest file is checked for a change while every key is found (a key not
# found checks at once). A stat costs about as much as a tenth of a block's render.
CHECK_SECONDS = 1.0


class FileManifest:
    """A manifest file, read again when it changes. No file is an empty manifest, as for
    django-compressor."""

    def __init__(self, path):
        self.path = path
        self.stamp = self
        self.manifest = {}
        self.checked = None

    def describe(self):
        return self.path

    def entries(self):
        now = time.monotonic()
        if self.checked is None or now - self.checked >= CHECK_SECONDS:
            self.checked = now
            self.refresh()
        return self.manifest

    def refresh(self):
        """Reads the file again if it changed; True when it did."""
        try:
            info = os.stat(self.path)
            stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        except OSError:
            stamp = None
        if stamp == self.stamp:
            return False
        self._read(stamp)
        return True

    def _read(self, stamp):
        if stamp is None:
            manifest = {}
        else:
            try:
                with open(self.path, "rb") as file:
                    manifest = _parse(file.read(), self.path)
            except FileNotFoundError:  # replaced between the stat and the open
                return
        self.manifest = manifest
        self.stamp = stamp


class StorageManifest:
    """A manifest in the Django storage ``STORAGES["compressor-offline"]``, read once."""

    def __init__(self, alias, name):
        self.alias = alias
        self.name = name
        self.manifest = None

    def describe(self):
        return "%s in the %r storage" % (self.name, self.alias)

    def refresh(self):
        return False

    def entries(self):
        if self.manifest is None:
            from django.core.files.storage import storages

            storage = storages[self.alias]
            if storage.exists(self.name):
                with storage.open(self.name) as file:
                    self.manifest = _parse(file.read(), self.describe())
            else:
                self.manifest = {}
        return self.manifest


class RemoteManifest:
    """A manifest read once from ``s3://`` or ``https://``."""

    def __init__(self, url):
        self.url = url
        self.manifest = None
        self.failed = None
        self.lock = threading.Lock()

    def describe(self):
        return self.url

    def refresh(self):
        return False

    def entries(self):
        manifest = self.manifest
        if manifest is not None:
            return manifest
        with self.lock:
            if self.manifest is None:
                if self.failed and time.monotonic() - self.failed[0] < RETRY_SECONDS:
                    raise self.failed[1]
                try:
                    self.manifest = _parse(self._fetch(), self.url)
                except ManifestUnavailable as error:
                    self.failed = (time.monotonic(), error)
                    raise
            return self.manifest

    def _fetch(self):
        timeout = float(setting("STAPLER_MANIFEST_TIMEOUT"))
        if self.url.startswith("s3://"):
            return fetch_s3(self.url, setting("STAPLER_MANIFEST_ENDPOINT_URL"), timeout)
        try:
            with urllib.request.urlopen(self.url, timeout=timeout) as response:
                return response.read()
        except OSError as error:  # URLError, HTTPError and timeouts are OSErrors
            raise ManifestUnavailable(
                "the offline manifest %s could not be read: %s" % (self.url, error)
            )


def boto3_missing_message(url):
    return (
        "STAPLER_MANIFEST_URL is %s, and reading s3:// needs boto3, which %s cannot import: "
        "pip install boto3, or name the manifest by an https:// URL (the bucket's or the "
        "CDN's) instead" % (url, sys.executable)
    )


def fetch_s3(url, endpoint_url, timeout):
    """The bytes of ``s3://bucket/key``, with boto3's credential chain."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ManifestUnavailable(boto3_missing_message(url))
    parts = urllib.parse.urlsplit(url)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            config=Config(connect_timeout=timeout, read_timeout=timeout),
        )
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:  # botocore's errors share no base class with a message
        raise ManifestUnavailable(
            "the offline manifest %s could not be read: %s: %s"
            % (url, type(error).__name__, error)
        )
