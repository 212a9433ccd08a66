# The two commands of the README: `make demo` and `make test`. Each creates or reuses the project-local
# virtualenv (.venv) and installs what it needs, pinned, by itself.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COLLECTION_LINK := .collections/ansible_collections/macroai/deploy
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

.PHONY: demo test venv unit lint sanity integration molecule benchmarks sandbox-up sandbox-down clean

venv: $(STAMP) $(COLLECTION_LINK)

$(STAMP): requirements/dev.in requirements/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.in -c requirements/constraints.txt
	@touch $@

# Ansible finds this collection through ansible.cfg's collections_path: a link back to the work tree, so
# edits need no reinstall.
$(COLLECTION_LINK):
	@mkdir -p $(dir $@)
	@ln -sfn ../../.. $@

demo: venv
	$(BIN)/python -m sandbox up
	$(BIN)/ansible-playbook playbooks/deploy.yml -i inventories/hobby -i inventories/sandbox -e approve=true
	@echo
	@echo "Second run of the same release (expect changed=0):"
	$(BIN)/ansible-playbook playbooks/deploy.yml -i inventories/hobby -i inventories/sandbox -e approve=true
	@echo
	@echo "The sandbox is still up, serving the release on loopback ('make sandbox-down' stops it):"
	@$(BIN)/python -m sandbox status

test: venv unit lint sanity
	tools/integration-and-molecule.sh

unit: venv
	$(BIN)/python -m pytest tests/unit -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ansible-lint
	$(BIN)/python -m sandbox --help >/dev/null

sanity: venv
	tools/sanity.sh

integration: venv
	$(BIN)/python -m pytest tests/integration -q -n 2 --dist loadfile

molecule: venv
	$(BIN)/molecule test --all

benchmarks: venv
	$(BIN)/python benchmarks/run.py

sandbox-up: venv
	$(BIN)/python -m sandbox up

sandbox-down: venv
	$(BIN)/python -m sandbox down

clean:
	-test -x $(BIN)/python && $(BIN)/python -m sandbox down
	rm -rf $(VENV) .collections .sandbox .build
