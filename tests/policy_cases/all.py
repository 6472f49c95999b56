"""All cases, from every module of tests/policy_cases."""

from __future__ import annotations

import importlib
import pkgutil

import tests.policy_cases as package
from tests.policy_cases import Case

ALL_CASES: list[Case] = [
    case
    for module in pkgutil.iter_modules(package.__path__)
    if module.name != "all" and not module.name.startswith("_")
    for case in importlib.import_module(f"tests.policy_cases.{module.name}").CASES
]
