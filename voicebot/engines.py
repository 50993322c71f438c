"""The engines one process loads once and shares between its calls: recognizer, voice, dialogue, CRM."""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from asr.base import Recognizer
from tts.base import Synthesizer
from voicebot.config import Settings

log = logging.getLogger(__name__)


@dataclass
class Engines:
    recognizer: Recognizer
    synthesizer: Synthesizer
    dialogue: Any  # dialogue.DialogueManager
    store: Any  # crm_store.CrmStore
    load_s: dict[str, float] = field(default_factory=dict)
    asr_pool: Executor | None = None  # the recognizer's threads, apart from the loop's default executor

    @classmethod
    def load(cls, settings: Settings, store: Any | None = None, warm: bool = True,
             demo_if_empty: bool = True) -> Engines:
        """Load every engine once. `demo_if_empty`: fill an empty CRM with the demo data (demo, QA replay);
        a production line (`serve`, `call`) only warns, so made-up customers never reach a real store."""
        from asr import load_recognizer
        from crm_store import CrmStore
        from crm_store.demo import load_demo
        from dialogue import DialogueManager
        from tts import load_synthesizer

        times: dict[str, float] = {}
        t = time.perf_counter()
        if store is None:
            store = CrmStore.open(settings.crm.url)
            if store.is_empty() and demo_if_empty:
                log.info("CRM at %s is empty: loading the demo dataset", settings.crm.url)
                load_demo(store)
            elif store.is_empty():
                log.warning("the CRM at %s is empty: callers will hear that no order or product is found. "
                            "Load your data, or `voicebot crm load-demo` to try the bot out.", settings.crm.url)
        times["crm"] = time.perf_counter() - t

        t = time.perf_counter()
        a = settings.asr
        whisper = {"window_s": a.window_s, "workers": a.workers} if a.engine.startswith("whisper") else {}
        recognizer = load_recognizer(
            a.engine, device=a.device, threads=a.threads, language=a.language, model_dir=a.model_dir or None,
            **whisper,
        )
        times["asr"] = time.perf_counter() - t

        t = time.perf_counter()
        v = settings.tts
        synthesizer = load_synthesizer(
            v.voice, threads=v.threads, model_path=v.model_path or None, config_path=v.config_path or None
        )
        times["tts"] = time.perf_counter() - t

        t = time.perf_counter()
        d = settings.dialogue
        dialogue = DialogueManager(
            store,
            generator=_generator(d.generator),
            transfer_target=d.transfer_target or None,
            company=d.company,
        )
        times["dialogue"] = time.perf_counter() - t

        if warm:
            # One warm-up each: the first caller turn must not pay for lazy initialisation.
            t = time.perf_counter()
            recognizer.warm_up()
            synthesizer.warm_up()
            times["warm_up"] = time.perf_counter() - t
        # One more thread than the decoder runs in parallel: a speculative decode may overlap a final one.
        asr_pool = ThreadPoolExecutor(max_workers=settings.asr.workers + 1, thread_name_prefix="asr")
        return cls(recognizer, synthesizer, dialogue, store, times, asr_pool)


    def with_store(self, store: Any) -> Engines:
        """The same engines answering from another CRM (QA replay gives each fixture its own fresh copy)."""
        from dialogue import DialogueManager

        d = self.dialogue
        manager = DialogueManager(store, generator=d.generator, transfer_target=d.transfer_target,
                                  company=d.company, nlu=d.nlu, sentiment=d.sentiment, gate=d.gate)
        return replace(self, dialogue=manager, store=store)


def _generator(name: str) -> Any:
    from dialogue.seq2seq import make_generator

    # A missing or stale checkpoint gives templates marked "fallback:…", with one warning: never a crash.
    return make_generator(name or "seq2seq")
