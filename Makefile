# Ninefold developer entry points. Every tool runs from the project venv by explicit path
# (.venv/bin/...); nothing needs an activated environment.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# `pip install` runs again only when pyproject.toml is newer than its stamp: the server alone
# (`make run`) or the server and the dev tools (`make venv`, `make lint`, `make test`)
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
DATA   ?= ./data
PORT   ?= 9000
LINT_PATHS := ninefold tests $(wildcard benchmarks)

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv venv-run deps run lint test test-slow bench bench-quick bench-profile clean

help:
	@echo "make run        start the embedded server on 127.0.0.1:$(PORT) (data in $(DATA));"
	@echo "                make run PORT=9100 DATA=/srv/nf; installs only the server's packages"
	@echo "make test       venv + deps + lint + tests (what CI runs)"
	@echo "make test-slow  the slow tests only (-m slow)"
	@echo "make lint       ruff check, ruff format --check, mypy (package + test harness), lint-imports"
	@echo "make deps       system tools for the client tests (rclone, s3cmd)"
	@echo "make bench      issue-6 suite, 3 runs each: Ninefold embedded + cluster vs SeaweedFS,"
	@echo "                Swift EC 6+3, nginx; checks; profiles -> BENCHMARKS.md (~15 min)"
	@echo "make bench-quick  smoke run of the suite (1 run, small counts); BENCHMARKS.md untouched"
	@echo "make bench-profile  py-spy profiles of the embedded server per workload only"
	@echo "make venv       create/refresh $(VENV) from pyproject.toml, with the dev tools"
	@echo "make venv-run   create/refresh $(VENV) with the server's packages only"

venv: $(DEV_STAMP)

venv-run: $(RUN_STAMP)

# the dev install holds the server's packages too: it satisfies `make run` as well
$(DEV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

deps:
	bash scripts/install-deps.sh

run: venv-run
	$(BIN)/ninefold server $(DATA) --address 127.0.0.1:$(PORT)

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/mypy tests/support tests/conftest.py tests/clients
	$(BIN)/lint-imports

test: venv deps lint
	$(BIN)/pytest -q

test-slow: venv deps
	$(BIN)/pytest -q -m slow

# the suite (benchmarks/run.py), then the per-workload profiles (benchmarks/profile.py); both
# rewrite their own section of BENCHMARKS.md and keep raw results in benchmarks/results/
bench: venv
	$(BIN)/python benchmarks/run.py; status=$$?; \
	$(BIN)/python benchmarks/profile.py && exit $$status

bench-quick: venv
	$(BIN)/python benchmarks/run.py --quick; status=$$?; \
	$(BIN)/python benchmarks/profile.py --quick && exit $$status

bench-profile: venv
	$(BIN)/python benchmarks/profile.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache ninefold.egg-info
