"""Byte operations numba does not express well, as LLVM intrinsics, and the byte-order
comparison built on them.

Indexing an array with a signed integer checks for a negative index on every access
(Python's wraparound); in a byte-copy loop that check keeps LLVM from vectorising, and
copying the canonical text byte by byte cost 10x a memcpy. So:

- `copy_bytes(dst, d, src, s, n)`: dst[d:d + n] = src[s:s + n] with llvm.memcpy;
- `big_endian_word(data, p)`: data[p:p + 8] as a big-endian uint64 (one unaligned load,
  and a byte swap on a little-endian machine), so that comparing words compares bytes
  in order;
- `pointer(address)`: an int64 address as a pointer, for numba.carray views of Arrow
  buffers (the caller keeps the buffers alive while the kernel runs);
- `prefetch(data, i)`: a hint to fetch data[i] into cache;
- `bytes_before(data, a, na, b, nb)`: whether data[a:a + na] sorts before data[b:b + nb]
  by bytes, a proper prefix first (Arrow's order of strings), a word at a time.

Neither checks bounds: callers pass ranges inside the arrays (as numba's own indexing
does with boundscheck off). `dst` and `src` must not overlap.
"""

from __future__ import annotations

import sys

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def copy_bytes(typingctx, dst, dst_start, src, src_start, n):
    if not (
        isinstance(dst, types.Array)
        and isinstance(src, types.Array)
        and dst.dtype == types.uint8
        and src.dtype == types.uint8
        and dst.layout == "C"
        and src.layout == "C"
    ):
        return None
    sig = types.void(dst, types.intp, src, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        d, d_start, s, s_start, count = args
        d_array = context.make_array(signature.args[0])(context, builder, d)
        s_array = context.make_array(signature.args[2])(context, builder, s)
        to = builder.gep(d_array.data, [d_start])
        frm = builder.gep(s_array.data, [s_start])
        cgutils.raw_memcpy(builder, to, frm, count, 1)
        return context.get_dummy_value()

    return sig, codegen


SWAP = sys.byteorder == "little"  # big_endian_word swaps the bytes it loads


@intrinsic
def big_endian_word(typingctx, data, start):
    if not (isinstance(data, types.Array) and data.dtype == types.uint8 and data.layout == "C"):
        return None
    sig = types.uint64(data, types.intp)

    def codegen(context, builder, signature, args):
        a, p = args
        array = context.make_array(signature.args[0])(context, builder, a)
        word = ir.IntType(64)
        ptr = builder.bitcast(builder.gep(array.data, [p]), word.as_pointer())
        value = builder.load(ptr, align=1)
        if not SWAP:  # a big-endian machine loads the bytes in order already
            return value
        bswap = builder.module.declare_intrinsic("llvm.bswap", [word])
        return builder.call(bswap, [value])

    return sig, codegen


@intrinsic
def pointer(typingctx, address):
    """The int64 `address` as a pointer (for numba.carray): Arrow buffers reach the
    kernels as addresses, since a parallel loop cannot take a varying set of arrays."""
    if not isinstance(address, types.Integer):
        return None
    sig = types.voidptr(types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], ir.IntType(8).as_pointer())

    return sig, codegen


@intrinsic
def prefetch(typingctx, data, index):
    """Ask the CPU to fetch data[index] into cache (no effect on results): the lines of a
    household lie anywhere in the text when the bundle's rows are not in household order,
    and fetching the next households' lines while hashing this one hides that latency."""
    if not (isinstance(data, types.Array) and data.ndim == 1 and isinstance(index, types.Integer)):
        return None
    sig = types.void(data, types.intp)

    def codegen(context, builder, signature, args):
        a, i = args
        array = context.make_array(signature.args[0])(context, builder, a)
        address = builder.bitcast(builder.gep(array.data, [i]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        signature_ = ir.FunctionType(ir.VoidType(), [address.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, signature_, "llvm.prefetch.p0")
        builder.call(fn, [address, i32(0), i32(3), i32(1)])  # read, keep, data cache
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def call_c(typingctx, address, args):
    """int32 f(args...) for the C function at `address`, every argument a 64-bit integer
    (an address or a size: on 64-bit platforms both travel in integer registers).
    Function addresses arrive as int64 like buffers do; passing ctypes function objects
    to a numba kernel cost 0.4 ms of argument typing per call."""
    if not (
        isinstance(address, types.Integer)
        and isinstance(args, types.BaseTuple)
        and all(isinstance(a, types.Integer) for a in args)
    ):
        return None
    sig = types.int32(types.int64, args)

    def codegen(context, builder, signature, llargs):
        addr, tup = llargs
        i64 = ir.IntType(64)
        values = [
            context.cast(builder, builder.extract_value(tup, k), signature.args[1][k], types.int64)
            for k in range(len(signature.args[1]))
        ]
        fnty = ir.FunctionType(ir.IntType(32), [i64] * len(values))
        fn = builder.inttoptr(addr, fnty.as_pointer())
        return builder.call(fn, values)

    return sig, codegen


@njit(cache=True, nogil=True, _nrt=False, inline="always")
def bytes_before(data, a, na, b, nb):
    """data[a:a + na] < data[b:b + nb] by bytes, a proper prefix first: eight bytes at a
    time as big-endian words (record_ids and canonical lines share long prefixes), then
    the rest byte by byte."""
    n = min(na, nb)
    k = 0
    while k + 8 <= n:
        u, v = big_endian_word(data, a + k), big_endian_word(data, b + k)
        if u != v:
            return u < v
        k += 8
    while k < n:
        if data[a + k] != data[b + k]:
            return data[a + k] < data[b + k]
        k += 1
    return na < nb
