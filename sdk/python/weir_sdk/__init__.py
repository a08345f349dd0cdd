"""Weir's Python SDK: write Weir plugins (transforms, sources, sinks) in
Python and build them into WebAssembly components with componentize-py.

A complete transform, the app module ``app.py`` of a plugin::

    import weir_sdk
    from weir_sdk import Batch, Field, FLOAT64


    class Fahrenheit(weir_sdk.Transform):
        name = "fahrenheit"
        description = "adds temperature_f"

        def open(self, config, input_schema):
            input_schema.field("temperature")  # KeyError names the columns
            return input_schema.append(Field("temperature_f", FLOAT64))

        def process(self, batch):
            f = [None if c is None else c * 9 / 5 + 32
                 for c in batch.column("temperature")]
            return batch.append_column(Field("temperature_f", FLOAT64), f)


    Transform = weir_sdk.export_transform(Fahrenheit)

Build it with ``weir plugin build DIR`` (see the README of ``sdk/python``).
"""

from .arrow import (
    BINARY, BOOL, DATE32, FLOAT32, FLOAT64, INT8, INT16, INT32, INT64, UINT8,
    UINT16, UINT32, UINT64, UTF8, Batch, DataType, Derived, Field, Layout, Schema, data_type,
    timestamp,
)
from .bounds import Condition, between, not_null, one_of
from .ipc import IpcError, read_batch, read_schema, write_batch, write_schema
from .plugin import (
    InvalidConfig, InvalidInput, InvalidState, PluginError, Sink, Source,
    Transform, Unavailable, export_sink, export_source, export_transform, log,
)

__all__ = [
    "BINARY", "BOOL", "DATE32", "FLOAT32", "FLOAT64", "INT8", "INT16", "INT32",
    "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "UTF8", "Batch", "DataType", "Derived", "Layout",
    "Field", "Schema", "data_type", "timestamp", "IpcError", "read_batch",
    "read_schema", "write_batch", "write_schema", "InvalidConfig",
    "InvalidInput", "InvalidState", "PluginError", "Sink", "Source",
    "Transform", "Unavailable", "export_sink", "export_source",
    "export_transform", "log", "Condition", "between", "one_of", "not_null",
]
