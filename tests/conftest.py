"""Shared test fixtures: a real SQLite CRM with the demo data."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from crm_store import CrmStore
from crm_store.demo import load_demo
from dialogue import DialogueManager


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrmStore]:
    """A migrated SQLite file with the demo customers, products and orders (one per test module)."""
    store = CrmStore.open(f"sqlite:///{tmp_path_factory.mktemp('crm')}/crm.db")
    load_demo(store)
    yield store
    store.close()


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """A caller's sentence in a neural voice, 16 kHz float: real speech for the real VAD."""
    from hibari import Hibari

    from voicebot.pcm import resample

    return resample(Hibari()("Hello, I would like to know where my order is, please."), 24000, 16000)


@pytest.fixture(scope="module")
def manager(store: CrmStore) -> DialogueManager:
    """The dialogue manager on the module's CRM, with a transfer target set."""
    return DialogueManager(store, transfer_target="sip:agents@127.0.0.1")
