# Estate — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: setup bytecode system platforms lock run test lint format bench clean

# Bytecode is compiled ahead: where PYTHONDONTWRITEBYTECODE is set (as on CI), every
# process would otherwise recompile everything it imports (the service: ~5 s a start).
setup: $(STAMP) bytecode $(BIN)/estate-sandbox

# Third-party packages at the versions of constraints.txt (the ones the tests ran with):
# a fresh machine gets what CI tested, not whatever was released since.
INSTALL := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt

$(STAMP): pyproject.toml sdk/pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(INSTALL) -e sdk -e '.[dev]'
	touch $(STAMP)

bytecode: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 src sdk/src plugins

# The native plugin launcher (src/estate/runtime/sandbox.c): confines a plugin without
# an interpreter's start before it. Without cc, plugins get the Python one (sandbox.py).
$(BIN)/estate-sandbox: src/estate/runtime/sandbox.c $(STAMP)
	@if command -v cc >/dev/null 2>&1; then \
		cc -O2 -Wall -Wextra -Werror -o $@ $<; \
	else \
		echo "no C compiler: plugins are confined by the Python launcher (sandbox.py)"; \
	fi

run: setup
	$(BIN)/estate serve --host $(HOST) --port $(PORT) --demo

# What the tests need from Debian: chromium renders the API docs pages; the platform
# emulators and client libraries (SIMULATORS.md) need libvirt's headers (libvirt-python
# compiles), Go and govmomi (vcsim is built here), openipmi (ipmi_sim) and ipmitool.
# libvirtd serves libvirt's test driver to several processes (the actions' tests); it
# comes without its recommends (QEMU, LVM: not needed for the test driver).
SYSTEM_PACKAGES := chromium libvirt-dev pkg-config golang-go golang-github-vmware-govmomi-dev openipmi ipmitool
BARE_PACKAGES := libvirt-daemon
system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	bare=$$(for p in $(BARE_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing$$bare" ]; then \
		echo "installing $$missing $$bare"; \
		apt-get update -qq || exit 1; \
	fi; \
	if [ -n "$$missing" ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi; \
	if [ -n "$$bare" ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$bare; \
	fi

# The platforms' client libraries and emulators, for the tests and benchmarks only.
PLATFORMS := $(VENV)/.platforms
platforms: $(PLATFORMS)

$(PLATFORMS): $(STAMP) system
	$(INSTALL) -e sdk -e '.[dev,platforms]'
	touch $(PLATFORMS)

# The newest releases within pyproject.toml's ranges, pinned into constraints.txt (from
# a venv of their own: nothing installed by hand comes along); run `make test` with
# them before committing the new constraints.
LOCK_VENV := .lock-venv
lock: system
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv
	$(LOCK_VENV)/bin/uv pip install --quiet --python $(LOCK_VENV)/bin/python -e sdk -e '.[dev,platforms]'
	{ sed -n '/^#/p' constraints.txt; \
		$(LOCK_VENV)/bin/uv pip freeze --python $(LOCK_VENV)/bin/python --exclude-editable; \
	} > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(LOCK_VENV)

# vcsim, govmomi's vCenter simulator, behind our small main (Debian ships the package,
# not the command): built offline into the venv, with its GOPATH and cache in there too.
VCSIM := $(BIN)/vcsim
platforms: $(VCSIM)
$(VCSIM): tests/emulators/vcsim/main.go | $(PLATFORMS)
	cd tests/emulators/vcsim && GO111MODULE=off GOFLAGS= GOPATH=$(CURDIR)/$(VENV)/go:/usr/share/gocode \
		GOCACHE=$(CURDIR)/$(VENV)/go/cache go build -o $(CURDIR)/$(VCSIM) .

test: setup platforms
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff format --check src sdk tests bench plugins
	$(BIN)/ruff check src sdk tests bench plugins
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format src sdk tests bench plugins
	$(BIN)/ruff check --fix src sdk tests bench plugins

bench: setup platforms
	$(BIN)/python bench/ingest.py --resources 100000 --db sqlite
	$(BIN)/python bench/ingest.py --resources 100000 --db postgresql
	$(BIN)/python bench/runtime.py
	$(BIN)/python bench/search_index.py --resources 200000 --db postgresql
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/index.py
	$(BIN)/python bench/providers.py
	$(BIN)/python bench/api.py --resources 1000000 --db sqlite
	$(BIN)/python bench/api.py --resources 1000000 --db postgresql
	$(BIN)/python bench/actions.py
	$(BIN)/python bench/ui.py --resources 1000000 --db sqlite
	$(BIN)/python bench/ui.py --resources 1000000 --db postgresql

clean:
	rm -rf $(VENV) $(LOCK_VENV) .estate .pytest_cache .mypy_cache .ruff_cache
