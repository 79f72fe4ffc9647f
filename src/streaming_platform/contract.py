"""The event contract (``contracts/customer_event.yaml``) as a typed, immutable model.

:func:`load` reads and checks the file the ``contract.path`` option names (the repository's copy
by default); :func:`current` is the process's contract, loaded once. Everything that knows what an
event is — validation, the Spark schema, index templates, GX suites, Kibana objects, the dashboard,
the producer, the README's table — reads it from here. Plain Python and PyYAML only, so the
dashboard and the Spark workers load it cheaply; :class:`Contract` pickles into Spark closures.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from streaming_platform import config

JSON_TYPES = ("string", "number", "integer")
RULES = ("id", "rfc3339", "event_type", "category")
CATEGORY_POLICIES = ("list",)
NORMALISERS = ("trim", "casefold")


_AGGREGATED = {
    "customer_id": "string",
    "product_id": "string",
    "amount": "number",
    "quantity": "integer",
    "location": "string",
}


class ContractError(ValueError):
    """The contract file is unreadable or breaks the contract's own grammar."""


@dataclass(frozen=True)
class Field:
    name: str
    type: Literal["string", "number", "integer"]
    required: bool
    doc: str = ""
    rule: str | None = None  # a named rule of validation.py (RULES)
    format: str | None = None  # JSON Schema format
    max_length: int | None = None
    minimum: float | None = None
    below_minimum: str | None = None  # its reason code
    maximum: float | None = None  # a fixed bound ...
    maximum_option: str | None = None  # ... or the config option that holds an editable one
    above_maximum: str | None = None


@dataclass(frozen=True)
class EventType:
    name: str
    field: str  # its count's field in the documents
    label: str
    revenue: Literal["adds", "subtracts", "none"] = "none"
    units: Literal["adds", "none"] = "none"


@dataclass(frozen=True)
class CategoryPolicy:
    policy: Literal["list"]
    values: tuple[str, ...]  # the known categories, canonical form
    normalise: tuple[str, ...] = ("trim", "casefold")
    max_length: int = 64
    max_distinct: int = 256

    def canonical(self, value: str) -> str:
        """The category's canonical form (the contract's normalisation)."""
        if "trim" in self.normalise:
            value = value.strip()
        if "casefold" in self.normalise:
            value = unicodedata.normalize("NFC", value.casefold())
        return value


@dataclass(frozen=True)
class Contract:
    name: str
    version: int
    fields: tuple[Field, ...]
    event_types: tuple[EventType, ...]
    categories: CategoryPolicy
    sample_locations: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # the file it came from

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def event_type_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.event_types)

    def type_index(self, role: str, value: str) -> int:
        """Index of the event type with ``role == value`` (e.g. revenue adds), -1 if none."""
        found = [i for i, t in enumerate(self.event_types) if getattr(t, role) == value]
        return found[0] if found else -1

    def json_schema(self) -> dict[str, Any]:
        """The field part as JSON Schema (draft 2020-12); editable maxima come from ``limits``."""
        props: dict[str, Any] = {}
        for f in self.fields:
            p: dict[str, Any] = {"type": f.type, "description": f.doc}
            if f.format:
                p["format"] = f.format
            if f.max_length is not None:
                p["maxLength"] = f.max_length
            if f.rule == "id":
                p["minLength"] = 1
            if f.minimum is not None:
                p["minimum"] = f.minimum
            if f.maximum is not None:
                p["maximum"] = f.maximum
            if f.rule == "event_type":
                p["enum"] = list(self.event_type_names)
            if f.rule == "category" and self.categories.policy == "list":
                p["description"] += (
                    f" Normalised ({', '.join(self.categories.normalise)}) to one of the values."
                )
                p["examples"] = list(self.categories.values)
            props[f.name] = p
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:streaming-platform:{self.name}:{self.version}",
            "title": self.name,
            "type": "object",
            "properties": props,
            "required": [f.name for f in self.fields if f.required],
        }


def _check(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise ContractError(f"contract: {where}: {message}")


def _field(name: str, spec: dict[str, Any]) -> Field:
    _check(isinstance(spec, dict), f"field {name}", "must be a mapping")
    known = set(Field.__dataclass_fields__) - {"name"}
    _check(not (set(spec) - known), f"field {name}", f"unknown keys {sorted(set(spec) - known)}")
    _check(spec.get("type") in JSON_TYPES, f"field {name}", f"type must be one of {JSON_TYPES}")
    _check(isinstance(spec.get("required"), bool), f"field {name}", "required must be true or false")
    _check(spec.get("rule") in (None, *RULES), f"field {name}", f"rule must be one of {RULES}")
    numeric = spec["type"] in ("number", "integer")
    for key in ("minimum", "maximum", "maximum_option"):
        _check(numeric or spec.get(key) is None, f"field {name}", f"{key} applies to numbers only")
    for bound, reason in (("minimum", "below_minimum"), ("maximum", "above_maximum")):
        has_bound = spec.get(bound) is not None or (bound == "maximum" and spec.get("maximum_option"))
        _check(
            not has_bound or bool(spec.get(reason)),
            f"field {name}",
            f"{bound} needs its reason code {reason}",
        )
    if spec.get("maximum_option"):
        names = {o.name for o in config.OPTIONS}
        _check(spec["maximum_option"] in names, f"field {name}", f"no option {spec['maximum_option']}")
    return Field(name=name, **spec)


def parse(doc: Any, source: str = "") -> Contract:
    """The contract from its parsed YAML (or JSON) document; :class:`ContractError` if ill-formed."""
    _check(isinstance(doc, dict), "top level", "must be a mapping")
    for key in ("name", "version", "fields", "event_types", "categories"):
        _check(key in doc, "top level", f"missing {key!r}")
    _check(type(doc["version"]) is int and doc["version"] > 0, "version", "must be a positive integer")
    fields = tuple(_field(n, s) for n, s in doc["fields"].items())
    for rule in ("event_type", "category", "rfc3339"):
        _check(sum(f.rule == rule for f in fields) == 1, "fields", f"exactly one field has rule {rule}")
    types = []
    for n, s in doc["event_types"].items():
        s = s or {}
        types.append(
            EventType(
                name=n,
                field=s.get("field", n),
                label=s.get("label", n),
                **{k: s[k] for k in ("revenue", "units") if k in s},
            )
        )
        _check(
            types[-1].revenue in ("adds", "subtracts", "none"), f"event type {n}", "revenue: adds|subtracts"
        )
        _check(types[-1].units in ("adds", "none"), f"event type {n}", "units: adds")
    _check(bool(types), "event_types", "at least one")
    for role, value in (("revenue", "adds"), ("revenue", "subtracts"), ("units", "adds")):
        _check(
            sum(getattr(t, role) == value for t in types) <= 1, "event_types", f"at most one {role}: {value}"
        )
    count_fields = [t.field for t in types]
    _check(len(set(count_fields)) == len(count_fields), "event_types", "their fields must differ")
    c = doc["categories"]
    _check(c.get("policy") in CATEGORY_POLICIES, "categories", f"policy must be one of {CATEGORY_POLICIES}")
    norm = tuple(c.get("normalise", NORMALISERS))
    _check(set(norm) <= set(NORMALISERS), "categories", f"normalise: a subset of {NORMALISERS}")
    policy = CategoryPolicy(
        policy=c["policy"],
        values=(),
        normalise=norm,
        max_length=int(c.get("max_length", 64)),
        max_distinct=int(c.get("max_distinct", 256)),
    )
    values = tuple(str(v) for v in c.get("values", ()))
    _check(bool(values), "categories", "values: at least one known category")
    for v in values:
        _check(
            policy.canonical(v) == v and 0 < len(v) <= policy.max_length, "categories", f"{v!r} not canonical"
        )
    _check(len(set(values)) == len(values), "categories", "values must differ")
    _check(len(values) <= policy.max_distinct, "categories", "more values than max_distinct")
    policy = CategoryPolicy(**{**policy.__dict__, "values": values})
    # The aggregates read these by name (and the id rule's fields by rule).
    kinds = {f.name: (f.type, f.required) for f in fields}
    for name, kind in _AGGREGATED.items():
        _check(kinds.get(name) == (kind, True), f"field {name}", f"the aggregates need it: required, {kind}")
    _check(
        kinds.get("event_id", (None,))[0] == "string", "field event_id", "needed: a string (optional or not)"
    )
    for f in fields:
        _check(
            f.rule not in ("rfc3339", "event_type", "category") or f.required, f"field {f.name}", "required"
        )
    return Contract(
        name=str(doc["name"]),
        version=doc["version"],
        fields=fields,
        event_types=tuple(types),
        categories=policy,
        sample_locations=tuple(doc.get("sample_locations", ())),
        source=source,
    )


def load(path: str | Path | None = None) -> Contract:
    """The contract at ``path`` (default: the ``contract.path`` option)."""
    path = Path(path or config.load()["contract.path"])
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContractError(f"contract: cannot read {path}: {exc}") from exc
    return parse(doc, str(path))


@functools.cache
def current() -> Contract:
    """The process's contract (loaded once: a changed file takes effect on restart)."""
    return load()
