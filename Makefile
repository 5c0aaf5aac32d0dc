# Filespace Portal: `make run` starts everything, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
WEB_PORT ?= 8000
# Procfile runs a worker per queue (portal/queues.py); Procfile.single one worker for them all.
PROCFILE ?= Procfile
SIM_PORT ?= 8001
STRIPE_PORT ?= 8420
# The first Python >= 3.12 found: on PATH, then under pyenv (its shims answer only when selected).
PYTHON ?= $(shell for p in python3.13 python3.12 python3 $$(pyenv root 2>/dev/null)/versions/3.1[3-9]*/bin/python3 $$(pyenv root 2>/dev/null)/versions/3.12*/bin/python3; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo $$p; break; fi; done)

PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py

.PHONY: help install run test test-clocks e2e docs-screenshots screenshots chaos lint format check-migrations bench mutate clean

help:
	@echo "make run    set up and start the portal, a worker per queue, beat and simulator (Ctrl-C stops all)"
	@echo "            (PROCFILE=Procfile.single: one worker serves every queue, for a small laptop)"
	@echo "make test   run the whole test suite (CLOCK=2026-11-30T23:59:59Z CLOCK_TZ=Zone pins the clock)"
	@echo "make test-clocks  the whole suite once at each risky instant (month and year ends, leap days)"
	@echo "make chaos  the fault suite on a private PostgreSQL and Redis (prints a results table)"
	@echo "make lint   ruff and the missing-migrations check"
	@echo "make docs-screenshots  refresh docs/screenshots/<journey>/ from the back-test and keyboard journeys"
	@echo "make mutate mutation testing of the rules (slow, not in CI; docs/testing.md)"

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.12 or newer is required (none found on PATH or under pyenv)." >&2; exit 1; fi
	@echo "Creating $(VENV) with $(PYTHON)"
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# axe-core for the browser journeys' accessibility check (tests/e2e/accessibility.py), from the
# npm registry at the versions package-lock.json pins; nothing from node_modules is served.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
	  echo "npm not found: the portal does not need it, the browser journeys' accessibility check does (apt-get install npm)."; \
	fi

install: $(VENV)/.installed node_modules/.installed

run: export DEBUG ?= true
run: export WEB_PORT := $(WEB_PORT)
run: export SIM_PORT := $(SIM_PORT)
run: export LUCIDLINK_API_URL ?= http://127.0.0.1:$(SIM_PORT)/api/v1
run: export LUCIDLINK_TOKEN_URL ?= http://127.0.0.1:$(SIM_PORT)/oauth2/token
run: export PORTAL_BASE_URL ?= http://127.0.0.1:$(WEB_PORT)
run: export LUCIDSIM_ACCOUNTS ?= portal-demo:portal-demo-secret:demo-msp
run: export LUCIDSIM_PROVISIONING_DELAY ?= 20
run: export LUCIDSIM_URL ?= http://127.0.0.1:$(SIM_PORT)
# The provisioning worker serves its metrics here and the billing, webhooks and email workers
# on the next three ports (docs/observability.md); the web's are at /metrics.
run: export WORKER_METRICS_PORT ?= 9808
# Payments against localstripe (docs/payments.md); set these to a real Stripe account's test or
# live keys, and unset STRIPE_API_BASE and STRIPE_JS_URL, to use Stripe itself.
run: export STRIPE_PORT := $(STRIPE_PORT)
run: export STRIPE_API_BASE ?= http://127.0.0.1:$(STRIPE_PORT)
run: export STRIPE_JS_URL ?= http://127.0.0.1:$(STRIPE_PORT)/js.stripe.com/v3/
run: export STRIPE_SECRET_KEY ?= sk_test_localstripe
run: export STRIPE_PUBLISHABLE_KEY ?= pk_test_localstripe
run: export STRIPE_WEBHOOK_SECRET ?= whsec_localstripe
run: install
	$(MANAGE) migrate --noinput
	@# seed_demo saves the demo customer's test card at localstripe, so it runs for the seeding
	@# (its store is kept in var/localstripe.pickle, which the Procfile's localstripe reloads).
	@$(PY) deploy/localstripe/serve.py --port $(STRIPE_PORT) --state var/localstripe.pickle \
	  > var/localstripe-seed.log 2>&1 & pid=$$!; \
	  for i in $$(seq 100); do grep -q listening var/localstripe-seed.log && break; sleep 0.1; done; \
	  $(MANAGE) seed_demo; status=$$?; kill $$pid; wait $$pid 2>/dev/null; exit $$status
	@echo
	@echo "  Portal     http://127.0.0.1:$(WEB_PORT)/"
	@echo "  Admin      http://127.0.0.1:$(WEB_PORT)/admin/"
	@echo "  Health     http://127.0.0.1:$(WEB_PORT)/healthz"
	@echo "  Metrics    http://127.0.0.1:$(WEB_PORT)/metrics and http://127.0.0.1:$$WORKER_METRICS_PORT/metrics (worker; +1..+3 the others)"
	@echo "  Simulator  http://127.0.0.1:$(SIM_PORT)/api/v1 (controls under /_sim/)"
	@echo "  Stripe     http://127.0.0.1:$(STRIPE_PORT) (localstripe; test cards in docs/payments.md)"
	@echo "  Ctrl-C stops everything; data stays in var/."
	@echo
	$(VENV)/bin/honcho -f $(PROCFILE) start

# CLOCK (an ISO-8601 instant) starts every test at that instant; CLOCK_TZ sets the time zone.
CLOCK ?= $(PORTAL_TEST_CLOCK)
CLOCK_TZ ?= $(PORTAL_TEST_TZ)
test: export PORTAL_TEST_CLOCK := $(CLOCK)
test: export PORTAL_TEST_TZ := $(CLOCK_TZ)
test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The whole suite at every instant in tests/fixtures/clock.py RISKY_INSTANTS; PYTEST_ARGS narrows it.
test-clocks: install
	$(PY) -m tests.fixtures.clock $(PYTEST_ARGS)

# Browser journeys in Debian's Chromium (apt-get install chromium); a failure keeps its
# screenshot and trace under $(E2E_OUTPUT), every run its page screenshots next to it.
E2E_OUTPUT ?= $(if $(ARTIFACTS),$(ARTIFACTS),var)/e2e-results
e2e: install
	$(VENV)/bin/pytest tests/e2e --screenshot only-on-failure --tracing retain-on-failure --output $(E2E_OUTPUT)

# Refresh docs/screenshots/<journey>/ from a run of some journeys (only when asked: a normal
# run keeps its screenshots under var/, so the work tree stays clean).
DOCS_JOURNEYS ?= tests/e2e/test_plan_backtest.py tests/e2e/test_keyboard_order.py
docs-screenshots: install
	rm -rf var/docs-screenshots
	ARTIFACTS=$(CURDIR)/var/docs-screenshots $(VENV)/bin/pytest $(DOCS_JOURNEYS) -q -p no:cacheprovider
	@for f in var/docs-screenshots/screenshots/*.png; do \
	  name=$$(basename $$f); journey=$$(echo $$name | sed -E 's/-[0-9]{2}-.*//'); \
	  mkdir -p docs/screenshots/$$journey && cp $$f docs/screenshots/$$journey/$${name#$$journey-}; \
	  echo "docs/screenshots/$$journey/$${name#$$journey-}"; done

# Refresh the journeys' screenshots in docs/screenshots (JOURNEYS=tests/e2e/test_x.py for some).
JOURNEYS ?= tests/e2e
screenshots: install
	E2E_SCREENSHOTS=$(CURDIR)/docs/screenshots $(VENV)/bin/pytest $(JOURNEYS) --output $(E2E_OUTPUT)

# Real workers, beat, lucidsim, and a private PostgreSQL cluster and Redis that the scenarios
# restart and freeze (never the shared ones); see tests/chaos and .ci/chaos.
chaos: install
	.ci/chaos

lint: install
	$(VENV)/bin/ruff check .
	$(MAKE) --no-print-directory check-migrations

check-migrations: install
	DEBUG=true $(MANAGE) makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Mutation testing of the modules that hold the rules ([tool.mutate] in pyproject.toml), each
# against its own tests, in workspaces under var/mutate/. Too slow for CI (docs/testing.md):
# run it when changing a rule, e.g. `make mutate TARGETS=webhook-signing`. A rerun continues.
MUTATE_CHILDREN ?= 1
MUTATE_BUDGET ?= 1800
mutate: install
	$(PY) .ci/mutate.py $(TARGETS) --children $(MUTATE_CHILDREN) --budget $(MUTATE_BUDGET)

clean:
	rm -rf var/ .pytest_cache .ruff_cache
