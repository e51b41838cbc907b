"""Packet programs: the contexts of XDP / tc / socket filter programs, header views made with
the bounds checks the verifier needs, and the `pybpf.net` builtins."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pybpf.compiler import ir
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.irtypes import (
    LIT,
    U8,
    U16,
    U32,
    U64,
    ArrayT,
    FieldT,
    IntT,
    PtrT,
    StructT,
    Type,
)
from pybpf.compiler.pyfront.contexts import Context
from pybpf.compiler.pyfront.registry import builtin

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer


def _hdr(name: str, size: int, *fields: tuple) -> StructT:
    return StructT(name, tuple(FieldT(*f) for f in fields), size, 1)


MAC = ArrayT(U8, 6)
IP6 = ArrayT(U8, 16)
HEADERS: dict[str, StructT] = {
    "eth": _hdr("ethhdr", 14, ("dst", MAC, 0), ("src", MAC, 6), ("proto", U16, 12)),
    "vlan": _hdr("vlan_hdr", 4, ("tci", U16, 0), ("proto", U16, 2)),
    "ipv4": _hdr("iphdr", 20, ("ihl", U8, 0, 0, 4), ("version", U8, 0, 4, 4),
                 ("tos", U8, 1), ("tot_len", U16, 2), ("id", U16, 4), ("frag_off", U16, 6),
                 ("ttl", U8, 8), ("protocol", U8, 9), ("check", U16, 10),
                 ("saddr", U32, 12), ("daddr", U32, 16)),
    "ipv6": _hdr("ipv6hdr", 40, ("vtc_flow", U32, 0), ("payload_len", U16, 4),
                 ("nexthdr", U8, 6), ("hop_limit", U8, 7), ("saddr", IP6, 8),
                 ("daddr", IP6, 24)),
    "tcp": _hdr("tcphdr", 20, ("source", U16, 0), ("dest", U16, 2), ("seq", U32, 4),
                ("ack_seq", U32, 8), ("doff", U8, 12, 4, 4), ("flags", U8, 13),
                ("fin", U8, 13, 0, 1), ("syn", U8, 13, 1, 1), ("rst", U8, 13, 2, 1),
                ("psh", U8, 13, 3, 1), ("ack", U8, 13, 4, 1), ("urg", U8, 13, 5, 1),
                ("window", U16, 14), ("check", U16, 16), ("urg_ptr", U16, 18)),
    "udp": _hdr("udphdr", 8, ("source", U16, 0), ("dest", U16, 2), ("len", U16, 4),
                ("check", U16, 6)),
    "icmp": _hdr("icmphdr", 8, ("type", U8, 0), ("code", U8, 1), ("checksum", U16, 2),
                 ("id", U16, 4), ("sequence", U16, 6)),
}


@dataclass
class PacketContext(Context):
    """XDP (struct xdp_md) or tc / socket filter (struct __sk_buff) programs: `ctx.<field>`
    from the kernel's BTF of that struct; `data`/`data_end` offsets for header views."""

    struct_name: str = "xdp_md"
    data_off: int | None = 0  # None: no direct packet access (socket filters)
    end_off: int = 4
    fields: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (off, size)

    def field(self, name: str, loc: Loc) -> ir.Expr:
        if not self.fields:
            from pybpf.btf import kernel_btf

            st = kernel_btf().struct(self.struct_name)
            for m in st.members:
                size = m.type.resolve().size if hasattr(m.type, "resolve") else 4
                if m.name and size in (1, 2, 4, 8):
                    self.fields[m.name] = (m.offset, size)
        if name in ("data", "data_end", "data_meta"):
            raise CompileError(f"ctx.{name} is a packet pointer: use the header views of "
                               "pybpf.net (net.eth(ctx), net.ipv4(ctx, eth), ...)", loc)
        if name not in self.fields:
            import difflib

            close = difflib.get_close_matches(name, list(self.fields), n=1)
            raise CompileError(f"struct {self.struct_name} has no field {name!r}", loc,
                               f"Did you mean {close[0]!r}?" if close else "")
        off, size = self.fields[name]
        return ir.CtxLoad(IntT(size * 8, False), off, size, loc=loc)


def xdp_context() -> PacketContext:
    return PacketContext(kind="xdp", prog_type="xdp", struct_name="xdp_md", data_off=0,
                         end_off=4, default_return=2)  # XDP_PASS


def tc_context() -> PacketContext:
    return PacketContext(kind="tc", prog_type="sched_cls", struct_name="__sk_buff",
                         data_off=76, end_off=80, default_return=0)  # TC_ACT_OK


def socket_filter_context() -> PacketContext:
    # a socket filter returns how many bytes to keep: by default all of them
    return PacketContext(kind="socket_filter", prog_type="socket_filter",
                         struct_name="__sk_buff", data_off=None, end_off=0,
                         default_return=0xFFFFFFFF)


def is_packet(t: Type) -> bool:
    return isinstance(t, PtrT) and t.space == "packet"


def _ctx(lw: Lowerer, node: ast.AST) -> PacketContext:
    c = lw.context
    if not isinstance(c, PacketContext):
        lw.error(node, "packet headers exist in bpf.xdp, bpf.tc and bpf.socket_filter "
                       "programs only")
    if c.data_off is None:
        lw.error(node, "socket filters cannot read packets directly",
                 "Use net.load_u8/load_u16/load_u32(ctx, offset), or a bpf.tc program.")
    return c


def _header(lw: Lowerer, node: ast.Call, args: list[ir.Expr], kind: str,
            after: tuple[str, ...]) -> ir.Expr:
    c = _ctx(lw, node)
    hdr = HEADERS[kind]
    loc = lw.loc(node)
    t = PtrT(hdr, "packet")
    if not after:  # the first header of the packet
        return ir.PktHeader(t, None, ir.Const(U64, 0), hdr.size, c.data_off, c.end_off, loc=loc)
    if len(args) != 2 or not is_packet(args[1].type):
        lw.error(node, f"net.{kind}(ctx, prev) needs the header before it as `prev` "
                       f"({' or '.join('net.' + a for a in after)})")
    prev = args[1]
    prev_hdr = prev.type.target  # type: ignore[attr-defined]
    prev_kind = next(k for k, v in HEADERS.items() if v is prev_hdr)
    if prev_kind not in after:
        lw.error(node, f"net.{kind}() follows {' or '.join('net.' + a for a in after)}, not "
                       f"net.{prev_kind}")
    known = lw.known_nonnull(prev)
    if prev_kind == "ipv4":  # IPv4 options: the next header starts at ihl * 4
        ihl = ir.MemLoad(U8, prev, 0, 0, 4, checked=not known, loc=loc)
        offset: ir.Expr = ir.BinOp(U64, "mul", ir.Cast(U64, ihl, loc=loc), ir.Const(U64, 4),
                                   loc=loc)
        return ir.PktHeader(t, prev, offset, hdr.size, c.data_off, c.end_off, 20,
                         checked=not known, loc=loc)
    return ir.PktHeader(t, prev, ir.Const(U64, HEADERS[prev_kind].size), hdr.size, c.data_off,
                     c.end_off, checked=not known, loc=loc)


# which header may follow which: net.<kind>(ctx, prev) with prev one of these
_FOLLOWS: dict[str, tuple[str, ...]] = {
    "eth": (), "vlan": ("eth", "vlan"), "ipv4": ("eth", "vlan"), "ipv6": ("eth", "vlan"),
    "tcp": ("ipv4", "ipv6"), "udp": ("ipv4", "ipv6"), "icmp": ("ipv4", "ipv6"),
}


def _register_header(kind: str, after: tuple[str, ...]) -> None:
    def lower(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
        return _header(lw, node, args, kind, after)

    builtin(f"net.{kind}", 2 if after else 1)(lower)


for _kind, _after in _FOLLOWS.items():
    _register_header(_kind, _after)


def _swap(lw: Lowerer, node: ast.Call, args: list[ir.Expr], kinds: tuple[str, ...],
          a: int, b: int, size: int, name: str) -> ir.Expr:
    (ptr,) = args
    if not is_packet(ptr.type) or not any(ptr.type.target is HEADERS[k] for k in kinds):
        lw.error(node, f"net.{name}() takes a {' or '.join('net.' + k for k in kinds)} view")
    res = lw.temp(U64, node, "swapped")
    loc = lw.loc(node)
    return ir.Inline(U64, [ir.PktSwap(ptr, a, b, size, checked=not lw.known_nonnull(ptr), loc=loc),
                           ir.Assign(res, ir.Const(U64, 0), loc=loc)], res, loc=loc)


@builtin("net.swap_mac", 1)
def _swap_mac(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _swap(lw, node, args, ("eth",), 0, 6, 6, "swap_mac")


@builtin("net.swap_ipv4", 1)
def _swap_ipv4(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _swap(lw, node, args, ("ipv4",), 12, 16, 4, "swap_ipv4")


@builtin("net.swap_ipv6", 1)
def _swap_ipv6(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _swap(lw, node, args, ("ipv6",), 8, 24, 16, "swap_ipv6")


@builtin("net.swap_ports", 1)
def _swap_ports(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _swap(lw, node, args, ("tcp", "udp"), 0, 2, 2, "swap_ports")


def _bswap(lw: Lowerer, node: ast.Call, args: list[ir.Expr], bits: int) -> ir.Expr:
    (x,) = args
    t = IntT(bits, False)
    x = lw.convert(x, t, node)
    if isinstance(x, ir.Const):
        return ir.Const(t, int.from_bytes(x.value.to_bytes(bits // 8, "big"), "little"))
    return ir.UnOp(t, f"bswap{bits}", x, loc=lw.loc(node))


@builtin("net.htons", 1)
def _htons(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _bswap(lw, node, args, 16)


@builtin("net.ntohs", 1)
def _ntohs(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _bswap(lw, node, args, 16)


@builtin("net.htonl", 1)
def _htonl(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _bswap(lw, node, args, 32)


@builtin("net.ntohl", 1)
def _ntohl(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _bswap(lw, node, args, 32)


@builtin("net.redirect_map", (2, 3))
def _redirect_map(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    if not lw.is_map(node.args[0]):
        lw.error(node.args[0], "net.redirect_map() takes a DevMap, CpuMap or XskMap")
    mref = lw.map_of(lw.static_value(node.args[0]), ast.unparse(node.args[0]))
    loc = lw.loc(node)
    key = lw.convert(lw.expr(node.args[1]), U64, node)
    flags = lw.convert(args[2], U64, node) if len(args) == 3 else ir.Const(U64, 0)
    return ir.Call(IntT(64, True), "bpf_redirect_map",
                   [ir.MapPtr(U64, mref, loc=loc), key, flags], loc=loc)


@builtin("net.redirect", (1, 2))
def _redirect(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    flags = lw.convert(args[1], U64, node) if len(args) == 2 else ir.Const(U64, 0)
    return ir.Call(IntT(64, True), "bpf_redirect", [lw.convert(args[0], U64, node), flags],
                   loc=lw.loc(node))


@builtin("net.length", 1)
def _length(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    """The packet's length in bytes (XDP: bpf_xdp_get_buff_len; tc/socket filters: skb
    len)."""
    c = lw.context
    if not isinstance(c, PacketContext):
        lw.error(node, "net.length() works in packet programs only")
    loc = lw.loc(node)
    if c.kind == "xdp":
        return ir.Call(U64, "bpf_xdp_get_buff_len", [ir.CtxPtr(PtrT(None, "ctx"), loc=loc)],
                       loc=loc)
    return ir.CtxLoad(U32, 0, 4, loc=loc)


def _load(lw: Lowerer, node: ast.Call, args: list[ir.Expr], size: int) -> ir.Expr:
    c = lw.context
    if not isinstance(c, PacketContext) or c.kind == "xdp":
        lw.error(node, f"net.load_u{size * 8}() works in socket filters and tc programs",
                 "In XDP programs use the header views (net.eth(ctx), ...).")
    t = IntT(size * 8, False)
    buf = lw.temp(U64, node, "bytes")
    res = lw.temp(t, node, "loaded")
    loc = lw.loc(node)
    body: list[ir.Stmt] = [
        ir.Assign(buf, ir.Const(U64, 0), loc=loc),
        ir.HelperInto("bpf_skb_load_bytes",
                      [ir.CtxPtr(PtrT(None, "ctx"), loc=loc), lw.convert(args[1], U64, node),
                       ir.AddrOf(PtrT(U64, "stack"), buf, loc=loc), ir.Const(U64, size)],
                      loc=loc),
    ]
    value = ir.MemLoad(t, ir.AddrOf(PtrT(t, "stack"), buf, loc=loc), 0, loc=loc)
    if size > 1:  # network order on the wire: a number in host order
        value = ir.UnOp(t, f"bswap{size * 8}", value, loc=loc)
    body.append(ir.Assign(res, value, loc=loc))
    return ir.Inline(t, body, res, loc=loc)


@builtin("net.load_u8", 2)
def _load_u8(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _load(lw, node, args, 1)


@builtin("net.load_u16", 2)
def _load_u16(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _load(lw, node, args, 2)


@builtin("net.load_u32", 2)
def _load_u32(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _load(lw, node, args, 4)


__all__ = ["HEADERS", "LIT", "PacketContext", "is_packet", "socket_filter_context", "tc_context", "xdp_context"]
