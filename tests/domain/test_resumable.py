"""Hash and gzip state carried between invocations: it must continue exactly where it stopped."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import zlib

import pytest
from ecsrun.domain import resumable
from ecsrun.domain.resumable import (
    GZIP_HEADER,
    NotResumable,
    ResumableSha256,
    deflate_segment,
    gzip_trailer,
    new_hash,
)

PIECES = [b"", b"a", "résumé ✓ 日本語\n".encode() * 5000, bytes(range(256)) * 300, b"x" * 63, b"y" * 65]


def test_openssl_sha256_state_is_available_here() -> None:
    # The copy's continuation depends on it; a machine without it must be noticed, not silently skipped.
    assert resumable.AVAILABLE
    assert new_hash().resumable


@pytest.mark.parametrize("split", range(len(PIECES) + 1))
def test_a_saved_hash_continues_to_the_digest_of_the_whole(split: int) -> None:
    # Given the pieces hashed up to `split`, the state saved, and a new hasher made from that state
    first = ResumableSha256()
    for piece in PIECES[:split]:
        first.update(piece)
    second = ResumableSha256(first.state())
    for piece in PIECES[split:]:
        second.update(piece)
    # Then the digest is hashlib's digest of all the bytes
    assert second.hexdigest() == hashlib.sha256(b"".join(PIECES)).hexdigest()


def test_a_saved_hash_continues_in_another_process() -> None:
    # Given a state saved here / When another interpreter continues it
    first = ResumableSha256()
    first.update(b"first half ")
    code = (
        "import sys; from ecsrun.domain.resumable import ResumableSha256 as H; "
        "h = H(sys.argv[1]); h.update(b'second half'); print(h.hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code, first.state()], check=True, capture_output=True, text=True)
    # Then it reaches the digest of the whole text
    assert out.stdout.strip() == hashlib.sha256(b"first half second half").hexdigest()


def test_hexdigest_does_not_end_the_running_hash() -> None:
    running = ResumableSha256()
    running.update(b"abc")
    assert running.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    running.update(b"def")
    assert running.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_a_state_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="112 bytes"):
        ResumableSha256("AAAA")


def test_without_openssl_the_hash_is_still_right_but_cannot_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a process where OpenSSL's context could not be saved
    monkeypatch.setattr(resumable, "AVAILABLE", False)
    plain = new_hash()
    plain.update(b"abc")
    # Then the digest is right, and saving or restoring a state says why it cannot
    assert plain.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    assert not plain.resumable
    with pytest.raises(NotResumable):
        plain.state()
    with pytest.raises(NotResumable):
        new_hash("AAAA")


def _gzip_of(segments: list[bytes]) -> bytes:
    crc = 0
    for data in segments:
        crc = zlib.crc32(data, crc)
    body = b"".join(deflate_segment(data) for data in segments)
    return GZIP_HEADER + body + gzip_trailer(crc, sum(map(len, segments)))


def test_deflate_segments_made_separately_form_one_valid_gzip_member() -> None:
    # Given segments compressed each by a fresh compressor (as separate invocations would)
    member = _gzip_of(PIECES)
    # Then Python's gzip reader and zlib's own gzip decoder (which reads one member only) both read exactly
    # the concatenated bytes
    assert gzip.decompress(member) == b"".join(PIECES)
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(member) == b"".join(PIECES) and decoder.eof and decoder.unused_data == b""
    assert member[:3] == b"\x1f\x8b\x08" and member[4:8] == b"\x00\x00\x00\x00"  # no name, no mtime


def test_a_gzip_member_with_a_wrong_length_is_rejected_by_readers() -> None:
    # The trailer is checked: proves the CRC and length written are the ones readers verify
    member = bytearray(_gzip_of([b"hello\n"]))
    member[-1] ^= 0xFF
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(bytes(member))
