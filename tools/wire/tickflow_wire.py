#!/usr/bin/env python3
"""Reference decoder for tickflow wire codec v1 and raw envelope v1 (docs/wire.md).

Python 3.11+, standard library only. Decoding never trusts the input: malformed or truncated
records raise WireError, never IndexError or similar.

Library use::

    import tickflow_wire as tw
    ev = tw.decode_event(kafka_value)     # a unified event: trade, integrity, other kinds
    rec = tw.decode_raw(raw_topic_value)  # a raw envelope record
    ev["price"]  # {"value": "65000.01", "mant": 6500001, "scale": 2}

Events and raw records come back as dicts in the "JSON form" of docs/wire.md, except that
raw ``meta``/``frame`` (and ``body`` of kinds without a body decoder) are ``bytes``;
``to_json`` turns any decoded dict into its JSON form.

Command line::

    python3 tools/wire/tickflow_wire.py FILE [--raw | --event] [--bare] [--errors]

FILE is a container (uvarint length + record, repeated) as used by the golden files in
md/testdata/wire/; ``-`` reads stdin. Files whose name starts with ``raw`` hold raw records,
others hold events; --raw/--event override that. --bare decodes FILE as one record (e.g. a
Kafka value saved to a file). Prints one JSON object per line; exits 1 on a bad record
(with --errors, prints {"error": "..."} in its place and goes on).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from typing import Any, Iterator

WIRE_VERSION = 1
RAW_VERSION = 1
MAX_SCALE = 18
MAX_ID_TEXT = 40

KIND = {1: "trade", 2: "book", 3: "bbo", 4: "candle", 5: "funding", 6: "open_interest",
        7: "liquidation", 8: "book_status", 9: "integrity"}
SIDE = {0: "unknown", 1: "buy", 2: "sell"}
SOURCE = {0: "live", 1: "backfill", 2: "reimport"}
INTEGRITY_TYPE = {1: "gap", 2: "disconnect", 3: "backfill", 4: "resync_started",
                  5: "resync_done", 6: "checksum_failure"}
RAW_TYPE = {1: "frame", 2: "rest", 3: "connect", 4: "disconnect", 5: "subscribe",
            6: "resync", 7: "state"}
DIRECTION = {0: "local", 1: "in", 2: "out"}

KIND_TRADE = 1
KIND_INTEGRITY = 9
KIND_FUNDING = 5
KIND_OPEN_INTEREST = 6
KIND_LIQUIDATION = 7


class WireError(ValueError):
    """A record that is not valid wire codec v1 / raw envelope v1."""


def _name(table: dict[int, str], v: int) -> str | int:
    """Enum value -> name; values without a name stay numbers (forward compatibility)."""
    return table.get(v, v)


class _Reader:
    __slots__ = ("b", "pos", "end")

    def __init__(self, b: bytes | memoryview, pos: int = 0, end: int | None = None):
        self.b = b
        self.pos = pos
        self.end = len(b) if end is None else end

    def remaining(self) -> int:
        return self.end - self.pos

    def byte(self) -> int:
        if self.pos >= self.end:
            raise WireError("truncated input")
        v = self.b[self.pos]
        self.pos += 1
        return v

    def uvarint(self) -> int:
        # Protobuf-style LEB128 as Go's encoding/binary.Uvarint: at most 10 bytes, the 10th
        # at most 1; non-minimal encodings are accepted.
        x = 0
        for i in range(10):
            c = self.byte()
            if c < 0x80:
                if i == 9 and c > 1:
                    raise WireError("uvarint overflows 64 bits")
                return x | (c << (7 * i))
            x |= (c & 0x7F) << (7 * i)
        raise WireError("uvarint overflows 64 bits")

    def varint(self) -> int:
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)  # zigzag

    def bytes(self) -> bytes:
        n = self.uvarint()
        if n > self.remaining():
            raise WireError("truncated input")
        s = bytes(self.b[self.pos:self.pos + n])
        self.pos += n
        return s

    def text(self) -> str:
        return self.bytes().decode("utf-8", errors="replace")

    def decimal(self) -> dict[str, Any]:
        mant = self.varint()
        scale = self.byte()
        if scale > MAX_SCALE:
            raise WireError(f"decimal scale {scale} out of range")
        return decimal_dict(mant, scale)


def decimal_text(mant: int, scale: int) -> str:
    """Exact text of mant x 10^-scale with exactly `scale` decimals (6500001, 2 -> "65000.01")."""
    digits = str(abs(mant))
    sign = "-" if mant < 0 else ""
    if scale == 0:
        return sign + digits
    if len(digits) <= scale:
        return sign + "0." + digits.rjust(scale, "0")
    return sign + digits[:-scale] + "." + digits[-scale:]


def decimal_dict(mant: int, scale: int) -> dict[str, Any]:
    return {"value": decimal_text(mant, scale), "mant": mant, "scale": scale}


# ---- wire codec v1 ----

def _header(r: _Reader) -> dict[str, Any]:
    version = r.byte()
    kind = r.byte()
    if version != WIRE_VERSION:
        raise WireError(f"unknown wire version {version}")
    venue = r.text()
    symbol = r.text()
    h: dict[str, Any] = {"version": version, "kind": _name(KIND, kind),
                         "venue": venue, "symbol": symbol}
    h["exch_time"] = r.varint()
    h["send_time"] = r.varint()
    h["recv_time"] = r.varint()
    h["clock_offset"] = r.varint()
    h["epoch"] = r.uvarint()
    h["seq"] = r.uvarint()
    index = r.uvarint()
    h["source"] = _name(SOURCE, r.byte())
    parser_version = r.uvarint()
    if index > 0xFFFFFFFF or parser_version > 0xFFFF:
        raise WireError("index or parser_version out of range")
    h["index"] = index
    h["parser_version"] = parser_version
    h["_kind"] = kind
    return h


def _trade_body(r: _Reader, ev: dict[str, Any]) -> None:
    tag = r.byte()
    if tag == 0:
        ev["id"] = r.uvarint()
    elif tag == 1:
        tid = r.bytes()
        if not tid:
            raise WireError("empty trade id")
        if len(tid) > MAX_ID_TEXT:
            raise WireError("trade id longer than 40 bytes")
        ev["id"] = tid.decode("utf-8", errors="replace")
    else:
        raise WireError(f"bad trade id tag {tag}")
    ev["price"] = r.decimal()
    ev["qty"] = r.decimal()
    ev["side"] = _name(SIDE, r.byte())


def _integrity_body(r: _Reader, ev: dict[str, Any]) -> None:
    ev["type"] = _name(INTEGRITY_TYPE, r.byte())
    ev["stream"] = _name(KIND, r.byte())
    ev["from"] = r.varint()
    ev["to"] = r.varint()
    ev["first_id"] = r.uvarint()
    ev["last_id"] = r.uvarint()
    ev["count"] = r.uvarint()


def _funding_body(r: _Reader, ev: dict[str, Any]) -> None:
    ev["rate"] = r.decimal()
    ev["mark_price"] = r.decimal()
    ev["index_price"] = r.decimal()
    ev["funding_time"] = r.varint()
    ev["next_funding_time"] = r.varint()


def _open_interest_body(r: _Reader, ev: dict[str, Any]) -> None:
    ev["qty"] = r.decimal()
    ev["value"] = r.decimal()


def _liquidation_body(r: _Reader, ev: dict[str, Any]) -> None:
    ev["side"] = _name(SIDE, r.byte())
    ev["price"] = r.decimal()
    ev["qty"] = r.decimal()


_BODIES = {KIND_TRADE: _trade_body, KIND_INTEGRITY: _integrity_body,
           KIND_FUNDING: _funding_body, KIND_OPEN_INTEREST: _open_interest_body,
           KIND_LIQUIDATION: _liquidation_body}


def decode_event(b: bytes, want_kind: int | None = None) -> dict[str, Any]:
    """Decode one wire-encoded event (a Kafka value of tickflow.md.*).

    Known kinds get their body fields; other kinds keep the undecoded body as ``body``.
    Body bytes after the known fields (added by a later minor revision) are skipped, and
    so is anything after the body.
    """
    mv = memoryview(b)
    r = _Reader(mv)
    ev = _header(r)
    kind = ev.pop("_kind")
    if want_kind is not None and kind != want_kind:
        raise WireError(f"unexpected event kind {_name(KIND, kind)}, want {_name(KIND, want_kind)}")
    n = r.uvarint()
    if n > r.remaining():
        raise WireError("truncated input")
    body = _Reader(mv, r.pos, r.pos + n)
    fn = _BODIES.get(kind)
    if fn is None:
        ev["body"] = bytes(mv[r.pos:r.pos + n])
    else:
        fn(body, ev)
    return ev


def decode_trade(b: bytes) -> dict[str, Any]:
    return decode_event(b, KIND_TRADE)


def decode_integrity(b: bytes) -> dict[str, Any]:
    return decode_event(b, KIND_INTEGRITY)


def peek_kind(b: bytes) -> int:
    if len(b) < 2:
        raise WireError("truncated input")
    if b[0] != WIRE_VERSION:
        raise WireError(f"unknown wire version {b[0]}")
    return b[1]


# ---- raw envelope v1 ----

def decode_raw(b: bytes) -> dict[str, Any]:
    """Decode one raw envelope (a Kafka value of tickflow.raw.<venue>)."""
    mv = memoryview(b)
    r = _Reader(mv)
    version = r.byte()
    if version != RAW_VERSION:
        raise WireError(f"unknown raw envelope version {version}")
    rec: dict[str, Any] = {"version": version}
    rec["type"] = _name(RAW_TYPE, r.byte())
    rec["dir"] = _name(DIRECTION, r.byte())
    rec["venue"] = r.text()
    rec["conn"] = r.text()
    rec["epoch"] = r.uvarint()
    rec["seq"] = r.uvarint()
    rec["recv_time"] = r.varint()
    rec["meta"] = r.bytes()
    rec["frame"] = bytes(mv[r.pos:])
    return rec


# ---- container and JSON ----

def read_container(data: bytes) -> Iterator[bytes]:
    """Yield the records of a container: (uvarint length, record) repeated."""
    r = _Reader(memoryview(data))
    i = 0
    while r.remaining() > 0:
        try:
            yield r.bytes()
        except WireError as e:
            raise WireError(f"container record {i}: {e}") from None
        i += 1


def to_json(d: dict[str, Any]) -> dict[str, Any]:
    """JSON form of a decoded dict: bytes fields become <name>_b64 plus <name> if UTF-8."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, (bytes, bytearray)):
            out[k + "_b64"] = base64.b64encode(v).decode("ascii")
            try:
                out[k] = bytes(v).decode("utf-8")
            except UnicodeDecodeError:
                pass
        else:
            out[k] = v
    return out


def dumps(d: dict[str, Any]) -> str:
    return json.dumps(to_json(d), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Decode tickflow wire v1 events or raw v1 records.")
    p.add_argument("file", help="container file (uvarint length + record, repeated); - for stdin")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--raw", action="store_true", help="records are raw envelopes")
    g.add_argument("--event", action="store_true", help="records are wire events")
    p.add_argument("--bare", action="store_true", help="FILE is a single record, no container")
    p.add_argument("--errors", action="store_true",
                   help='print {"error": ...} for a bad record and go on (exit status 1)')
    a = p.parse_args(argv)

    if a.file == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(a.file, "rb") as f:
            data = f.read()
    raw = a.raw or (not a.event and os.path.basename(a.file).startswith("raw"))
    decode = decode_raw if raw else decode_event

    status = 0
    try:
        recs = [data] if a.bare else list(read_container(data))
        lines = []
        for i, rec in enumerate(recs):
            try:
                lines.append(dumps(decode(rec)))
            except WireError as e:
                if not a.errors:
                    raise WireError(f"record {i}: {e}") from None
                lines.append(json.dumps({"error": str(e)}))
                status = 1
    except WireError as e:
        print(f"{a.file}: {e}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    for line in lines:
        out.write(line.encode("utf-8") + b"\n")
    out.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
