"""Arrow IPC (version 5) for the types of :mod:`weir_sdk.arrow`, in pure Python.

The Weir contract sends a schema once, as one IPC schema message, and then
each batch as one IPC record batch message without the schema. This module
reads and writes exactly those two messages: flat columns of the supported
types, with or without nulls, uncompressed, little-endian. Flatbuffers are
written with the ``flatbuffers`` package (Google's, pure Python) and read
directly with ``struct``; values move in bulk with ``memoryview.cast`` and
``array`` rather than one at a time.
"""

import struct
from array import array
from typing import List, Optional, Tuple

import flatbuffers

from .arrow import (
    BINARY, BOOL, DATE32, UTF8, Batch, DataType, Field, Schema, timestamp,
)


class IpcError(ValueError):
    """Bytes that are not an IPC message this codec reads, or values that do
    not fit their column's type."""


_CONTINUATION = 0xFFFFFFFF
_VERSION_V5 = 4
_HEADER_SCHEMA, _HEADER_RECORD_BATCH = 1, 3
# Type union tags of Schema.fbs.
_INT, _FLOAT, _BINARY, _UTF8, _BOOL, _DATE, _TIMESTAMP = 2, 3, 4, 5, 6, 8, 10
_UNITS = ("s", "ms", "us", "ns")
# Python value width format of each fixed-width kind.
_INT_FORMATS = {(8, True): "b", (8, False): "B", (16, True): "h", (16, False): "H",
                (32, True): "i", (32, False): "I", (64, True): "q", (64, False): "Q"}
# The eight validity bits of each byte value, lowest first.
_BITS = [tuple(bool(byte >> i & 1) for i in range(8)) for byte in range(256)]


def _value_format(t: DataType) -> Optional[str]:
    """The ``array`` format of a fixed-width type; ``None`` for the others."""
    if t.kind == "int":
        return _INT_FORMATS[(t.bits, t.signed)]
    if t.kind == "float":
        return "f" if t.bits == 32 else "d"
    if t.kind == "date32":
        return "i"
    if t.kind == "timestamp":
        return "q"
    return None


class _Table:
    """A flatbuffer table: scalars, strings, sub-tables and vectors by field
    number."""

    def __init__(self, buf: memoryview, pos: int):
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_len = struct.unpack_from("<H", buf, self.vtable)[0]

    def _offset(self, field: int) -> int:
        slot = 4 + 2 * field
        if slot >= self.vtable_len:
            return 0
        return struct.unpack_from("<H", self.buf, self.vtable + slot)[0]

    def scalar(self, field: int, fmt: str, default):
        o = self._offset(field)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + o)[0] if o else default

    def _indirect(self, at: int) -> int:
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def table(self, field: int) -> Optional["_Table"]:
        o = self._offset(field)
        return _Table(self.buf, self._indirect(self.pos + o)) if o else None

    def _vector(self, field: int) -> Tuple[int, int]:
        o = self._offset(field)
        if not o:
            return 0, 0
        at = self._indirect(self.pos + o)
        return at + 4, struct.unpack_from("<I", self.buf, at)[0]

    def string(self, field: int) -> Optional[str]:
        if not self._offset(field):
            return None
        start, n = self._vector(field)
        return bytes(self.buf[start:start + n]).decode()

    def tables(self, field: int) -> List["_Table"]:
        start, n = self._vector(field)
        return [_Table(self.buf, self._indirect(start + 4 * i)) for i in range(n)]

    def pairs(self, field: int) -> List[Tuple[int, int]]:
        """A vector of structs of two int64 (FieldNode, Buffer)."""
        start, n = self._vector(field)
        return [struct.unpack_from("<qq", self.buf, start + 16 * i) for i in range(n)]


def _read_message(data: memoryview, start: int, expected: int) -> Tuple[_Table, int, int]:
    """The header table of the message at ``start``, where its body starts
    and where the message ends."""
    try:
        pos = start
        if struct.unpack_from("<I", data, pos)[0] == _CONTINUATION:
            pos += 4
        (meta_len,) = struct.unpack_from("<i", data, pos)
        pos += 4
        if meta_len <= 0 or pos + meta_len > len(data):
            raise IpcError(f"message metadata of {meta_len} bytes does not fit in {len(data)}")
        meta = data[pos:pos + meta_len]
        message = _Table(meta, struct.unpack_from("<I", meta, 0)[0])
        header_type = message.scalar(1, "B", 0)
        if header_type != expected:
            raise IpcError(f"expected IPC message type {expected}, found {header_type}")
        header = message.table(2)
        body_start = pos + meta_len
        body_end = body_start + message.scalar(3, "q", 0)
        if header is None or body_end > len(data):
            raise IpcError("truncated IPC message")
        return header, body_start, body_end
    except struct.error as error:
        raise IpcError(f"malformed IPC message: {error}") from None


def _read_type(field: _Table, name: str) -> DataType:
    tag, t = field.scalar(2, "B", 0), field.table(3)
    if tag == _INT and t is not None:
        return DataType("int", t.scalar(0, "i", 0), t.scalar(1, "?", False))
    if tag == _FLOAT and t is not None and t.scalar(0, "h", 0) in (1, 2):
        return DataType("float", 32 if t.scalar(0, "h", 0) == 1 else 64)
    if tag == _BINARY:
        return BINARY
    if tag == _UTF8:
        return UTF8
    if tag == _BOOL:
        return BOOL
    if tag == _DATE and t is not None and t.scalar(0, "h", 1) == 0:
        return DATE32
    if tag == _TIMESTAMP and t is not None:
        return timestamp(_UNITS[t.scalar(0, "h", 0)], t.string(1))
    raise IpcError(f"column {name!r} has an Arrow type the Python SDK does not support (type tag {tag})")


def read_schema(data: bytes) -> Schema:
    """Decodes one IPC schema message."""
    view = memoryview(data)
    schema, _, _ = _read_message(view, 0, _HEADER_SCHEMA)
    fields = []
    for field in schema.tables(1):
        name = field.string(0) or ""
        fields.append(Field(name, _read_type(field, name), field.scalar(1, "?", False)))
    return Schema(fields)


def _with_nulls(values: list, valid: Optional[List[bool]]) -> list:
    if valid is None:
        return values
    return [v if ok else None for v, ok in zip(values, valid)]


def _bits(body: memoryview, buffer: Tuple[int, int], length: int) -> List[bool]:
    offset, size = buffer
    if size * 8 < length:
        raise IpcError(f"a bitmap of {size} bytes for {length} rows")
    bits = [bit for byte in body[offset:offset + size] for bit in _BITS[byte]]
    return bits[:length]


def _column(t: DataType, body: memoryview, node, buffers, name: str):
    """A column's values: a memoryview over ``body`` for a fixed-width
    column without nulls (nothing is copied or converted), a list otherwise."""
    length, null_count = node
    validity = next(buffers)
    valid = _bits(body, validity, length) if null_count else None
    fmt = _value_format(t)
    if fmt is not None:
        offset, _ = next(buffers)
        width = struct.calcsize(fmt)
        values = body[offset:offset + length * width].cast(fmt)
        if not null_count:
            if len(values) != length:
                raise IpcError(f"column {name!r}: {len(values)} values for {length} rows")
            return values
        values = values.tolist()
    elif t.kind == "bool":
        values = _bits(body, next(buffers), length)
    else:
        (o_start, _), (d_start, d_size) = next(buffers), next(buffers)
        offsets = body[o_start:o_start + 4 * (length + 1)].cast("i").tolist() if length else [0]
        data = bytes(body[d_start:d_start + d_size])
        if t.kind == "utf8":
            if data.isascii():
                # Byte offsets are character offsets: decode once.
                text = data.decode("ascii")
                values = [text[offsets[i]:offsets[i + 1]] for i in range(length)]
            else:
                values = [data[offsets[i]:offsets[i + 1]].decode() for i in range(length)]
        else:
            values = [data[offsets[i]:offsets[i + 1]] for i in range(length)]
    if len(values) != length:
        raise IpcError(f"column {name!r}: {len(values)} values for {length} rows")
    return _with_nulls(values, valid)


# Layouts of the record batch messages read so far, by their metadata bytes:
# the batches of a stream mostly repeat one (same rows, same buffer sizes).
_LAYOUTS: dict = {}
_CACHED_LAYOUTS = 64


def _batch_layout(view: memoryview) -> Tuple[int, list, list, int, int]:
    """Rows, field nodes, buffers, body start and end of the record batch
    message in ``view``."""
    try:
        pos = 4 if struct.unpack_from("<I", view, 0)[0] == _CONTINUATION else 0
        meta_end = pos + 4 + struct.unpack_from("<i", view, pos)[0]
    except struct.error as error:
        raise IpcError(f"malformed IPC message: {error}") from None
    key = bytes(view[:meta_end])
    layout = _LAYOUTS.get(key)
    if layout is None:
        batch, body_start, body_end = _read_message(view, 0, _HEADER_RECORD_BATCH)
        if batch.table(3) is not None:
            raise IpcError("compressed IPC batches are not supported")
        layout = (batch.scalar(0, "q", 0), batch.pairs(1), batch.pairs(2), body_start, body_end)
        if len(_LAYOUTS) >= _CACHED_LAYOUTS:
            _LAYOUTS.clear()
        _LAYOUTS[key] = layout
    if layout[4] > len(view):
        raise IpcError("truncated IPC message")
    return layout


def read_batch(schema: Schema, data: bytes) -> Batch:
    """Decodes one IPC record batch message of ``schema``. Fixed-width
    columns without nulls stay views of ``data`` (see :class:`Batch`)."""
    view = memoryview(data)
    num_rows, nodes, buffers, body_start, body_end = _batch_layout(view)
    body = view[body_start:body_end]
    if len(nodes) != len(schema.fields):
        raise IpcError(f"{len(nodes)} columns in the batch, {len(schema.fields)} in the schema")
    buffers = iter(buffers)
    try:
        columns = [_column(f.type, body, node, buffers, f.name)
                   for f, node in zip(schema.fields, nodes)]
    except (StopIteration, TypeError, struct.error) as error:
        raise IpcError(f"malformed record batch: {error!r}") from None
    return Batch(schema, columns, num_rows=num_rows)


def _message(builder: flatbuffers.Builder, header_type: int, header: int, body_len: int) -> bytes:
    """The message up to its body (of ``body_len`` bytes)."""
    builder.StartObject(5)
    builder.PrependInt16Slot(0, _VERSION_V5, 0)
    builder.PrependUint8Slot(1, header_type, 0)
    builder.PrependUOffsetTRelativeSlot(2, header, 0)
    builder.PrependInt64Slot(3, body_len, 0)
    builder.Finish(builder.EndObject())
    meta = bytes(builder.Output())
    meta += b"\0" * (-len(meta) % 8)
    return struct.pack("<Ii", _CONTINUATION, len(meta)) + meta


def _write_type(builder: flatbuffers.Builder, t: DataType) -> Tuple[int, int]:
    """The type union tag and table of ``t``."""
    if t.kind == "timestamp":
        tz = builder.CreateString(t.tz) if t.tz else None
        builder.StartObject(2)
        builder.PrependInt16Slot(0, _UNITS.index(t.unit), 0)
        if tz is not None:
            builder.PrependUOffsetTRelativeSlot(1, tz, 0)
        return _TIMESTAMP, builder.EndObject()
    if t.kind == "int":
        builder.StartObject(2)
        builder.PrependInt32Slot(0, t.bits, 0)
        builder.PrependBoolSlot(1, t.signed, False)
        return _INT, builder.EndObject()
    if t.kind == "float":
        builder.StartObject(1)
        builder.PrependInt16Slot(0, 1 if t.bits == 32 else 2, 0)
        return _FLOAT, builder.EndObject()
    if t.kind == "date32":
        builder.StartObject(1)
        builder.PrependInt16Slot(0, 0, 1)
        return _DATE, builder.EndObject()
    tag = {"utf8": _UTF8, "binary": _BINARY, "bool": _BOOL}[t.kind]
    builder.StartObject(0)
    return tag, builder.EndObject()


def _offsets_vector(builder: flatbuffers.Builder, offsets: List[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def write_schema(schema: Schema) -> bytes:
    """Encodes ``schema`` as one IPC schema message."""
    builder = flatbuffers.Builder(256)
    fields = []
    for field in schema.fields:
        name = builder.CreateString(field.name)
        tag, type_table = _write_type(builder, field.type)
        children = _offsets_vector(builder, [])
        builder.StartObject(7)
        builder.PrependUOffsetTRelativeSlot(0, name, 0)
        builder.PrependBoolSlot(1, field.nullable, False)
        builder.PrependUint8Slot(2, tag, 0)
        builder.PrependUOffsetTRelativeSlot(3, type_table, 0)
        builder.PrependUOffsetTRelativeSlot(5, children, 0)
        fields.append(builder.EndObject())
    vector = _offsets_vector(builder, fields)
    builder.StartObject(4)
    builder.PrependUOffsetTRelativeSlot(1, vector, 0)
    return _message(builder, _HEADER_SCHEMA, builder.EndObject(), 0)


# Byte 0 or 1 -> ASCII '0' or '1' (any other byte as '1').
_BINARY_DIGITS = bytes([48] + [49] * 255)


def bitmap(bits) -> bytes:
    """Packs ``bits`` (bools) LSB first in C-speed steps: the bytes 0/1
    reversed read as one binary number are the bitmap as an integer."""
    if not bits:
        return b""
    digits = bytes(bits)[::-1].translate(_BINARY_DIGITS)
    return int(digits, 2).to_bytes((len(bits) + 7) // 8, "little")


_ZERO = {"bool": False, "utf8": "", "binary": b""}


def _value_buffers(t: DataType, values) -> List[bytes]:
    """The IPC buffers after the validity bitmap of ``values`` (no nulls);
    ``TypeError`` (or ``AttributeError``, ...) where a value does not fit."""
    fmt = _value_format(t)
    if fmt is not None:
        # An array or view of the column's format is already its buffer.
        if (isinstance(values, array) and values.typecode == fmt) or (
                isinstance(values, memoryview) and values.format == fmt):
            return [values.tobytes()]
        if fmt == "f":  # array rounds what is out of float32's range to inf
            return [array(fmt, values).tobytes()]
        # struct converts each value directly; array parses a format per value.
        return [struct.pack(f"<{len(values)}{fmt}", *values)]
    if t.kind == "bool":
        return [bitmap(values)]
    encoded = [v.encode() for v in values] if t.kind == "utf8" else [bytes(v) for v in values]
    offsets, end = [0], 0
    for value in encoded:
        end += len(value)
        offsets.append(end)
    return [array("i", offsets).tobytes(), b"".join(encoded)]


_NOT_FITTING = (TypeError, OverflowError, AttributeError, ValueError, struct.error)


def _column_buffers(field: Field, values) -> Tuple[int, List[bytes]]:
    """The null count and IPC buffers of one column. Values are encoded in
    one C-speed step first; only a column that fails (nulls, or values of a
    wrong type) is looked at value by value."""
    t = field.type
    try:
        return 0, [b"", *_value_buffers(t, values)]
    except _NOT_FITTING as error:
        failure = error
    nulls = sum(1 for v in values if v is None)
    if not nulls:
        raise IpcError(f"column {field.name!r} ({t}): {failure}") from None
    if not field.nullable:
        raise IpcError(f"column {field.name!r} is not nullable but has {nulls} nulls")
    zero = _ZERO.get(t.kind, 0)
    filled = [zero if v is None else v for v in values]
    try:
        return nulls, [bitmap([v is not None for v in values]), *_value_buffers(t, filled)]
    except _NOT_FITTING as error:
        raise IpcError(f"column {field.name!r} ({t}): {error}") from None


def _structs(builder: flatbuffers.Builder, pairs: List[Tuple[int, int]]) -> int:
    """A vector of structs of two int64, as FieldNode and Buffer are."""
    builder.StartVector(16, len(pairs), 8)
    for first, second in reversed(pairs):
        builder.Prep(8, 16)
        builder.PrependInt64(second)
        builder.PrependInt64(first)
    return builder.EndVector()


# Zeros that pad a buffer to a multiple of 8 bytes, by their length.
_PADDING = [b"\0" * n for n in range(8)]

# Message metadata of the record batches written so far, by their layout.
_HEADS: dict = {}


def write_batch(batch: Batch) -> bytes:
    """Encodes ``batch`` as one IPC record batch message (no schema)."""
    nodes, buffers, chunks, length = [], [], [], 0
    for field, values in zip(batch.schema.fields, batch._columns):
        nulls, parts = _column_buffers(field, values)
        nodes.append((batch.num_rows, nulls))
        for part in parts:
            buffers.append((length, len(part)))
            padding = -len(part) % 8
            chunks += (part, _PADDING[padding])
            length += len(part) + padding
    key = (batch.num_rows, tuple(nodes), tuple(buffers), length)
    head = _HEADS.get(key)
    if head is None:
        builder = flatbuffers.Builder(256 + 32 * len(buffers))
        node_vector = _structs(builder, nodes)
        buffer_vector = _structs(builder, buffers)
        builder.StartObject(5)
        builder.PrependInt64Slot(0, batch.num_rows, 0)
        builder.PrependUOffsetTRelativeSlot(1, node_vector, 0)
        builder.PrependUOffsetTRelativeSlot(2, buffer_vector, 0)
        head = _message(builder, _HEADER_RECORD_BATCH, builder.EndObject(), length)
        if len(_HEADS) >= _CACHED_LAYOUTS:
            _HEADS.clear()
        _HEADS[key] = head
    # Each buffer is copied once, into the message.
    return b"".join([head, *chunks])
