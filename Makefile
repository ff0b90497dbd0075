# The collections assistant. `make run` to try it, `make test` to check it. `make help` lists all.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV      := .venv
RASA_VENV := .venv-rasa
PY        := $(VENV)/bin/python
RASA      := $(RASA_VENV)/bin/rasa
FLASK     := $(VENV)/bin/flask --app webhook_app
# pip's own output goes to a log, shown only when it fails.
PIP_LOG    = var/log/pip.log
STEP       = @printf '\n\033[1m==> %s\033[0m\n'

RASA_INPUTS := config.yml domain.yml $(shell find data -type f -name '*.yml' 2>/dev/null) \
               $(wildcard nlu_components/*.py)

.PHONY: help
help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---------------------------------------------------------------- set-up (idempotent)
$(VENV)/.installed: pyproject.toml constraints.txt
	$(STEP) "[setup 1/4] app environment $(VENV) (Python 3.11+: Flask, SQLAlchemy, rasa-sdk, tests)"
	@test -x $(PY) || $$(scripts/find-python 3.11 3.12 3.13) -m venv $(VENV)
	@mkdir -p var/log
	@$(PY) -m pip install --quiet --upgrade pip >>$(PIP_LOG) 2>&1 || { tail -30 $(PIP_LOG); exit 1; }
	@$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]' >>$(PIP_LOG) 2>&1 \
	  || { tail -30 $(PIP_LOG); exit 1; }
	@touch $@
	@echo "    done: $$($(PY) --version)"

$(RASA_VENV)/.installed: requirements-rasa.txt requirements-rasa-nodeps.txt
	$(STEP) "[setup 2/4] Rasa environment $(RASA_VENV) (Python 3.10, rasa 3.6; takes about 2 minutes)"
	@test -x $(RASA_VENV)/bin/python || $$(scripts/find-python 3.10) -m venv $(RASA_VENV)
	@mkdir -p var/log
	@for args in "--upgrade pip wheel" "-r requirements-rasa.txt" "--no-deps -r requirements-rasa-nodeps.txt"; do \
	  $(RASA_VENV)/bin/python -m pip install --quiet $$args >>$(PIP_LOG) 2>&1 \
	    || { tail -30 $(PIP_LOG); echo "pip install $$args failed: $(PIP_LOG)"; exit 1; }; \
	done
	@touch $@
	@echo "    done: $$($(RASA) --version 2>/dev/null | head -1)"

.PHONY: setup
setup: $(VENV)/.installed $(RASA_VENV)/.installed ## create both environments (only what changed)

# Test tools that are not Python packages: Debian's Chromium (driven by Playwright with
# executable_path; never `playwright install`) and Prism, which mocks Twilio's REST API from
# Twilio's own OpenAPI file in ../shared/vendor/twilio-oai.
CHROMIUM := /usr/bin/chromium
PRISM    := .cache/prism/node_modules/.bin/prism

$(CHROMIUM):
	$(STEP) "[test tools] Chromium from Debian's packages (for the browser tests)"
	@command -v apt-get >/dev/null || { echo "error: install chromium (Debian package) at $(CHROMIUM)"; exit 1; }
	@apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	@echo "    done: $$($(CHROMIUM) --version 2>/dev/null | head -1)"

$(PRISM):
	$(STEP) "[test tools] Prism 5 (mock of Twilio's REST API from its OpenAPI file)"
	@command -v npm >/dev/null || { echo "error: install Node.js and npm for Prism"; exit 1; }
	@mkdir -p .cache/prism && npm install --silent --no-audit --no-fund --prefix .cache/prism @stoplight/prism-cli@5 >/dev/null
	@echo "    done: prism $$($(PRISM) --version)"

.PHONY: test-tools
test-tools: $(CHROMIUM) $(PRISM) ## Chromium and Prism for the browser and Twilio tests

models/.trained: $(RASA_VENV)/.installed $(RASA_INPUTS)
	$(STEP) "[setup 3/4] training the assistant (data/, domain.yml or config.yml changed; 1-3 minutes)"
	@mkdir -p models var/log
	@start=$$(date +%s); \
	  if ! TF_CPP_MIN_LOG_LEVEL=3 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONWARNINGS=ignore \
	      $(RASA) train --fixed-model-name assistant --out models >var/log/train.log 2>&1; then \
	    tail -40 var/log/train.log; echo "training failed: var/log/train.log"; exit 1; fi; \
	  echo "    trained in $$(( $$(date +%s) - start )) s: models/assistant.tar.gz ($$(du -h models/assistant.tar.gz | cut -f1)); log: var/log/train.log"; \
	  touch -d "@$$((start - 1))" $@  # as old as what was read: an edit made during training retrains

.PHONY: train
train: models/.trained ## train the Rasa model when its inputs changed

.PHONY: db
db: $(VENV)/.installed ## migrate the database and load the demo accounts and users
	$(STEP) "[setup 4/4] database: migrations and demo data"
	@$(FLASK) db upgrade
	@$(FLASK) demo load

# ---------------------------------------------------------------- run
.PHONY: run
run: setup train db ## set everything up, then start Rasa, the action server and the web app
	@scripts/run.sh

# ---------------------------------------------------------------- checks
.PHONY: lint
lint: $(VENV)/.installed ## ruff (lint and format check)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

.PHONY: typecheck
typecheck: $(VENV)/.installed ## mypy on bot/
	@$(VENV)/bin/mypy

.PHONY: test
test: setup train test-tools ## set up, then run the whole test suite
	$(STEP) "checks: ruff (lint, format) and mypy on bot/"
	@$(VENV)/bin/ruff check --quiet . && $(VENV)/bin/ruff format --check --quiet . && echo "    ruff: clean"
	@$(VENV)/bin/mypy | tail -1
	$(STEP) "tests: domain, services, gateway, web, real Rasa end to end, browser (pytest, $(VENV))"
	@REQUIRE_E2E=1 REQUIRE_BROWSER=1 REQUIRE_PRISM=1 $(VENV)/bin/pytest
	$(STEP) "tests: NLU components (pytest, $(RASA_VENV))"
	@$(RASA_VENV)/bin/python -m pytest -q -p no:cacheprovider --confcutdir=tests/nlu tests/nlu
	$(STEP) "tests: rasa data validate, and the test stories of every flow (rasa test core)"
	@TF_CPP_MIN_LOG_LEVEL=3 PYTHONWARNINGS=ignore $(RASA) data validate >var/log/validate.log 2>&1 \
	  || { tail -30 var/log/validate.log; exit 1; }
	@echo "    rasa data validate: ok"
	@TF_CPP_MIN_LOG_LEVEL=3 PYTHONWARNINGS=ignore PYTHONPATH=. $(RASA) test core \
	  --model models/assistant.tar.gz --stories tests/stories --out var/story-results \
	  --fail-on-prediction-errors >var/log/stories.log 2>&1 \
	  || { grep -iE "correct|failed|error" var/log/stories.log | tail -20; exit 1; }
	@grep -E "Correct:" var/log/stories.log | sed 's/.*Correct:/    stories and actions correct:/' 

.PHONY: eval
eval: $(RASA_VENV)/.installed ## measure the NLU on the held-out split (writes docs/nlu-eval.md)
	@HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(RASA_VENV)/bin/python scripts/eval_nlu.py

$(VENV)/.bench-installed: bench/requirements.txt $(VENV)/.installed
	$(STEP) "[bench] measuring tools into $(VENV) (psutil, pyinstrument, py-spy)"
	@$(PY) -m pip install --quiet -r bench/requirements.txt >>$(PIP_LOG) 2>&1 \
	  || { tail -30 $(PIP_LOG); exit 1; }
	@touch $@

# BENCH_ARGS passes options to bench/run.py, e.g. BENCH_ARGS="--concurrency 1,5 --seconds 20".
.PHONY: bench
bench: setup train $(VENV)/.bench-installed ## benchmarks: gateway vs Rasa latency, exactly-once, cold start, memory, training (writes bench/RESULTS.md; about 30 min)
	$(STEP) "benchmarks: the whole stack on loopback ports (bench/run.py $(BENCH_ARGS))"
	@$(PY) -m bench.run --train --profile --wait-quiet 300 $(BENCH_ARGS)

.PHONY: clean
clean: ## remove trained models and local databases (keeps the environments)
	rm -rf models var/*.db var/*.db-* .pytest_cache
