"""Hash and gzip state that survives from one Lambda invocation to the next.

A log too large for one invocation is copied in several; the manifest still records one sha256 of the whole
text and S3 still gets one gzip member, byte-identical to a copy made in one go. hashlib cannot export its
state, so the hash runs on OpenSSL's SHA256_CTX (the same libcrypto hashlib uses), whose plain bytes can be
saved and restored. gzip's own state is a CRC-32 and a length; deflate's is avoided by compressing each
segment with a fresh compressor ending on a sync flush, so any segment can start in a new process.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import hashlib
import struct
import zlib
from typing import Any

# struct SHA256state_st { SHA_LONG h[8]; SHA_LONG Nl, Nh; SHA_LONG data[16]; unsigned int num, md_len; }
_CTX_BYTES = 112
_CTX_ROOM = 256  # allocated with room to spare: a larger build's context would fail the self-test, not overrun

GZIP_HEADER = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x00\xff"  # deflate, no name, mtime 0, OS unknown
COMPRESS_LEVEL = 6  # zlib's own default: most of level 9's ratio at a fraction of its time


class NotResumable(Exception):
    """This process has no OpenSSL SHA-256 whose state can be saved: a copy must finish in one invocation."""


def _load_libcrypto() -> Any | None:
    """hashlib's own libcrypto first (dlsym on _hashlib searches its dependencies), then any on the path."""
    candidates: list[str] = []
    try:
        import _hashlib

        candidates.append(_hashlib.__file__)
    except (ImportError, AttributeError):
        pass
    found = ctypes.util.find_library("crypto")
    if found:
        candidates.append(found)
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
            init, update, final = lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final
        except (OSError, AttributeError):
            continue
        init.argtypes = [ctypes.c_void_p]
        update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        init.restype = update.restype = final.restype = ctypes.c_int
        return lib
    return None


_LIB = _load_libcrypto()


class ResumableSha256:
    """SHA-256 whose running state is a short string (`state()`), to be continued with `ResumableSha256(state)`."""

    resumable = True

    def __init__(self, state: str | None = None):
        if _LIB is None:
            raise NotResumable("libcrypto's SHA256_* functions are not available in this process")
        self._lib = _LIB
        self._ctx = ctypes.create_string_buffer(_CTX_ROOM)
        if state is None:
            self._lib.SHA256_Init(self._ctx)
        else:
            raw = base64.b64decode(state)
            if len(raw) != _CTX_BYTES:
                raise ValueError(f"a SHA-256 state is {_CTX_BYTES} bytes, not {len(raw)}")
            ctypes.memmove(self._ctx, raw, _CTX_BYTES)

    def update(self, data: bytes) -> None:
        self._lib.SHA256_Update(self._ctx, data, len(data))

    def state(self) -> str:
        return base64.b64encode(self._ctx.raw[:_CTX_BYTES]).decode("ascii")

    def hexdigest(self) -> str:
        """The digest so far; the running state is left as it was (Final works on a copy)."""
        scratch = ctypes.create_string_buffer(self._ctx.raw, _CTX_ROOM)
        out = ctypes.create_string_buffer(32)
        self._lib.SHA256_Final(out, scratch)
        return out.raw.hex()


def _self_test() -> bool:
    """The saved state must continue exactly as hashlib would hash the whole: checks the context layout too."""
    if _LIB is None:
        return False
    first, second = b"ecsrun " * 37, "résumé ✓".encode() * 11
    try:
        saved = ResumableSha256()
        saved.update(first)
        resumed = ResumableSha256(saved.state())
        resumed.update(second)
        return resumed.hexdigest() == hashlib.sha256(first + second).hexdigest()
    except (NotResumable, ValueError, OSError):
        return False


AVAILABLE = _self_test()


class _PlainSha256:
    """hashlib, where OpenSSL's context is out of reach: correct, but a copy using it cannot pause."""

    resumable = False

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def state(self) -> str:
        raise NotResumable("OpenSSL's SHA-256 context could not be saved and restored in this process")

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def new_hash(state: str | None = None) -> ResumableSha256 | _PlainSha256:
    if AVAILABLE:
        return ResumableSha256(state)
    if state is not None:
        raise NotResumable("a saved SHA-256 state cannot be continued in this process")
    return _PlainSha256()


def deflate_segment(data: bytes) -> bytes:
    """One self-contained stretch of a deflate stream: it refers to nothing before it and ends byte-aligned
    (sync flush, not final), so segments made in different processes concatenate into one valid stream."""
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def gzip_trailer(crc32: int, size: int) -> bytes:
    """The final empty deflate block, then gzip's CRC-32 and length (mod 2**32) of the uncompressed data."""
    return zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS).flush() + struct.pack(
        "<II", crc32 & 0xFFFFFFFF, size & 0xFFFFFFFF
    )
