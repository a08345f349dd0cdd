"""The plugin classes authors subclass, their errors, and the adapters that
turn them into the exports of a Weir WebAssembly component.

Authors never see IPC bytes or the generated WIT bindings: a transform gets
a :class:`~weir_sdk.arrow.Batch` and returns batches. In the app module
that componentize-py builds, export the class with one line::

    Transform = weir_sdk.export_transform(MyTransform)

(``Source = weir_sdk.export_source(...)`` and ``Sink =
weir_sdk.export_sink(...)`` for the other worlds). The module-level name is
the one componentize-py looks for; it must match the world's export.
"""

import io
import json
import sys
import traceback
from typing import Any, Dict, List, Optional, Union

from . import bounds as _bounds
from . import ipc
from .arrow import Batch, Derived, Layout, Schema


class PluginError(Exception):
    """Base of the errors a plugin raises; the host reports the message with
    the node's name."""


class InvalidConfig(PluginError):
    """The configuration is wrong: say which field and why."""


class InvalidInput(PluginError):
    """The input schema or a batch cannot be processed."""


class InvalidState(PluginError):
    """The state given to ``restore`` is not one this plugin wrote."""


class Unavailable(PluginError):
    """Something the plugin needs is unavailable; retrying may help."""


class Transform:
    """A transform: batches in, batches out.

    Set ``name``, ``version`` and ``description``; override :meth:`open`
    and :meth:`process`, and :meth:`finish`, :meth:`snapshot` and
    :meth:`restore` if the transform holds state. One instance serves one
    node instance, one call at a time.
    """

    name = "python-transform"
    version = "0.1.0"
    description = ""
    #: Input columns the transform reads (names); ``None``: all. Set it in
    #: :meth:`open`: the host then sends only these, in this order.
    reads: Optional[List[str]] = None
    #: What every row the transform passes on holds, by input column name:
    #: a condition (:func:`~weir_sdk.between`, :func:`~weir_sdk.one_of`,
    #: :func:`~weir_sdk.not_null`) or a list of them. Set it in :meth:`open`:
    #: the host may then leave unread input no such row is in.
    bounds: Optional[_bounds.Bounds] = None

    def open(self, config: Dict[str, Any], input_schema: Schema) -> Union[Schema, Layout]:
        """Checks ``config`` (the node's JSON config, ``{}`` when none) and
        answers the output schema, or a :class:`Layout` for derived mode.
        Raise :class:`InvalidConfig` for a bad config."""
        return input_schema

    def process(self, batch: Batch) -> Union[Batch, List[Batch], Derived, None]:
        """Processes one batch: return a batch, a list of batches or
        ``None``; in derived mode (``open`` answered a :class:`Layout`), a
        :class:`Derived`."""
        raise NotImplementedError

    def reject(self, row: int, message: str) -> None:
        """Sends row ``row`` (0-based) of the batch being processed to the
        node's dead letters with ``message``; leave it out of what
        :meth:`process` returns. The rest of the batch goes on."""
        _state.setdefault("rejected", []).append((int(row), str(message)))

    def finish(self) -> List[Batch]:
        """Called once at the end of bounded input: returns what is held."""
        return []

    def snapshot(self) -> Optional[bytes]:
        """The state to carry into a new instance (checkpoints, hot reload);
        ``None`` for a stateless transform."""
        return None

    def restore(self, state: bytes) -> None:
        """Takes the state :meth:`snapshot` wrote, right after :meth:`open`."""
        raise InvalidState("this transform keeps no state")


class Source:
    """A source: produces batches until it is done."""

    name = "python-source"
    version = "0.1.0"
    description = ""

    def open(self, config: Dict[str, Any]) -> Schema:
        """Checks ``config`` and answers the schema of what it produces."""
        raise NotImplementedError

    def next(self, max_rows: int) -> Union[Batch, float, None]:
        """The next batch (at most ``max_rows`` rows); a number of seconds to
        wait before asking again; or ``None`` when done."""
        raise NotImplementedError

    def snapshot(self) -> Optional[bytes]:
        """Where the source is, to resume from; ``None`` if it cannot."""
        return None

    def restore(self, state: bytes) -> None:
        """Continues from a position :meth:`snapshot` wrote."""
        raise InvalidState("this source keeps no position")


class Sink:
    """A sink: writes batches somewhere."""

    name = "python-sink"
    version = "0.1.0"
    description = ""

    def open(self, config: Dict[str, Any], input_schema: Schema) -> None:
        """Checks ``config`` for input of ``input_schema``."""

    def write(self, batch: Batch) -> None:
        """Writes one batch."""
        raise NotImplementedError

    def flush(self) -> None:
        """Makes everything written so far durable; called at the end."""


def _wit_error(error: BaseException):
    """The WIT ``error`` variant for an exception a plugin raised."""
    from wit_world.imports import types

    kinds = {
        InvalidConfig: types.Error_InvalidConfig,
        InvalidInput: types.Error_InvalidInput,
        InvalidState: types.Error_InvalidState,
        Unavailable: types.Error_Unavailable,
    }
    for kind, variant in kinds.items():
        if isinstance(error, kind):
            return variant(str(error))
    return types.Error_Internal(_describe(error))


def _describe(error: BaseException) -> str:
    """``ValueError: message (at app.py:12 in process)``: the exception's
    type and message and the plugin's own line that raised it. Built from
    the traceback's frames without reading source files (``traceback``'s
    formatting does, and fails inside the sandbox)."""
    text = f"{type(error).__name__}: {error}"
    try:
        frames = [(frame.f_code.co_filename, line, frame.f_code.co_name)
                  for frame, line in traceback.walk_tb(error.__traceback__)]
        own = [f for f in frames if "weir_sdk" not in f[0]] or frames
        if own:
            file, line, function = own[-1]
            text += f" (at {file.rsplit('/', 1)[-1]}:{line} in {function})"
    except Exception:  # the message matters more than where
        pass
    return text


class _Printed(io.TextIOBase):
    """``sys.stdout`` or ``sys.stderr`` of a plugin while the host calls it.
    The component has no WASI (a write to the real streams would trap the
    instance), so each line printed goes to the host's log at ``info``,
    with the stream's name, as a Rust plugin's output does."""

    def __init__(self, stream: str):
        super().__init__()
        self.stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            log("info", line, stream=self.stream)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            log("info", self.pending, stream=self.stream)
            self.pending = ""

    def writable(self) -> bool:
        return True


_STDOUT, _STDERR = _Printed("stdout"), _Printed("stderr")


def _calling(method):
    """Wraps an export method so plugin exceptions become WIT errors and
    what it prints reaches the log. (The streams are swapped per call: at
    build time, when the module is imported, the host is not there.)"""

    def call(self, *args):
        from componentize_py_types import Err

        sys.stdout, sys.stderr = _STDOUT, _STDERR
        try:
            return method(self, *args)
        except Err:
            raise
        except Exception as error:  # every failure crosses as a typed error
            raise Err(_wit_error(error)) from None
        finally:
            _STDOUT.flush()
            _STDERR.flush()

    call.__name__ = method.__name__
    return call


def _config(text: str) -> Dict[str, Any]:
    try:
        config = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise InvalidConfig(f"the config is not JSON: {error}") from None
    return config if config is not None else {}


def _info(plugin):
    from wit_world.imports import types

    return types.PluginInfo(name=plugin.name, version=plugin.version,
                            description=plugin.description)


def _batches(result, schema: Schema, call: str) -> List[Batch]:
    if result is None:
        return []
    batches = [result] if isinstance(result, Batch) else list(result)
    for batch in batches:
        if batch.schema != schema:
            raise InvalidInput(f"{call} returned a batch of {batch.schema!r}, "
                               f"but the output schema is {schema!r}")
    return batches


def _derivation(result, rows: int, layout: Layout):
    """The WIT derivation of what a derived-mode ``process`` answered."""
    from wit_world.exports import transform as wit

    if not isinstance(result, Derived):
        raise InvalidInput(f"process must return weir_sdk.Derived in derived mode, not {type(result).__name__}")
    keep = result.keep
    kept = rows
    if keep is not None:
        if len(keep) != rows:
            raise InvalidInput(f"Derived.keep has {len(keep)} entries for a batch of {rows} rows")
        try:
            keep = bytes(keep)
        except (TypeError, ValueError):  # not plain bools: take their truth
            keep = bytes(bool(k) for k in keep)
        kept = rows - keep.count(0)
    appended = None
    if layout.appended:
        columns = result.columns
        if columns is None:
            raise InvalidInput(f"Derived.columns is missing: the layout appends {layout.appended_schema!r}")
        if isinstance(columns, dict):
            missing = [f.name for f in layout.appended if f.name not in columns]
            if missing:
                raise InvalidInput(f"Derived.columns has no {missing[0]!r}")
            columns = [columns[f.name] for f in layout.appended]
        for field, values in zip(layout.appended, columns):
            if len(values) != kept:
                raise InvalidInput(f"appended column {field.name!r} has {len(values)} values for {kept} kept rows")
        appended = ipc.write_batch(Batch(layout.appended_schema, columns))
    selection = None if keep is None else ipc.bitmap(keep)
    return wit.Derivation(selection=selection, appended=appended)


# componentize-py may make a new export object per call: the plugin and its
# schemas live at module level, one set per component instance.
_state: Dict[str, Any] = {}


class _Stateful:
    """``snapshot`` and ``restore`` of the exported plugin (transforms and
    sources)."""

    @_calling
    def snapshot(self):
        return _state["plugin"].snapshot()

    @_calling
    def restore(self, state):
        _state["plugin"].restore(bytes(state))


def export_transform(cls):
    """The export class of the transform world for transform class ``cls``.

    It also defines ``InputBounds``, the export of the plugin's
    ``bounds``, in the calling (app) module, where componentize-py looks
    for it."""
    from wit_world import exports
    from wit_world.exports import transform as wit

    plugin = cls()
    _state["plugin"] = plugin

    class InputBounds(exports.InputBounds):
        def bounds(self):
            return _state.get("bounds", [])

    sys._getframe(1).f_globals.setdefault("InputBounds", InputBounds)

    class Export(_Stateful, exports.Transform):
        def about(self):
            return _info(plugin)

        @_calling
        def open(self, config, input_schema):
            schema = ipc.read_schema(bytes(input_schema))
            output = plugin.open(_config(config), schema)
            reads = None
            if plugin.reads is not None:
                # The host sends them in the input's order, each once.
                reads = sorted({schema.index(name) for name in plugin.reads})
                _state["input"] = Schema(schema.fields[i] for i in reads)
            else:
                _state["input"] = schema
            try:
                _state["bounds"] = _bounds.to_wit(plugin.bounds, schema)
            except (KeyError, TypeError, ValueError) as error:
                raise InvalidConfig(f"bounds: {error.args[0] if error.args else error}") from None
            if isinstance(output, Layout):
                _state["layout"] = output
                _state["output"] = output.schema
                sources = [wit.ColumnSource_Input(i) if kind == "input" else wit.ColumnSource_Appended(i)
                           for kind, i in output.sources]
                mode = wit.OutputMode_Derived(sources)
            else:
                _state["layout"] = None
                _state["output"] = output
                mode = wit.OutputMode_Batches()
            return wit.Plan(output_schema=ipc.write_schema(_state["output"]), reads=reads, mode=mode)

        @_calling
        def process(self, batch):
            from wit_world.imports import types

            _state["rejected"] = []
            batch = ipc.read_batch(_state["input"], batch)
            result = plugin.process(batch)
            if _state["layout"] is not None:
                output = wit.Output_Derived(_derivation(result, batch.num_rows, _state["layout"]))
            else:
                batches = _batches(result, _state["output"], "process")
                output = wit.Output_Batches([ipc.write_batch(b) for b in batches])
            rejected = [types.RejectedRow(row=row, message=message)
                        for row, message in _state.pop("rejected")]
            return wit.Processed(output=output, rejected=rejected)

        @_calling
        def finish(self):
            batches = _batches(plugin.finish(), _state["output"], "finish")
            return [ipc.write_batch(b) for b in batches]

    return Export


def export_source(cls):
    """The export class of the source world for source class ``cls``."""
    from wit_world import exports
    from wit_world.exports import source as wit

    plugin = cls()
    _state["plugin"] = plugin

    class Export(_Stateful, exports.Source):
        def about(self):
            return _info(plugin)

        @_calling
        def open(self, config):
            _state["output"] = plugin.open(_config(config))
            return wit.Plan(output_schema=ipc.write_schema(_state["output"]))

        @_calling
        def next(self, max_rows):
            result = plugin.next(max_rows)
            if result is None:
                return wit.Poll_Done()
            if isinstance(result, (int, float)):
                return wit.Poll_Wait(int(result * 1000))
            (batch,) = _batches(result, _state["output"], "next")
            return wit.Poll_Batch(ipc.write_batch(batch))

    return Export


def export_sink(cls):
    """The export class of the sink world for sink class ``cls``."""
    from wit_world import exports
    from wit_world.exports import sink as wit

    plugin = cls()

    class Export(exports.Sink):
        def about(self):
            return _info(plugin)

        @_calling
        def open(self, config, input_schema):
            _state["input"] = ipc.read_schema(bytes(input_schema))
            plugin.open(_config(config), _state["input"])
            return wit.Plan(reads=None)

        @_calling
        def write(self, batch):
            plugin.write(ipc.read_batch(_state["input"], batch))

        @_calling
        def flush(self):
            plugin.flush()

    return Export


def log(level: str, message: str, **fields: Any) -> None:
    """Logs through the host (``trace``, ``debug``, ``info``, ``warn`` or
    ``error``), with the node's name and ``fields``."""
    from wit_world.imports import host

    host.log(host.Level[level.upper()], message, [(k, str(v)) for k, v in fields.items()])
