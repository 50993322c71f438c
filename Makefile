# The two commands a newcomer runs: `make demo` and `make test`. Both set up what they need first.
.PHONY: setup demo test lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/voicebot demo

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .

bench: setup
	.venv/bin/python benchmarks/replay_latency.py
