"""kernels.memory's big_endian_word: eight bytes as a big-endian word, on any machine —
the record order (kernels.join) and the canonical lines' order (kernels.canonical)
compare words, so a word must compare as its bytes do."""

from __future__ import annotations

import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from meanstest.kernels import memory
from numba import njit


def _reader():
    """A kernel calling big_endian_word, compiled now (not cached): with memory.SWAP as
    it is when this is called."""

    @njit
    def read(data, p):
        return memory.big_endian_word(data, p)

    return read


_READ = _reader()


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=8, max_size=24), st.data())
def test_a_word_is_its_bytes_in_order(raw, data):
    p = data.draw(st.integers(0, len(raw) - 8))
    assert _READ(np.frombuffer(raw, np.uint8).copy(), p) == int.from_bytes(raw[p : p + 8], "big")


def test_the_swap_follows_the_machine(monkeypatch):
    """The bytes are swapped on a little-endian machine only: a big-endian one loads the
    word in order already. With SWAP off, as there, the kernel is the plain load, which
    on this machine reads the bytes in its own order."""
    assert memory.SWAP == (sys.byteorder == "little")
    monkeypatch.setattr(memory, "SWAP", False)
    raw = bytes(range(1, 9))
    assert _reader()(np.frombuffer(raw, np.uint8).copy(), 0) == int.from_bytes(raw, sys.byteorder)
