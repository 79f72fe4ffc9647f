"""The event contract (``contracts/customer_event.yaml``) as a typed, immutable model.

:func:`load` reads and checks the file the ``contract.path`` option names (the repository's copy
by default); :func:`current` is the process's contract, loaded once. Everything that knows what an
event is — validation, the Spark schema, index templates, GX suites, Kibana objects, the dashboard,
the producer, the README's table — reads it from here. Plain Python and PyYAML only, so the
dashboard and the Spark workers load it cheaply; :class:`Contract` pickles into Spark closures.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import asdict, dataclass, field
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


_CATEGORY_NAME = re.compile(r'[^."\\\x00-\x1f\x7f]+')


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
    sample_weight: float = 1.0  # its share of the producer's generated events


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


def _ordered(value: Any, where: str) -> dict[str, Any]:
    """A mapping in its order; also given as a list of entries with a ``name`` (how :func:`to_doc`
    stores it: Elasticsearch's ``_meta`` does not keep key order, and order is meaning here)."""
    if isinstance(value, list):
        _check(all(isinstance(e, dict) and "name" in e for e in value), where, "entries need a name")
        return {e["name"]: {k: v for k, v in e.items() if k != "name"} for e in value}
    _check(isinstance(value, dict), where, "must be a mapping")
    return value


def parse(doc: Any, source: str = "") -> Contract:
    """The contract from its parsed YAML (or JSON) document; :class:`ContractError` if ill-formed."""
    _check(isinstance(doc, dict), "top level", "must be a mapping")
    for key in ("name", "version", "fields", "event_types", "categories"):
        _check(key in doc, "top level", f"missing {key!r}")
    doc = {
        **doc,
        "fields": _ordered(doc["fields"], "fields"),
        "event_types": _ordered(doc["event_types"], "event_types"),
    }
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
                sample_weight=float(s.get("sample_weight", 1.0)),
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
    # The stateful steps count the units of the type that adds to revenue (jvm/state).
    for t in types:
        together = (t.units == "adds") == (t.revenue == "adds")
        _check(together, f"event type {t.name}", "units: adds goes with revenue: adds")
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
        # Values become document field names (a dot would nest them) and JSON keys.
        _check(_CATEGORY_NAME.fullmatch(v) is not None, "categories", f"{v!r}: no dots, quotes or controls")
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


def labels(contract: Contract) -> dict[str, Any]:
    """What the dashboard shows of the contract (its snapshot's ``contract`` field)."""
    return {
        "name": contract.name,
        "version": contract.version,
        "event_types": [{"name": t.name, "field": t.field, "label": t.label} for t in contract.event_types],
        "categories": list(contract.categories.values),
    }


# ---------------------------------------------------------------------------- evolution


def to_doc(contract: Contract) -> dict[str, Any]:
    """The contract as a document :func:`parse` reads (to store the installed one); fields and
    event types as lists, whose order survives any JSON store."""
    fields = [{k: v for k, v in asdict(f).items() if v is not None} for f in contract.fields]
    types = [asdict(t) for t in contract.event_types]
    c = contract.categories
    return {
        "name": contract.name,
        "version": contract.version,
        "fields": fields,
        "event_types": types,
        "categories": {
            "policy": c.policy,
            "normalise": list(c.normalise),
            "max_length": c.max_length,
            "max_distinct": c.max_distinct,
            "values": list(c.values),
        },
        "sample_locations": list(contract.sample_locations),
    }


def _narrowed(old: float | None, new: float | None, lower: bool) -> bool:
    """A bound narrowed: added where there was none, or moved inwards."""
    if new is None:
        return False
    if old is None:
        return True
    return new > old if lower else new < old


def compatibility(old: Contract, new: Contract) -> list[str]:
    """Why ``new`` cannot replace ``old`` (empty: it can). Additive changes pass: a new optional
    field, a new event type at the end, a new category anywhere (categories travel by name, so
    their order is free), a wider range or cap. Each refusal names the field (or type, or category)
    it is about."""
    problems: list[str] = []
    if new.name != old.name:
        problems.append(f"contract renamed {old.name!r} → {new.name!r}")
    if new.version < old.version:
        problems.append(f"version went back from {old.version} to {new.version}")
    elif new.version == old.version and to_doc(new) != to_doc(old):
        problems.append(f"the contract changed but its version is still {old.version}: raise it")
    new_fields = {f.name: f for f in new.fields}
    for o in old.fields:
        n = new_fields.get(o.name)
        if n is None:
            problems.append(f"field {o.name}: removed")
            continue
        if n.type != o.type:
            problems.append(f"field {o.name}: type changed {o.type} → {n.type}")
        if n.required and not o.required:
            problems.append(f"field {o.name}: now required")
        if n.rule != o.rule:
            problems.append(f"field {o.name}: rule changed {o.rule} → {n.rule}")
        if _narrowed(o.max_length, n.max_length, lower=False):
            problems.append(f"field {o.name}: max_length narrowed {o.max_length} → {n.max_length}")
        if _narrowed(o.minimum, n.minimum, lower=True):
            problems.append(f"field {o.name}: range narrowed, minimum {o.minimum} → {n.minimum}")
        if _narrowed(o.maximum, n.maximum, lower=False) or (o.maximum_option != n.maximum_option):
            was, now = o.maximum_option or o.maximum, n.maximum_option or n.maximum
            if now is not None:
                problems.append(f"field {o.name}: range narrowed or moved, maximum {was} → {now}")
        for code in ("below_minimum", "above_maximum"):
            if getattr(o, code) and getattr(n, code) != getattr(o, code):
                problems.append(f"field {o.name}: reason code {getattr(o, code)} → {getattr(n, code)}")
    old_names = {f.name for f in old.fields}
    for n in new.fields:
        if n.name not in old_names and n.required:
            problems.append(f"field {n.name}: new and required (events sent today lack it)")
    new_types = new.event_types[: len(old.event_types)]
    for i, o in enumerate(old.event_types):
        t = new_types[i] if i < len(new_types) else None
        if t is None or t.name != o.name:
            problems.append(f"event type {o.name}: removed or moved (new types go at the end)")
        elif (t.field, t.revenue, t.units) != (o.field, o.revenue, o.units):
            problems.append(f"event type {o.name}: its role or count field changed")
    oc, nc = old.categories, new.categories
    if nc.policy != oc.policy:
        problems.append(f"categories: policy changed {oc.policy} → {nc.policy}")
    if not set(oc.normalise) <= set(nc.normalise):
        problems.append(f"categories: normalisation narrowed {list(oc.normalise)} → {list(nc.normalise)}")
    if nc.max_length < oc.max_length:
        problems.append(f"categories: max_length narrowed {oc.max_length} → {nc.max_length}")
    for v in oc.values:
        if v not in nc.values:
            problems.append(f"category {v}: removed")
    return problems


# ---------------------------------------------------------------------------- the README's table

TABLE_START, TABLE_END = "<!-- contract-table:start -->", "<!-- contract-table:end -->"


def _rule_text(f: Field) -> str:
    parts = []
    if f.rule == "id":
        parts.append(f"id: 1–{f.max_length} printable characters, no controls")
    elif f.max_length is not None:
        parts.append(f"at most {f.max_length} characters")
    if f.rule == "rfc3339":
        parts.append("RFC 3339 (strict), at most `validation.max.future.seconds` ahead")
    if f.rule == "event_type":
        parts.append("one of the event types")
    if f.rule == "category":
        parts.append("normalised, one of the categories")
    if f.minimum is not None:
        parts.append(f"≥ {f.minimum:g} (`{f.below_minimum}`)")
    if f.maximum_option or f.maximum is not None:
        bound = f"`{f.maximum_option}`" if f.maximum_option else f"{f.maximum:g}"
        parts.append(f"≤ {bound} (`{f.above_maximum}`)")
    return "; ".join(parts)


def markdown_tables(contract: Contract) -> str:
    """The README's event tables (fields; event types and their roles), from the contract."""
    lines = [
        f"Contract `{contract.name}` version {contract.version}.",
        "",
        "| field | type | required | rule |",
        "| --- | --- | --- | --- |",
    ]
    for f in contract.fields:
        lines.append(f"| `{f.name}` | {f.type} | {'yes' if f.required else 'no'} | {_rule_text(f)} |")
    lines += ["", "| event type | counted as | revenue | units |", "| --- | --- | --- | --- |"]
    for t in contract.event_types:
        revenue = {"adds": "adds", "subtracts": "subtracts", "none": "—"}[t.revenue]
        lines.append(f"| `{t.name}` | `{t.field}` | {revenue} | {'adds' if t.units == 'adds' else '—'} |")
    c = contract.categories
    lines += [
        "",
        f"Categories ({c.policy}, normalised: {', '.join(c.normalise)}): "
        + ", ".join(f"`{v}`" for v in c.values)
        + ".",
    ]
    return "\n".join(lines)


def readme_with_tables(text: str, contract: Contract) -> str:
    """``text`` (the README) with the block between the table markers regenerated."""
    head, _, rest = text.partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    return f"{head}{TABLE_START}\n{markdown_tables(contract)}\n{TABLE_END}{tail}"


if __name__ == "__main__":  # python -m streaming_platform.contract README.md: regenerate its tables
    import sys

    readme = Path(sys.argv[1])
    readme.write_text(readme_with_tables(readme.read_text(encoding="utf-8"), current()), encoding="utf-8")
