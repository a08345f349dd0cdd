"""Checks OpenLineage run events (JSON lines, the file given) against the
model of the `openlineage-python` package: each event is built into the
package's generated classes (`RunEvent`, its datasets and every facet, by
facet name), which refuses an unknown field, a missing required one, a value
of the wrong type and what the package's validators refuse (a run id that is
not a UUID, an event time without a time); every `schemaURL` must be the one
the package's class declares; the package's serializer must give back every
field. Prints the events' types and outputs' facets as JSON; exits non-zero
naming the first problem."""

import enum
import json
import sys
import types
import typing

import attr
from openlineage.client import event_v2
from openlineage.client.generated import (
    base,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    error_message_run,
    output_statistics_output_dataset,
    processing_engine_run,
    schema_dataset,
)
from openlineage.client.serde import Serde

FACETS = {
    "schema": schema_dataset.SchemaDatasetFacet,
    "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet,
    "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
    "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
    "errorMessage": error_message_run.ErrorMessageRunFacet,
    "dataQualityAssertions": data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet,
}
FACET_BASES = (
    base.DatasetFacet,
    base.InputDatasetFacet,
    base.OutputDatasetFacet,
    base.RunFacet,
    base.JobFacet,
)


class Invalid(Exception):
    pass


def build(cls, data, path):
    if not isinstance(data, dict):
        raise Invalid(f"{path}: expected an object for {cls.__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in attr.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key in ("schemaURL", "_schemaURL"):
            if value != cls._get_schema():
                raise Invalid(f"{path}.{key}: {value!r}, the package says {cls._get_schema()!r}")
            continue
        field = fields.get(key)
        if field is None or not field.init:
            raise Invalid(f"{path}: {cls.__name__} has no field {key!r}")
        kwargs[field.alias] = convert(hints[key], value, f"{path}.{key}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise Invalid(f"{path}: {cls.__name__}: {error}") from error


def convert(hint, value, path):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return convert(options[0], value, path)
    if origin is list:
        if not isinstance(value, list):
            raise Invalid(f"{path}: expected a list")
        (item,) = typing.get_args(hint)
        return [convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise Invalid(f"{path}: expected an object")
        _, item = typing.get_args(hint)
        if isinstance(item, type) and issubclass(item, FACET_BASES):
            out = {}
            for name, facet in value.items():
                if name not in FACETS:
                    raise Invalid(f"{path}: no facet class known for {name!r}")
                out[name] = build(FACETS[name], facet, f"{path}.{name}")
            return out
        return {k: convert(item, v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError as error:
            raise Invalid(f"{path}: {error}") from error
    if attr.has(hint):
        return build(hint, value, path)
    expected = {str: str, int: int, bool: bool, float: (int, float)}.get(hint)
    if expected is not None and (not isinstance(value, expected) or isinstance(value, bool) != (hint is bool)):
        raise Invalid(f"{path}: {value!r} is not a {hint.__name__}")
    return value


def covers(serialized, original, path):
    """Every field of `original` is in `serialized`, equal."""
    if isinstance(original, dict):
        for key, value in original.items():
            if key not in serialized:
                raise Invalid(f"{path}.{key}: lost by the package's serializer")
            covers(serialized[key], value, f"{path}.{key}")
    elif isinstance(original, list):
        if len(serialized) != len(original):
            raise Invalid(f"{path}: {len(original)} items, serialized {len(serialized)}")
        for i, (s, o) in enumerate(zip(serialized, original)):
            covers(s, o, f"{path}[{i}]")
    elif serialized != original:
        raise Invalid(f"{path}: {original!r} serialized as {serialized!r}")


def main():
    seen = []
    with open(sys.argv[1]) as lines:
        for n, line in enumerate(lines, 1):
            data = json.loads(line)
            try:
                event = build(event_v2.RunEvent, data, f"event {n}")
                covers(json.loads(Serde.to_json(event)), data, f"event {n}")
            except Invalid as problem:
                print(problem, file=sys.stderr)
                sys.exit(1)
            seen.append(data)
    print(json.dumps(seen))


main()
