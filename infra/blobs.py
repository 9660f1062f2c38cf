"""File bytes in S3: a small storage interface (`Blobs`) and its one implementation on boto3 (`S3Blobs`).

The same code talks to the embedded moto server, MinIO and AWS. Browsers upload parts straight to S3
with presigned URLs signed for `public_url` (the name browsers reach S3 by); the server side (workers)
completes, reads, writes and aborts. ETags are kept as S3 sends them (quoted), like a browser reads
them from the part PUT's `ETag` header.

Errors: `StorageUnavailable` for what is worth retrying (connection errors, timeouts, 5xx, throttling),
`BlobNotFound` for a missing object; anything else is botocore's `ClientError` (a bug or bad input).
"""
from __future__ import annotations

import functools
import io
import logging
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Iterator, Protocol
from urllib.parse import quote

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (BotoCoreError, ClientError, ConnectionClosedError, ConnectTimeoutError,
                                 EndpointConnectionError, ReadTimeoutError)

from infra.metrics import DEPENDENCY_ERRORS
from schemas.common import one_line

log = logging.getLogger(__name__)

MiB = 1 << 20
DEFAULT_PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB  # S3's smallest part but the last one


class StorageUnavailable(Exception):
    """S3 could not be reached or answered 5xx/throttling: transient, retry later."""


class BlobNotFound(Exception):
    """No object with that key."""


class InvalidUpload(Exception):
    """S3 refused to complete a multipart upload (unknown part or ETag, a part too small, no parts) or
    the upload no longer exists: not transient."""


@dataclass(frozen=True)
class Part:
    number: int
    etag: str
    size: int


@dataclass(frozen=True)
class Upload:
    key: str
    upload_id: str
    initiated: datetime


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None
    etag: str


class BlobWriter(Protocol):
    size: int

    def write(self, data: bytes) -> int: ...


class Blobs(Protocol):
    """What pipelines and the web front need from the object store (one bucket)."""

    def ensure_bucket(self, cors_origins: list[str]) -> None: ...
    def create_multipart(self, key: str, content_type: str) -> str: ...
    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str: ...
    def presign_part(self, key: str, upload_id: str, part_number: int, expires: int | None = None) -> str: ...
    def list_parts(self, key: str, upload_id: str) -> list[Part]: ...
    def complete_multipart(self, key: str, upload_id: str, parts: list[Part]) -> None: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...
    def multipart_uploads(self, prefix: str = "") -> Iterator[Upload]: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def get_range(self, key: str, start: int, end_inclusive: int) -> bytes: ...
    def open_read(self, key: str) -> IO[bytes]: ...
    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...
    def copy(self, source_key: str, key: str) -> None: ...
    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None: ...
    def multipart_writer(self, key: str, content_type: str, part_size: int = DEFAULT_PART_SIZE): ...
    def presign_get(self, key: str, *, filename: str, content_type: str, attachment: bool,
                    expires: int | None = None) -> str: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def keys(self, prefix: str) -> Iterator[str]: ...
    def ping(self) -> None: ...


# Characters no saved file should carry in its name: path separators, and what Windows refuses.
_NOT_IN_NAMES = frozenset('/\\"<>|:*?')
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()-]")
MAX_NAME = 255


def download_name(filename: str) -> str:
    """The name a browser saves a download as: on one line (``schemas.common.one_line``: no control or
    format character such as a bidirectional override, white space as one space), no path separator nor
    character Windows refuses (each becomes "_"), no leading or trailing dots or spaces, at most 255
    characters (a longer name is cut before its extension); "file" if nothing is left."""
    name = "".join("_" if c in _NOT_IN_NAMES else c for c in one_line(filename)).strip(" .")
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        keep = len(dot + extension) if dot and len(extension) <= 16 else 0
        name = name[:MAX_NAME - keep].rstrip(" .") + name[len(name) - keep:]
    return name or "file"


def content_disposition(filename: str, attachment: bool) -> str:
    """`attachment` (or `inline`), RFC 6266: ``filename="..."``, an ASCII fallback (accents dropped, any
    other character, quotes and backslashes included, as "_", so it needs no escaping), and
    ``filename*=UTF-8''...`` (RFC 5987), the exact ``download_name`` percent-encoded. Neither can carry a
    line break, a quote or a path into the header or the saved file's name."""
    name = download_name(filename)
    unaccented = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    fallback = _FALLBACK_UNSAFE.sub("_", unaccented).strip(" .") or "file"
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


_TRANSIENT_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling",
                    "ThrottlingException"}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


_INVALID_UPLOAD_CODES = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "MalformedXML"}


@contextmanager
def _invalid_upload():
    try:
        yield
    except ClientError as exc:
        if _code(exc) in _INVALID_UPLOAD_CODES:
            raise InvalidUpload(f"S3 refused to complete the upload: {_code(exc)}") from exc
        raise


def _count_error(operation: str) -> None:
    DEPENDENCY_ERRORS.labels("s3", operation).inc()


@contextmanager
def _translated(operation: str):
    """Map botocore's failures to ours: transient ones to StorageUnavailable, a missing key to BlobNotFound.

    Each failure is counted here, once, as an S3 error of ``operation`` (the S3 API's name; a ClientError
    names its own): callers that re-raise count nothing. A missing key is an answer, not an error; S3
    refusing a browser's parts (InvalidUpload, raised inside this block) is that upload's failure
    (``chat_media_failures``), not S3's."""
    try:
        yield
    except ClientError as exc:
        if _code(exc) in _NOT_FOUND_CODES and _status(exc) < 500:
            raise BlobNotFound(str(exc)) from exc
        _count_error(getattr(exc, "operation_name", None) or operation)
        if _status(exc) >= 500 or _code(exc) in _TRANSIENT_CODES:
            raise StorageUnavailable(f"S3: {_code(exc)} ({_status(exc)})") from exc
        raise
    except (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError) as exc:
        _count_error(operation)
        raise StorageUnavailable(f"S3 unreachable: {exc}") from exc
    except (BotoCoreError, Boto3Error) as exc:  # other transport failures (urllib3 errors wrapped by botocore)
        _count_error(operation)
        if type(exc).__name__ in {"HTTPClientError", "ProxyConnectionError", "SSLError"}:
            raise StorageUnavailable(f"S3 unreachable: {exc}") from exc
        raise


@functools.lru_cache(maxsize=8)
def _s3_blobs(settings: tuple) -> "S3Blobs":
    return S3Blobs(**dict(settings))


class S3Blobs:
    """One bucket on S3, MinIO or moto, through boto3 (thread-safe: one client per instance)."""

    def __init__(self, *, endpoint_url: str | None, bucket: str, region: str = "us-east-1",
                 public_url: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, presign_seconds: int = 300,
                 connect_timeout: float = 5, read_timeout: float = 60) -> None:
        self._settings = dict(endpoint_url=endpoint_url, bucket=bucket, region=region, public_url=public_url,
                              access_key_id=access_key_id, secret_access_key=secret_access_key,
                              presign_seconds=presign_seconds, connect_timeout=connect_timeout,
                              read_timeout=read_timeout)
        self.bucket = bucket
        self.presign_seconds = presign_seconds
        # Path-style addressing (http://host/bucket/key): MinIO and moto need it, AWS accepts it.
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                        retries={"mode": "standard", "max_attempts": 3},
                        connect_timeout=connect_timeout, read_timeout=read_timeout,
                        max_pool_connections=32)
        session = boto3.session.Session(aws_access_key_id=access_key_id,
                                        aws_secret_access_key=secret_access_key, region_name=region)
        self.s3 = session.client("s3", endpoint_url=endpoint_url, config=config)
        # Presigning is local (no request): a second client whose host is the public one, since the host
        # is part of what is signed.
        self._signer = (session.client("s3", endpoint_url=public_url, config=config)
                        if public_url and public_url != endpoint_url else self.s3)
        self._region = region
        # /healthz's probe: one attempt, a short timeout (the main client retries and waits longer).
        self._probe = session.client("s3", endpoint_url=endpoint_url, config=config.merge(Config(
            retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1, read_timeout=2)))

    def __reduce__(self):
        # Sent to a CPU child (infra.embedded.cpu: the embedded default's media work) as its settings; each process
        # builds its own client once (boto3 clients are neither picklable nor shared across processes).
        return _s3_blobs, (tuple(sorted(self._settings.items())),)

    # -- the bucket ---------------------------------------------------------------------------------
    def ensure_bucket(self, cors_origins: list[str]) -> None:
        """Create the bucket if missing (idempotent) and set its CORS rule for the browsers' part PUTs."""
        with _translated("HeadBucket"):
            try:
                self.s3.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if _status(exc) != 404 and _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
                kwargs = {} if self._region == "us-east-1" else {
                    "CreateBucketConfiguration": {"LocationConstraint": self._region}}
                try:
                    self.s3.create_bucket(Bucket=self.bucket, **kwargs)
                except ClientError as race:
                    if _code(race) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise
            self.s3.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": [{
                "AllowedOrigins": list(cors_origins), "AllowedMethods": ["PUT", "GET", "HEAD"],
                "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3600}]})

    def ping(self) -> None:
        with _translated("HeadBucket"):
            self._probe.head_bucket(Bucket=self.bucket)

    # -- multipart uploads (browsers send the parts) --------------------------------------------------
    def create_multipart(self, key: str, content_type: str) -> str:
        with _translated("CreateMultipartUpload"):
            return self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)["UploadId"]

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        """Upload one part from here (workers writing what they produce); returns its ETag."""
        with _translated("UploadPart"):
            return self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part_number,
                                       Body=data)["ETag"]

    def presign_part(self, key: str, upload_id: str, part_number: int, expires: int | None = None) -> str:
        # NB: moto does not check presigned signatures or their expiry; test those against MinIO/AWS.
        return self._signer.generate_presigned_url(
            "upload_part", Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id,
                                   "PartNumber": part_number},
            ExpiresIn=expires or self.presign_seconds, HttpMethod="PUT")

    def list_parts(self, key: str, upload_id: str, *, page_size: int | None = None) -> list[Part]:
        """Every uploaded part, in part-number order (S3 answers 1,000 at most per page: all pages are read)."""
        paginator = self.s3.get_paginator("list_parts")
        config = {"PageSize": page_size} if page_size else {}
        parts: list[Part] = []
        with _translated("ListParts"):
            for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                           PaginationConfig=config):
                parts.extend(Part(int(p["PartNumber"]), p["ETag"], int(p["Size"])) for p in page.get("Parts", []))
        return sorted(parts, key=lambda p: p.number)

    def complete_multipart(self, key: str, upload_id: str, parts: list[Part]) -> None:
        """Raises InvalidUpload when S3 refuses the parts (unknown ETag, a non-last part under 5 MiB, no
        parts) or the upload is gone."""
        with _translated("CompleteMultipartUpload"), _invalid_upload():
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag}
                                           for p in sorted(parts, key=lambda p: p.number)]})

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with _translated("AbortMultipartUpload"):
            try:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except ClientError as exc:
                if _code(exc) != "NoSuchUpload" and _status(exc) != 404:
                    raise

    def multipart_uploads(self, prefix: str = "", *, page_size: int | None = None) -> Iterator[Upload]:
        """Uploads begun and neither completed nor aborted. moto reports a fixed `initiated` (2010-11-10):
        decide what is abandoned from our own records' times, not from this field alone."""
        paginator = self.s3.get_paginator("list_multipart_uploads")
        config = {"PageSize": page_size} if page_size else {}
        with _translated("ListMultipartUploads"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, PaginationConfig=config):
                for u in page.get("Uploads", []):
                    yield Upload(u["Key"], u["UploadId"], u["Initiated"])

    # -- objects ------------------------------------------------------------------------------------
    def head(self, key: str) -> ObjectInfo | None:
        with _translated("HeadObject"):
            try:
                r = self.s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _status(exc) == 404 or _code(exc) in _NOT_FOUND_CODES:
                    return None
                raise
        return ObjectInfo(int(r["ContentLength"]), r.get("ContentType"), r["ETag"])

    def get_range(self, key: str, start: int, end_inclusive: int) -> bytes:
        """Bytes start..end_inclusive (fewer if the object is shorter; b"" past its end)."""
        if end_inclusive < start:
            return b""
        with _translated("GetObject"):
            try:
                r = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end_inclusive}")
            except ClientError as exc:
                if _code(exc) == "InvalidRange":
                    return b""
                raise
            return r["Body"].read()

    def open_read(self, key: str):
        """The whole object as a stream (botocore StreamingBody: `.read(n)`, `.iter_chunks(n)`, `.close()`)."""
        with _translated("GetObject"):
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with _translated("PutObject"):
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def copy(self, source_key: str, key: str) -> None:
        """A server-side copy (CopyObject: the bytes never leave S3), its content type kept; objects up to
        5 GiB (a library GIF is far below). A missing source raises BlobNotFound."""
        with _translated("CopyObject"):
            self.s3.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": source_key},
                                MetadataDirective="COPY")

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        """Upload a readable file; past 8 MiB in 8 MiB parts (boto3's managed transfer)."""
        config = TransferConfig(multipart_threshold=DEFAULT_PART_SIZE, multipart_chunksize=DEFAULT_PART_SIZE,
                                use_threads=False)  # no thread pool: also green under eventlet
        with _translated("PutObject"):
            self.s3.upload_fileobj(fileobj, self.bucket, key, ExtraArgs={"ContentType": content_type},
                                   Config=config)

    def multipart_writer(self, key: str, content_type: str, part_size: int = DEFAULT_PART_SIZE):
        """A writable object that uploads each full part as soon as it fills (memory: about one part).
        Completes on a clean exit, aborts the upload on an exception (and re-raises). What fits in one
        part is sent as one PUT."""
        return write_in_parts(self, key, content_type, part_size)

    def presign_get(self, key: str, *, filename: str, content_type: str, attachment: bool,
                    expires: int | None = None) -> str:
        return self._signer.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key,
                                  "ResponseContentDisposition": content_disposition(filename, attachment),
                                  "ResponseContentType": content_type},
            ExpiresIn=expires or self.presign_seconds, HttpMethod="GET")

    def delete(self, key: str) -> None:
        with _translated("DeleteObject"):
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under prefix (1,000 per request); returns how many."""
        deleted, batch = 0, []
        for key in self.keys(prefix):
            batch.append({"Key": key})
            if len(batch) == 1000:
                deleted += self._delete_batch(batch)
                batch = []
        if batch:
            deleted += self._delete_batch(batch)
        return deleted

    def _delete_batch(self, batch: list[dict]) -> int:
        with _translated("DeleteObjects"):
            r = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        errors = r.get("Errors") or []
        if errors:
            _count_error("DeleteObjects")
            raise StorageUnavailable(f"S3 could not delete {len(errors)} object(s): {errors[0]}")
        return len(batch)

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        with _translated("ListObjectsV2"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    yield obj["Key"]


@contextmanager
def write_in_parts(blobs, key: str, content_type: str, part_size: int = DEFAULT_PART_SIZE):
    """`multipart_writer` for any Blobs (S3Blobs, the tests' MemoryBlobs)."""
    writer = PartWriter(blobs, key, content_type, part_size)
    try:
        yield writer
        writer.finish()
    except BaseException:
        try:
            writer.abort()
        except Exception:  # noqa: BLE001 - the original error matters more; a sweep aborts the rest
            log.warning("could not abort the multipart upload of %s (%s)", key, writer.upload_id, exc_info=True)
        raise


class PartWriter(io.RawIOBase):
    """Buffers at most one part; each full part is one `upload_part`; the multipart upload is begun with
    the first full part only. An io.RawIOBase, so text or csv writers can wrap it
    (io.TextIOWrapper(writer, encoding=..., write_through=True))."""

    def __init__(self, blobs, key: str, content_type: str, part_size: int) -> None:
        super().__init__()
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's smallest part)")
        self.blobs, self.key, self.content_type, self.part_size = blobs, key, content_type, part_size
        self.size = 0
        self.upload_id: str | None = None
        self._buffer = bytearray()
        self._parts: list[Part] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.closed:
            raise ValueError("write to a finished multipart writer")
        view = memoryview(data).cast("B")
        self._buffer += view
        self.size += len(view)
        while len(self._buffer) >= self.part_size:
            with memoryview(self._buffer) as whole:
                chunk = bytes(whole[:self.part_size])
            del self._buffer[:self.part_size]
            self._upload_part(chunk)
        return len(view)

    def _upload_part(self, chunk: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.blobs.create_multipart(self.key, self.content_type)
        number = len(self._parts) + 1
        etag = self.blobs.upload_part(self.key, self.upload_id, number, chunk)
        self._parts.append(Part(number, etag, len(chunk)))

    def finish(self) -> None:
        if self.upload_id is None:  # it all fit in one part: a single PUT
            self.blobs.put_bytes(self.key, bytes(self._buffer), self.content_type)
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            self.blobs.complete_multipart(self.key, self.upload_id, self._parts)
        self._buffer = bytearray()
        super().close()

    def abort(self) -> None:
        self._buffer = bytearray()
        if self.upload_id is not None:
            self.blobs.abort_multipart(self.key, self.upload_id)
            self.upload_id = None
        super().close()

    def close(self) -> None:
        """Closing (by a wrapper) finishes nothing: the context manager completes or aborts."""
