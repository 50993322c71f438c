"""Shared test fixtures: a real SQLite CRM with the demo data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_store import CrmStore
from crm_store.demo import load_demo

ALICE = "+15551230001"  # demo customer: owns orders 4567 (shipped), 1024, 567 and 23456


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrmStore]:
    """A migrated SQLite file with the demo customers, products and orders (one per test module)."""
    store = CrmStore.open(f"sqlite:///{tmp_path_factory.mktemp('crm')}/crm.db")
    load_demo(store)
    yield store
    store.close()
