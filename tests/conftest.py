"""Fixtures shared by every folder: synthetic models of each contract, and the download mirror's.

The functions tests share live in the helpers package beside this file (tests/ is on the path: pytest.ini).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import synthetic

# The download and planted-link tests (two folders) both serve files from the mirror.
pytest_plugins = ["helpers.mirror"]


@dataclass(frozen=True)
class ModelCase:
    name: str
    xml: Path
    input_size: tuple[int, int]  # (w, h)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, ModelCase]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "security-0091": ModelCase("security-0091", synthetic.security_0091_like(
            folder / "security.xml", synthetic.DEFAULT_DETECTORS), (1344, 800)),
        "person-0007": ModelCase("person-0007", synthetic.person_0007_like(
            folder / "person.xml", synthetic.DEFAULT_DETECTORS), (544, 320)),
        "two-input": ModelCase("two-input", synthetic.build_two_input_model(
            folder / "two_input.xml", synthetic.DEFAULT_DETECTORS), (640, 480)),
    }


