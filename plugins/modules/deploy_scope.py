#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: deploy_scope
short_description: Decide what a release redeploys from the files changed since the last release
version_added: 0.1.0
description:
  - Compares the commit being released (O(commit)) with the commit of the last successful release
    (O(base_commit), read from the release ledger) in the application's git repository, classifies every
    changed path by glob patterns (backend, frontend, infrastructure, shared; the seed's lists by default)
    and returns which parts to redeploy, with a reason for each.
  - "The seed's deployment scope matrix: a backend change redeploys the backend, a frontend change the
    frontend, an infrastructure change converges the infrastructure, a shared change (root C(package.json),
    lock file, C(turbo.json), C(eslint.config.js)) redeploys backend and frontend. A path matching several
    components counts for each: the seed lists C(infrastructure/**) under backend as well as infrastructure,
    so a change there does both."
  - Migrations are in scope when a changed path matches O(migration_patterns) (the Drizzle config, SQL files,
    a C(migrations) directory); they also put the backend in scope, since a migration runs from the new
    backend image.
  - A rename counts under both its old and its new path, a deletion under its path. Paths that match no
    component are reported in the reasons and trigger nothing. With nothing changed (O(base_commit) equals
    O(commit), or the same tree) nothing is in scope.
  - "Everything is in scope, with a warning saying why, when there is no O(base_commit) (the first release),
    when O(base_commit) is not in the repository (a force push rewrote the history, or a shallow clone
    does not reach it: fetch with full depth), or with O(force_rebuild)."
  - Runs C(git) on the controller (C(git diff --name-status -M)); read-only, reports C(changed=false) and
    runs the same in check mode.
author:
  - Macro AI maintainers (@macroai)
options:
  repo_path:
    description:
      - The application's git repository (a clone with the history back to O(base_commit)). Paths are taken
        from the repository's top level; see O(path_prefix) for an application in a subdirectory.
    type: path
    required: true
  commit:
    description:
      - The commit being released (a sha, tag or branch); resolved to a full sha.
    type: str
    default: HEAD
  base_commit:
    description:
      - The commit of the last successful release, from the release ledger. Empty means there is none (the
        first release), so everything is in scope.
    type: str
    default: ''
  force_rebuild:
    description:
      - Put everything in scope whatever changed. The changed files are still listed, and each reason says
        what the diff alone would have decided.
    type: bool
    default: false
  patterns:
    description:
      - Component name (V(backend), V(frontend), V(infrastructure), V(shared)) to a list of glob patterns,
        merged over the defaults component by component (a component given here replaces its default list;
        an empty list disables it).
      - "Defaults, the seed's: backend C(apps/express-api/**), C(infrastructure/**),
        C(packages/macro-ai-api-client/**), C(packages/config-*/**), C(drizzle.config.ts), C(**/*.sql);
        frontend C(apps/client-ui/**), C(packages/ui-library/**), C(tailwind.config.ts),
        C(postcss.config.js); infrastructure C(infrastructure/**), C(.github/workflows/**),
        C(docker-compose.yml); shared C(package.json), C(pnpm-lock.yaml), C(turbo.json),
        C(eslint.config.js)."
      - "Patterns are anchored at the top level (after O(path_prefix) is stripped): C(*) and C(?) match
        within one directory, C(**) as a whole path segment any number of directories (C(**/x) is C(x) at
        any depth, C(a/**) everything under C(a)), C([abc]) one of the characters. So C(package.json) is the
        root one only, and the seed's C(*.sql), meant for SQL files anywhere, is written C(**/*.sql)."
    type: dict
  migration_patterns:
    description:
      - Glob patterns of changes that need a database migration (same syntax as O(patterns)).
    type: list
    elements: str
    default: ['**/drizzle.config.ts', '**/*.sql', '**/migrations/**']
  path_prefix:
    description:
      - Consider only paths under this directory of the repository, with it stripped before matching (an
        application kept in a subdirectory of a larger repository). A rename across its boundary counts as
        an addition or a deletion; paths outside it are returned in RV(ignored_files). It must be a directory
        of O(commit).
    type: str
    default: ''
extends_documentation_fragment:
  - macroai.deploy.attributes
  - macroai.deploy.attributes.read_only
notes:
  - Needs C(git) on the controller. Give the release commit as a full sha so the ledger records what was
    compared; the result's RV(commit) and RV(base_commit) are always full.
  - "In CI, clone with full history (C(actions/checkout) with C(fetch-depth: 0)): in a shallow clone the last
    release's commit is usually missing and everything is released."
"""

EXAMPLES = r"""
- name: What does this release redeploy?
  macroai.deploy.deploy_scope:
    repo_path: "{{ playbook_dir }}/../app"
    commit: "{{ release_commit }}"
    base_commit: "{{ last_release.commit | default('') }}"
    force_rebuild: "{{ force_rebuild | default(false) | bool }}"
  register: scope

- name: Say why
  ansible.builtin.debug:
    msg: "{{ scope.reasons }}"

- name: An application in a subdirectory, with its own backend and frontend directories
  macroai.deploy.deploy_scope:
    repo_path: /srv/checkout
    path_prefix: services/shop
    base_commit: 3f1c2a9d0b7e4c5f8a6d2e1b0c9f8e7d6a5b4c3d
    patterns:
      backend: ["api/**", "**/*.sql"]
      frontend: ["web/**"]
      shared: ["package.json", "pnpm-lock.yaml"]
  register: scope
"""

RETURN = r"""
commit:
  description: The full sha of O(commit).
  returned: always
  type: str
  sample: 9b2e6d1c4a7f3e8b0d5c2a1f6e9d8c7b6a5f4e3d
base_commit:
  description: The full sha of O(base_commit); empty when there is none or it is not in the repository.
  returned: always
  type: str
  sample: 3f1c2a9d0b7e4c5f8a6d2e1b0c9f8e7d6a5b4c3d
scope:
  description: What to redeploy.
  returned: always
  type: dict
  contains:
    backend:
      description: Build and release the backend (backend, shared or migration patterns matched).
      type: bool
    frontend:
      description: Build and release the client (frontend or shared patterns matched).
      type: bool
    infrastructure:
      description: Converge the infrastructure roles (infrastructure patterns matched).
      type: bool
    migrations:
      description: Run the database migrations (migration patterns matched).
      type: bool
    everything:
      description: Everything is in scope because of RV(fallback), not because of the diff.
      type: bool
  sample: {backend: true, frontend: false, infrastructure: false, migrations: true, everything: false}
reasons:
  description: Why each part is or is not in scope, in words.
  returned: always
  type: dict
  contains:
    backend:
      description: Why the backend is or is not in scope.
      type: str
    frontend:
      description: Why the frontend is or is not in scope.
      type: str
    infrastructure:
      description: Why the infrastructure is or is not in scope.
      type: str
    migrations:
      description: Why the migrations are or are not in scope.
      type: str
  sample:
    backend: "2 files match apps/express-api/**: apps/express-api/src/app.ts, apps/express-api/src/db.ts;
      1 file matches **/*.sql: apps/express-api/drizzle/0004_orders.sql"
    frontend: "no change matches frontend or shared patterns (apps/client-ui/**, ...)"
    infrastructure: "no change matches infrastructure patterns (infrastructure/**, ...)"
    migrations: "1 file matches **/*.sql: apps/express-api/drizzle/0004_orders.sql"
fallback:
  description: Why everything is in scope regardless of the diff - V(first_release), V(base_unreachable),
    V(shallow_clone) or V(force_rebuild) - or empty.
  returned: always
  type: str
  sample: ''
subject:
  description: The first line of RV(commit)'s message (a release's message when none is given).
  returned: always
  type: str
  sample: "api: paginate /items"
summary:
  description: The scope in a few words, for a summary table.
  returned: always
  type: str
  sample: backend, migrations
changed_files:
  description: The files changed between RV(base_commit) and RV(commit) (under O(path_prefix), with it
    stripped); empty without a base.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path (the new path of a rename).
      type: str
    status:
      description: V(A) added, V(M) modified, V(D) deleted, V(R) renamed.
      type: str
    old_path:
      description: The path before a rename.
      type: str
      returned: for a rename
  sample: [{path: apps/express-api/src/app.ts, status: M}, {path: web/b.ts, status: R, old_path: web/a.ts}]
components:
  description: The changed paths each pattern group matched (its own patterns only, so shared paths are under
    C(shared)); a rename appears under both paths.
  returned: always
  type: dict
  sample: {backend: [apps/express-api/src/app.ts], frontend: [], infrastructure: [], shared: [],
    migrations: []}
unmatched_files:
  description: Changed paths that match no component; they trigger nothing.
  returned: always
  type: list
  elements: str
  sample: [README.md]
ignored_files:
  description: Changed paths outside O(path_prefix).
  returned: always
  type: list
  elements: str
  sample: []
patterns:
  description: The patterns used, after merging O(patterns) over the defaults.
  returned: always
  type: dict
  sample: {backend: ["apps/express-api/**"], frontend: ["apps/client-ui/**"], infrastructure: [],
    shared: [package.json]}
migration_patterns:
  description: The migration patterns used.
  returned: always
  type: list
  elements: str
  sample: ['**/drizzle.config.ts', '**/*.sql', '**/migrations/**']
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._deploy_scope import (  # noqa: E402
    DEFAULT_MIGRATION_PATTERNS,
    Repository,
    ScopeError,
    deploy_scope,
)
from ansible_collections.macroai.deploy.plugins.module_utils._pure import ModuleFailure, exit_with  # noqa: E402

# plugins/action/deploy_scope.py runs the same spec and run() in ansible-playbook's process.
ARGUMENT_SPEC = dict(
    repo_path=dict(type="path", required=True),
    commit=dict(type="str", default="HEAD"),
    base_commit=dict(type="str", default=""),
    force_rebuild=dict(type="bool", default=False),
    patterns=dict(type="dict"),
    migration_patterns=dict(type="list", elements="str", default=list(DEFAULT_MIGRATION_PATTERNS)),
    path_prefix=dict(type="str", default=""),
)


def run(params, warn, run_command):
    """The scope of ``params``; ``run_command(args, cwd)`` runs git and returns (rc, stdout, stderr)."""
    repo_path = params["repo_path"]
    if not os.path.isdir(repo_path):
        raise ModuleFailure(f"repo_path {repo_path} is not a directory: give the application's git clone")
    try:
        result, warnings = deploy_scope(
            Repository(lambda args: run_command(args, repo_path), "git", repo_path), params
        )
    except ScopeError as error:
        raise ModuleFailure(str(error)) from None
    for warning in warnings:
        warn(warning)
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    git = module.get_bin_path("git", required=True)

    def run_git(args, cwd):
        return module.run_command(
            [git, *args[1:]], cwd=cwd, environ_update={"LC_ALL": "C", "GIT_PAGER": "cat"}
        )

    exit_with(module, lambda params, warn: run(params, warn, run_git))


if __name__ == "__main__":
    main()
