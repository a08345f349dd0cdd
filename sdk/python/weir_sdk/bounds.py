"""Input bounds: what every row a transform passes on holds, stated once in
``open`` so that the host can leave unread the input no such row is in (a
Parquet file's row groups whose min/max statistics exclude every bound).

Set ``self.bounds`` in ``open`` to a dict of input column name to a
condition (or a list of conditions, all of which hold)::

    self.bounds = {"auction": weir_sdk.one_of(1007, 1020),
                   "price": weir_sdk.between(min=100)}

A bound may be loose, never wrong: the plugin still decides about every row
it is sent, and the host only skips input that no bound lets through.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union


@dataclass(frozen=True)
class Condition:
    """One condition on a column's values: ``kind`` is ``"between"`` (values
    ``(min, max)``, ``None`` for an open side), ``"one_of"`` (the allowed
    values) or ``"not_null"``. Build it with :func:`between`,
    :func:`one_of` or :func:`not_null`."""

    kind: str
    values: Tuple[Any, ...] = ()


def between(min: Any = None, max: Any = None) -> Condition:
    """The value is at least ``min`` and at most ``max`` (inclusive; ``None``
    leaves that side open). Nulls do not meet it."""
    if min is None and max is None:
        raise ValueError("between() needs min, max or both")
    return Condition("between", (min, max))


def one_of(*values: Any) -> Condition:
    """The value is one of ``values``. Nulls do not meet it."""
    if len(values) == 1 and isinstance(values[0], (list, tuple, set, frozenset)):
        values = tuple(values[0])
    return Condition("one_of", tuple(values))


def not_null() -> Condition:
    """The value is not null."""
    return Condition("not_null")


Bounds = Dict[str, Union[Condition, List[Condition]]]


def _scalar(wit, value: Any, column: str):
    """The WIT scalar of one bound value (bool before int: a bool is one)."""
    if isinstance(value, bool):
        return wit.Scalar_Boolean(value)
    if isinstance(value, int):
        return wit.Scalar_Int(value)
    if isinstance(value, float):
        return wit.Scalar_Float(value)
    if isinstance(value, str):
        return wit.Scalar_Text(value)
    raise TypeError(f"bound on column {column!r}: {value!r} is not a bool, int, float or str")


def to_wit(bounds: Optional[Bounds], schema) -> list:
    """The WIT ``bound`` list of ``bounds``, columns resolved in ``schema``
    (the full input schema)."""
    from wit_world.exports import input_bounds as wit

    answer = []
    for name, conditions in (bounds or {}).items():
        column = schema.index(name)
        if isinstance(conditions, Condition):
            conditions = [conditions]
        for condition in conditions:
            if not isinstance(condition, Condition):
                raise TypeError(f"bound on column {name!r}: {condition!r} is not a weir_sdk condition "
                                "(between, one_of or not_null)")
            if condition.kind == "between":
                low, high = (None if v is None else _scalar(wit, v, name) for v in condition.values)
                wit_condition = wit.Condition_Between((low, high))
            elif condition.kind == "one_of":
                wit_condition = wit.Condition_OneOf([_scalar(wit, v, name) for v in condition.values])
            else:
                wit_condition = wit.Condition_NotNull()
            answer.append(wit.Bound(column=column, condition=wit_condition))
    return answer
