"""SHA-256 (FIPS 180-4) in numba: the digest of a byte range of a uint8 array.

This is the portable hash of the input digests. meanstest.digest prefers OpenSSL's
SHA-256 (the libcrypto Python's hashlib uses, with the CPU's SHA instructions; ~4×
faster on the benchmark machine) and falls back to this one where that library cannot
be loaded; both are checked against hashlib in tests/test_sha256.py.

Words are uint32; numba types integer arithmetic at 64 bits, so every result is cast
back with U32(...) (LLVM then emits 32-bit adds and rotates). The caller passes the
work arrays (`w`: 64 uint32, `state`: 8 uint32, `tail`: 128 uint8), so hashing
allocates nothing and runs in any thread.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
        0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
        0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
        0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
        0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
        0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
        0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
        0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
        0xC67178F2,
    ],
    dtype=np.uint32,
)  # fmt: skip
_H0 = np.array(
    [
        0x6A09E667,
        0xBB67AE85,
        0x3C6EF372,
        0xA54FF53A,
        0x510E527F,
        0x9B05688C,
        0x1F83D9AB,
        0x5BE0CD19,
    ],
    dtype=np.uint32,
)
DIGEST_SIZE = 32
U32 = np.uint32

jit = njit(cache=True, nogil=True)
inline = njit(cache=True, nogil=True, inline="always")


@inline
def _rotr(x, n):
    return U32((x >> U32(n)) | (x << U32(32 - n)))


@inline
def _round(a, b, c, d, e, f, g, h, kw):
    """One round on (a..h) with K[t] + W[t] = kw: the new d and h (the caller renames
    the eight words instead of moving them)."""
    t1 = U32(h + U32(_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + U32(g ^ (e & (f ^ g))) + kw)
    t2 = U32(U32(_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + U32((a & b) | (c & (a | b))))
    return U32(d + t1), U32(t1 + t2)


@jit
def _compress(state, data, start, w):
    """Process the 64-byte block data[start:start + 64] into `state`."""
    for t in range(16):
        q = start + 4 * t
        w[t] = U32(
            (U32(data[q]) << U32(24))
            | (U32(data[q + 1]) << U32(16))
            | (U32(data[q + 2]) << U32(8))
            | U32(data[q + 3])
        )
    for t in range(16, 64):
        x, y = w[t - 15], w[t - 2]
        s0 = U32(_rotr(x, 7) ^ _rotr(x, 18) ^ (x >> U32(3)))
        s1 = U32(_rotr(y, 17) ^ _rotr(y, 19) ^ (y >> U32(10)))
        w[t] = U32(w[t - 16] + s0 + w[t - 7] + s1)
    a, b, c, d = state[0], state[1], state[2], state[3]
    e, f, g, h = state[4], state[5], state[6], state[7]
    for t in range(0, 64, 8):  # eight rounds with the words renamed: 1.5x faster
        d, h = _round(a, b, c, d, e, f, g, h, _K[t] + w[t])
        c, g = _round(h, a, b, c, d, e, f, g, _K[t + 1] + w[t + 1])
        b, f = _round(g, h, a, b, c, d, e, f, _K[t + 2] + w[t + 2])
        a, e = _round(f, g, h, a, b, c, d, e, _K[t + 3] + w[t + 3])
        h, d = _round(e, f, g, h, a, b, c, d, _K[t + 4] + w[t + 4])
        g, c = _round(d, e, f, g, h, a, b, c, _K[t + 5] + w[t + 5])
        f, b = _round(c, d, e, f, g, h, a, b, _K[t + 6] + w[t + 6])
        e, a = _round(b, c, d, e, f, g, h, a, _K[t + 7] + w[t + 7])
    state[0] = U32(state[0] + a)
    state[1] = U32(state[1] + b)
    state[2] = U32(state[2] + c)
    state[3] = U32(state[3] + d)
    state[4] = U32(state[4] + e)
    state[5] = U32(state[5] + f)
    state[6] = U32(state[6] + g)
    state[7] = U32(state[7] + h)


@jit
def sha256(data, start, stop, out, w, state, tail):
    """out[0:32] = SHA-256 of data[start:stop]; w, state, tail are work arrays."""
    n = stop - start
    for k in range(8):
        state[k] = _H0[k]
    full = start + (n // 64) * 64
    for q in range(start, full, 64):
        _compress(state, data, q, w)
    # the last bytes, 0x80, zeros and the length in bits (big-endian): one or two blocks
    rest = stop - full
    for k in range(rest):
        tail[k] = data[full + k]
    tail[rest] = 0x80
    size = 64 if rest < 56 else 128
    for k in range(rest + 1, size - 8):
        tail[k] = 0
    bits = np.int64(n) * 8
    for k in range(8):
        tail[size - 1 - k] = (bits >> (8 * k)) & 0xFF
    for q in range(0, size, 64):
        _compress(state, tail, q, w)
    for k in range(8):
        for j in range(4):
            out[4 * k + j] = (state[k] >> U32(24 - 8 * j)) & U32(0xFF)


@jit
def sha256_ranges(data, starts, out):
    """out[g] = SHA-256 of data[starts[g]:starts[g + 1]] for every g (serially)."""
    w = np.empty(64, dtype=np.uint32)
    state = np.empty(8, dtype=np.uint32)
    tail = np.empty(128, dtype=np.uint8)
    for g in range(starts.shape[0] - 1):
        sha256(data, starts[g], starts[g + 1], out[g], w, state, tail)
