"""Shared locations for the analytics tests: the Stanford figures under ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

FIGURES = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "data"
    / "reference"
    / "open-policing-figures"
)


@pytest.fixture(scope="session")
def figures() -> Path:
    if not FIGURES.is_dir():
        pytest.skip(
            f"Stanford Open Policing figures not available: {FIGURES} does not exist "
            "(shared data not mounted)"
        )
    return FIGURES
