"""Arrow types, fields, schemas and record batches as Python plugin code sees them.

pyarrow does not run inside WebAssembly, so the SDK carries its own small
model of the Arrow data Weir moves: a batch is a schema and the values of
each column, ``None`` for nulls: a Python list (``Batch.column``), or, for a
fixed-width column without nulls, a ``memoryview`` over the batch's bytes
(``Batch.values``). Values are plain Python objects:

==================  ===========================================
Arrow type          Python value
==================  ===========================================
bool                ``bool``
int8 .. uint64      ``int``
float32, float64    ``float``
utf8                ``str``
binary              ``bytes``
date32              ``int``: days since 1970-01-01
timestamp[unit]     ``int``: ``unit``\\s since 1970-01-01 UTC
==================  ===========================================
"""

from array import array
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

TIME_UNITS = ("s", "ms", "us", "ns")


@dataclass(frozen=True)
class DataType:
    """One Arrow data type Weir supports.

    ``kind`` is ``"bool"``, ``"int"``, ``"float"``, ``"utf8"``, ``"binary"``,
    ``"date32"`` or ``"timestamp"``; ``bits`` and ``signed`` describe
    integers and floats, ``unit`` and ``tz`` timestamps.
    """

    kind: str
    bits: int = 0
    signed: bool = True
    unit: Optional[str] = None
    tz: Optional[str] = None

    def __str__(self) -> str:
        if self.kind == "int":
            return f"{'' if self.signed else 'u'}int{self.bits}"
        if self.kind == "float":
            return f"float{self.bits}"
        if self.kind == "timestamp":
            return f"timestamp[{self.unit}]" + (f" ({self.tz})" if self.tz else "")
        return self.kind


BOOL = DataType("bool")
INT8, INT16, INT32, INT64 = (DataType("int", b) for b in (8, 16, 32, 64))
UINT8, UINT16, UINT32, UINT64 = (DataType("int", b, signed=False) for b in (8, 16, 32, 64))
FLOAT32, FLOAT64 = DataType("float", 32), DataType("float", 64)
UTF8 = DataType("utf8")
BINARY = DataType("binary")
DATE32 = DataType("date32")


def timestamp(unit: str = "ms", tz: Optional[str] = "+00:00") -> DataType:
    """A timestamp type counting ``unit`` (``s``, ``ms``, ``us`` or ``ns``)."""
    if unit not in TIME_UNITS:
        raise ValueError(f"unknown time unit {unit!r}; expected one of {TIME_UNITS}")
    return DataType("timestamp", unit=unit, tz=tz)


_NAMES = {
    "bool": BOOL, "boolean": BOOL,
    "int8": INT8, "int16": INT16, "int32": INT32, "int64": INT64,
    "uint8": UINT8, "uint16": UINT16, "uint32": UINT32, "uint64": UINT64,
    "float32": FLOAT32, "float64": FLOAT64, "double": FLOAT64,
    "utf8": UTF8, "string": UTF8, "binary": BINARY, "date32": DATE32, "date": DATE32,
}


def data_type(name: str) -> DataType:
    """Parses the type names pipeline files use (``int64``, ``utf8``,
    ``timestamp[ms]``, ...)."""
    key = name.strip().lower()
    if key in _NAMES:
        return _NAMES[key]
    if key == "timestamp":
        return timestamp("ms")
    if key.startswith("timestamp[") and key.endswith("]"):
        return timestamp(key[len("timestamp["):-1])
    raise ValueError(f"unknown type {name!r}")


@dataclass(frozen=True)
class Field:
    """A named, typed column of a schema."""

    name: str
    type: DataType
    nullable: bool = True


class Schema:
    """The fields of a batch, in order."""

    def __init__(self, fields: Iterable[Field]):
        self.fields: List[Field] = list(fields)
        self._index = {f.name: i for i, f in enumerate(self.fields)}

    def index(self, name: str) -> int:
        """The position of the field called ``name``; ``KeyError`` names the
        fields there are."""
        try:
            return self._index[name]
        except KeyError:
            names = ", ".join(self.names)
            raise KeyError(f"no column {name!r}; the schema has {names}") from None

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        return self.fields[self.index(name)]

    @property
    def names(self) -> List[str]:
        """The field names, in order."""
        return [f.name for f in self.fields]

    def append(self, *fields: Field) -> "Schema":
        """This schema with ``fields`` added at the end."""
        return Schema(self.fields + list(fields))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.fields == other.fields

    def __repr__(self) -> str:
        return "Schema(" + ", ".join(f"{f.name}: {f.type}" for f in self.fields) + ")"


class Batch:
    """A record batch: a schema and the values of each column.

    ``column(name)`` answers a column as a Python list. ``values(name)``
    answers it without building one where the column allows: a read-only
    ``memoryview`` over the batch's bytes for a fixed-width column without
    nulls (integers, floats, and dates and timestamps as integers), the
    list otherwise. Both index, iterate and ``len`` alike; ``values`` is the
    faster way to read a column once.
    """

    def __init__(self, schema: Schema, columns: Sequence[Sequence[Any]], num_rows: Optional[int] = None):
        """``num_rows`` counts the rows of a batch without columns (a
        transform reading none); otherwise it is the columns' length."""
        if len(columns) != len(schema.fields):
            raise ValueError(f"{len(columns)} columns for {len(schema.fields)} fields")
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        self.schema = schema
        self._columns: List[Sequence[Any]] = list(columns)
        self.num_rows = lengths.pop() if lengths else (num_rows or 0)

    @property
    def columns(self) -> List[List[Any]]:
        """Every column as a list, in schema order."""
        return [self._list(i) for i in range(len(self._columns))]

    @classmethod
    def from_columns(cls, schema: Schema, columns: Dict[str, List[Any]]) -> "Batch":
        """A batch from a dict of column name to values, in schema order."""
        return cls(schema, [columns[name] for name in schema.names])

    @classmethod
    def from_rows(cls, schema: Schema, rows: Iterable[Dict[str, Any]]) -> "Batch":
        """A batch from dicts of column name to value (missing: null)."""
        rows = list(rows)
        return cls(schema, [[row.get(name) for row in rows] for name in schema.names])

    def column(self, name: str) -> List[Any]:
        """The values of the column called ``name``, as a list."""
        return self._list(self.schema.index(name))

    def _list(self, i: int) -> List[Any]:
        """Column ``i`` as a list, made (once) from a view or array."""
        values = self._columns[i]
        if not isinstance(values, list):
            values = values.tolist() if isinstance(values, (memoryview, array)) else list(values)
            self._columns[i] = values
        return values

    def values(self, name: str) -> Sequence[Any]:
        """The values of the column called ``name``, without building a
        list where the column allows (see the class)."""
        return self._columns[self.schema.index(name)]

    def rows(self) -> Iterator[Dict[str, Any]]:
        """The rows, as dicts of column name to value."""
        names = self.schema.names
        for values in zip(*self._columns):
            yield dict(zip(names, values))

    def filter(self, keep: Sequence[bool]) -> "Batch":
        """The rows where ``keep`` is true."""
        return Batch(self.schema, [[v for v, k in zip(c, keep) if k] for c in self._columns])

    def append_column(self, field: Field, values: List[Any]) -> "Batch":
        """This batch with one more column."""
        return Batch(self.schema.append(field), self._columns + [values])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Batch)
            and self.schema == other.schema
            and self.columns == other.columns
        )

    def __repr__(self) -> str:
        return f"Batch({self.num_rows} rows, {self.schema!r})"


class Layout:
    """The output of a transform in derived mode, returned by ``open``
    instead of a schema: input columns the host passes on by itself (their
    values never cross into the plugin, whether or not it reads them), in
    order, and the columns the plugin appends. ``process`` then answers a
    :class:`Derived`: which rows to keep and the appended columns' values.

    ``Layout(input_schema).keep("id", "price").append(Field("eur", FLOAT64))``
    """

    def __init__(self, input_schema: Schema):
        self.input_schema = input_schema
        #: Per output column: ``("input", index)`` or ``("appended", index)``.
        self.sources: List[tuple] = []
        self.fields: List[Field] = []
        self.appended: List[Field] = []

    def keep(self, *names: str) -> "Layout":
        """Passes on the input columns ``names``, in that order."""
        for name in names:
            self.sources.append(("input", self.input_schema.index(name)))
            self.fields.append(self.input_schema.field(name))
        return self

    def keep_all(self) -> "Layout":
        """Passes on every input column."""
        return self.keep(*self.input_schema.names)

    def rename(self, name: str, new_name: str) -> "Layout":
        """Passes on input column ``name`` as ``new_name``."""
        field = self.input_schema.field(name)
        self.sources.append(("input", self.input_schema.index(name)))
        self.fields.append(Field(new_name, field.type, field.nullable))
        return self

    def append(self, field: Field) -> "Layout":
        """Adds a column whose values ``process`` returns."""
        self.sources.append(("appended", len(self.appended)))
        self.appended.append(field)
        self.fields.append(field)
        return self

    def replace(self, name: str, field: Field) -> "Layout":
        """Puts a column ``process`` computes in the place of the column
        called ``name`` laid out so far (a new type or new values)."""
        at = [f.name for f in self.fields].index(name)
        self.sources[at] = ("appended", len(self.appended))
        self.appended.append(field)
        self.fields[at] = field
        return self

    @property
    def schema(self) -> Schema:
        """The output schema."""
        return Schema(self.fields)

    @property
    def appended_schema(self) -> Schema:
        """The schema of the appended columns, in their order."""
        return Schema(self.appended)


class Derived:
    """What a derived-mode ``process`` answers for one input batch.

    ``keep``: one bool per input row, or ``None`` to keep every row.
    ``columns``: the appended columns' values, one per *kept* row, as a dict
    by name or a list in the layout's append order (``None`` when nothing
    is appended). Rows passed to ``reject`` must not be kept.
    """

    def __init__(self, keep: Optional[Sequence[bool]] = None,
                 columns: Union[Dict[str, List[Any]], List[List[Any]], None] = None):
        self.keep = keep
        self.columns = columns
