"""SHA-256 of the input digests (docs/digests.md): both implementations equal hashlib.

meanstest.kernels.sha256 is the pure numba SHA-256; meanstest.digest calls OpenSSL's
(SHA256_Init / _Update / _Final through ctypes) where it can load it. Each is checked on
random byte strings of every length 0..300 (every padding case: 55/56/63/64 bytes and
their multiples) and a few large ones.
"""

import hashlib

import numpy as np
import pytest
from meanstest.kernels.canonical import openssl_ranges
from meanstest.kernels.sha256 import sha256_ranges

from meanstest import digest

LENGTHS = list(range(301)) + [1000, 4095, 4096, 4097, 65535, 65536, 65537, 1_000_003]


@pytest.fixture(scope="module")
def messages():
    rng = np.random.default_rng(11)
    return [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in LENGTHS]


def _packed(messages):
    data = np.frombuffer(b"".join(messages) or b"\0", dtype=np.uint8)
    starts = np.cumsum([0] + [len(m) for m in messages]).astype(np.int64)
    return data, starts


def _expected(messages):
    return [hashlib.sha256(m).digest() for m in messages]


def test_numba_sha256_equals_hashlib_for_every_length(messages):
    data, starts = _packed(messages)
    out = np.zeros((len(messages), 32), dtype=np.uint8)
    sha256_ranges(data, starts, out)
    assert [row.tobytes() for row in out] == _expected(messages)


@pytest.mark.skipif(digest._OPENSSL is None, reason="OpenSSL's SHA-256 not loadable here")
def test_openssl_sha256_equals_hashlib_for_every_length(messages):
    data, starts = _packed(messages)
    out = np.zeros((len(messages), 32), dtype=np.uint8)
    assert openssl_ranges(digest._OPENSSL, data, starts, out)
    assert [row.tobytes() for row in out] == _expected(messages)


def test_known_answers():
    """FIPS 180-4 examples, through the numba implementation."""
    cases = {
        b"": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        b"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq": (
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    }
    data, starts = _packed(list(cases))
    out = np.zeros((len(cases), 32), dtype=np.uint8)
    sha256_ranges(data, starts, out)
    assert [row.tobytes().hex() for row in out] == list(cases.values())


def test_the_backend_in_use_is_named():
    assert digest.SHA256 == ("openssl" if digest._OPENSSL is not None else "numba")
