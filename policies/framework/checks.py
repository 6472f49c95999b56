"""Declarative property checks: most rules are a resource type, a property path and what the
value must be. :func:`property_rule` turns a list of :class:`Check` into a resource rule.

An expectation knows the provider's default for an absent property (``absent=``), so
"not set" is judged as AWS would apply it, and whether an unknown value can pass
(``Present`` can: an unknown key ARN is still a key). Any other unknown that decides the
verdict goes back to the SDK, which reports that the policy cannot run during preview.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policies.framework.resources import Resource
from policies.framework.rule import ResourceRule
from policies.framework.values import (
    MISSING,
    Undecidable,
    is_unknown,
    lookup,
    show,
    truthy,
    unknown,
)

Settings = Mapping[str, Any]


class Expectation:
    accepts_unknown = False

    def judge(self, value: Any, settings: Settings) -> bool:
        raise NotImplementedError

    def describe(self, settings: Settings) -> str:
        raise NotImplementedError


def _literal(value: Any) -> str:
    return json.dumps(value)


@dataclass(frozen=True)
class Equals(Expectation):
    expected: Any
    absent: Any = MISSING  # what AWS applies when the property is not set

    def judge(self, value: Any, settings: Settings) -> bool:
        if value is MISSING:
            value = self.absent
        if value is MISSING:
            return False
        if isinstance(self.expected, bool):
            return truthy(value) == self.expected
        return bool(value == self.expected)

    def describe(self, settings: Settings) -> str:
        return _literal(self.expected)


@dataclass(frozen=True)
class Present(Expectation):
    what: str = "set"
    accepts_unknown = True  # set to a value the update will compute: still set

    def judge(self, value: Any, settings: Settings) -> bool:
        return value is not MISSING and value not in ("", [], {})

    def describe(self, settings: Settings) -> str:
        return self.what


@dataclass(frozen=True)
class Absent(Expectation):
    why: str = "not set"

    def judge(self, value: Any, settings: Settings) -> bool:
        return value is MISSING or value in ("", [], {})

    def describe(self, settings: Settings) -> str:
        return self.why


@dataclass(frozen=True)
class _Bound(Expectation):
    param: str  # the rule parameter holding the bound
    absent: Any = MISSING

    def judge(self, value: Any, settings: Settings) -> bool:
        if value is MISSING:
            value = self.absent
        try:
            return self.holds(float(value), float(settings[self.param]))
        except (TypeError, ValueError):
            return False

    def holds(self, value: float, bound: float) -> bool:
        raise NotImplementedError


class AtLeast(_Bound):
    def holds(self, value: float, bound: float) -> bool:
        return value >= bound

    def describe(self, settings: Settings) -> str:
        return f"at least {settings[self.param]} (parameter {self.param})"


class AtMost(_Bound):
    def holds(self, value: float, bound: float) -> bool:
        return value <= bound

    def describe(self, settings: Settings) -> str:
        return f"at most {settings[self.param]} (parameter {self.param})"


@dataclass(frozen=True)
class OneOf(Expectation):
    values: tuple[Any, ...] = ()
    param: str | None = None  # or the rule parameter listing the allowed values
    absent: Any = MISSING

    def allowed(self, settings: Settings) -> list[Any]:
        return list(settings[self.param]) if self.param else list(self.values)

    def judge(self, value: Any, settings: Settings) -> bool:
        if value is MISSING:
            value = self.absent
        return value is not MISSING and value in self.allowed(settings)

    def describe(self, settings: Settings) -> str:
        allowed = ", ".join(_literal(v) for v in self.allowed(settings))
        origin = f" (parameter {self.param})" if self.param else ""
        return f"one of {allowed}{origin}"


@dataclass(frozen=True)
class Includes(Expectation):
    values: tuple[Any, ...] = ()
    param: str | None = None

    def required(self, settings: Settings) -> list[Any]:
        return list(settings[self.param]) if self.param else list(self.values)

    def judge(self, value: Any, settings: Settings) -> bool:
        if not isinstance(value, list):
            return False
        if all(item in value for item in self.required(settings)):
            return True
        if any(is_unknown(v) for v in value):
            raise Undecidable  # a missing item may be among the unknown ones
        return False

    def describe(self, settings: Settings) -> str:
        return "a list including " + ", ".join(_literal(v) for v in self.required(settings))


@dataclass(frozen=True)
class Satisfies(Expectation):
    predicate: Callable[[Any, Settings], bool]
    text: str | Callable[[Settings], str]
    accepts_unknown: bool = False

    def judge(self, value: Any, settings: Settings) -> bool:
        return self.predicate(value, settings)

    def describe(self, settings: Settings) -> str:
        return self.text(settings) if callable(self.text) else self.text


@dataclass(frozen=True)
class Check:
    path: str
    expect: Expectation
    types: tuple[str, ...] = ()  # only for these of the rule's types; empty: all of them
    need_entries: bool = False  # a ``[*]`` path over an empty or absent list fails
    optional: bool = False  # an absent property passes (AWS applies something acceptable)

    def findings(self, resource: Resource, settings: Settings) -> Iterator[str]:
        seen = False
        for where, value in lookup(resource.props, self.path):
            if value is MISSING and "[*]" in where and self.need_entries:
                continue  # reported once below as "no entries"
            seen = True
            if value is MISSING and self.optional:
                continue
            if is_unknown(value):
                if self.expect.accepts_unknown:
                    continue
                raise unknown(value, where)
            try:
                passed = self.expect.judge(value, settings)
            except Undecidable:
                raise unknown(value, where) from None
            if not passed:
                yield f"{where} is {show(where, value)}; expected {self.expect.describe(settings)}"
        if self.need_entries and not seen:
            list_path = self.path.split("[*]")[0]
            yield f"{list_path} has no entries; expected each to have {self.path} " + (
                self.expect.describe(settings)
            )


def property_rule(*, checks: tuple[Check, ...], **metadata: Any) -> ResourceRule:
    """A resource rule made only of property checks; every failed check is one finding."""

    def evaluate(resource: Resource, settings: Settings) -> Iterator[str]:
        # Every check runs: one waiting for an unknown value does not hide the others'
        # findings; the SDK hears about the unknown once they are all reported.
        pending: UnknownValueError | None = None
        for check in checks:
            if not check.types or resource.type in check.types:
                try:
                    yield from check.findings(resource, settings)
                except UnknownValueError as exc:
                    pending = pending or exc
        if pending is not None:
            raise pending

    return ResourceRule(evaluate=evaluate, **metadata)
