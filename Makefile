# Every target creates .venv on first use, so a fresh clone needs only `make serve` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: serve install test lint bench bench-history bench-search bench-protocols bench-ceiling bench-page bench-shared soak abuse fuzz irctest screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@ $(VENV)/.run

serve: $(VENV)/.run
	$(BIN)/selchat serve $(ARGS)

# the selchat command on your PATH: a link into .venv, in ~/.local/bin unless BINDIR says elsewhere
# (a link, not pip install --user, which Debian's Python refuses: PEP 668)
BINDIR ?= $(HOME)/.local/bin
install: $(VENV)/.run
	mkdir -p $(BINDIR)
	ln -sf $(CURDIR)/$(BIN)/selchat $(BINDIR)/selchat
	@echo "selchat is in $(BINDIR)$$(case ":$$PATH:" in *":$(BINDIR):"*) ;; *) echo ', which is not on your PATH yet';; esac)"

lint: $(VENV)/.dev
	$(BIN)/ruff check .

test: $(VENV)/.dev lint
	$(BIN)/python -m pytest $(ARGS)

# hundreds of misbehaving clients for 10 minutes (DURATION=600 CLIENTS=300) while well-behaved ones count
soak: $(VENV)/.dev
	$(BIN)/python bench/soak.py --duration $(or $(DURATION),600) --clients $(or $(CLIENTS),300) $(ARGS)

# every abuse of issue 21 against a server with its default limits, while well-behaved clients chat
abuse: $(VENV)/.dev
	$(BIN)/python bench/abuse.py $(ARGS)

# random and mutated frames against a live server (DURATION=120 SEED=1)
fuzz: $(VENV)/.dev
	$(BIN)/python bench/fuzz.py --duration $(or $(DURATION),120) --seed $(or $(SEED),1) $(ARGS)

# selchat and both baselines, side by side in one run: bench/results/latest.{md,json,png}
bench: $(VENV)/.dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/run.py $(ARGS)

# what history and accounts cost, side by side: bench/results/history.{md,json}
bench-history: $(VENV)/.dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/history.py $(ARGS)

# full-text search over 1,000,000 messages, and the index's cost at saturation: bench/results/search.{md,json}
bench-search: $(VENV)/.dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/search.py --saturation $(or $(ROUNDS),5) $(ARGS)

# JSON, IRC, mixed and WebSocket clients side by side (BEFORE=DIR adds older code's JSON rate): bench/results/protocols.md
bench-protocols: $(VENV)/.dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/protocols.py $(if $(BEFORE),--before $(BEFORE)) $(ARGS)

# the ceiling beside Redis pub/sub with the C loadgen (LOADGEN=/tmp/loadgen, built from ../shared/loadgen;
# BEFORE=DIR adds an older checkout's row): bench/results/ceiling.md
bench-ceiling: $(VENV)/.dev
	$(BIN)/python bench/ceiling.py $(if $(LOADGEN),--loadgen $(LOADGEN)) $(if $(BEFORE),--before $(BEFORE)) $(ARGS)

# one process alone, one with --redis, two with --redis: CPU per delivery, side by side: bench/results/shared.md
bench-shared: $(VENV)/.dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/shared.py $(ARGS)

# the README's pictures of the page (docs/page.png, docs/page-phone.png), taken by the browser test
screenshot: $(VENV)/.dev
	SELCHAT_SCREENSHOTS=$(CURDIR)/docs $(BIN)/python -m pytest -q tests/test_page_screens.py

# typing latency and memory in Chromium with 10,000 lines and 2,000 members: bench/results/page.json
bench-page: $(VENV)/.dev
	SELCHAT_PAGE_FIGURES=$(CURDIR)/bench/results/page.json $(BIN)/python -m pytest -q -s tests/test_page_speed.py

# the IRC conformance suite against selchat, from a checkout of https://github.com/progval/irctest
# at IRCTEST=DIR (kept outside this project), with tests/irctest_selchat.py as its controller: the
# whole of server_tests/, with the markers of issue 23 (ergo's own run uses the same ones)
IRCTEST_MARKERS := not implementation-specific and not deprecated and not strict
irctest: $(VENV)/.dev
	@test -n "$(IRCTEST)" || { echo "usage: make irctest IRCTEST=DIR (a checkout of github.com/progval/irctest)"; exit 2; }
	$(BIN)/python -m pip install -q filelock ecdsa websockets
	cd $(IRCTEST) && PYTHONPATH=$(CURDIR) $(CURDIR)/$(BIN)/python -m pytest -p no:cacheprovider -q -rfs \
		--timeout 120 --controller tests.irctest_selchat -m "$(IRCTEST_MARKERS)" irctest/server_tests/ $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
