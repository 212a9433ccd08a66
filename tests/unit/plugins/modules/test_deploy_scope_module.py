"""deploy_scope against real git repositories made here: each scenario is a commit of one history.

The module runs as Ansible runs it (its file executed with the arguments file), and once through
ansible-playbook, in check mode, to show the play sees the same result and the warnings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.integration.support import ansible_env, run_playbook

REPO_ROOT = Path(__file__).resolve().parents[4]
COLLECTIONS = REPO_ROOT / ".collections"
MODULE = "ansible_collections.macroai.deploy.plugins.modules.deploy_scope"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def write(repo: Path, files: dict[str, str | None]) -> None:
    """Write (or, for None, delete) files and commit them."""
    for name, content in files.items():
        path = repo / name
        if content is None:
            git(repo, "rm", "-q", name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        git(repo, "add", name)


def commit(repo: Path, tag: str, files: dict[str, str | None] | None = None, moves=()) -> str:
    write(repo, files or {})
    for old, new in moves:
        (repo / new).parent.mkdir(parents=True, exist_ok=True)
        git(repo, "mv", old, new)
    git(repo, "commit", "-q", "--allow-empty", "-m", tag)
    git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD")


SHARED_CODE = "export const shared = () => 'the same text, long enough for git to see a rename';\n" * 4


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """One history, a commit per scenario, each tagged; the tests diff a tag with the one before it."""
    repo = tmp_path_factory.mktemp("app")
    git(repo, "init", "-q", "-b", "main")
    commit(
        repo,
        "initial",
        {
            "package.json": "{}\n",
            "README.md": "app\n",
            "apps/express-api/src/app.ts": "app\n",
            "apps/express-api/src/shared.ts": SHARED_CODE,
            "apps/client-ui/src/main.tsx": "main\n",
            "apps/client-ui/src/old.tsx": "old\n",
            "infrastructure/cdk/stack.ts": "stack\n",
            "services/shop/api/server.py": "server\n",
            "services/shop/web/index.html": "<p>\n",
        },
    )
    commit(repo, "frontend", {"apps/client-ui/src/main.tsx": "main 2\n"})
    commit(
        repo,
        "backend",
        {
            "apps/express-api/src/app.ts": "app 2\n",
            "apps/express-api/drizzle/0001_orders.sql": "create table o();\n",
        },
    )
    commit(
        repo, "infrastructure", {".github/workflows/deploy.yml": "on: push\n", "docker-compose.yml": "{}\n"}
    )
    commit(repo, "shared", {"pnpm-lock.yaml": "lockfileVersion: 9\n"})
    commit(repo, "rename", moves=[("apps/express-api/src/shared.ts", "apps/client-ui/src/shared.ts")])
    commit(repo, "deletion", {"apps/client-ui/src/old.tsx": None})
    commit(repo, "docs", {"README.md": "app, documented\n"})
    commit(
        repo, "subdirectory", {"services/shop/web/index.html": "<p>2\n", "apps/express-api/src/app.ts": "3\n"}
    )
    return repo


def run_module(args: dict, check: bool = False) -> dict:
    """The module's result, run as Ansible runs it: ``python <module> <args file>``."""
    arguments = {**args, "_ansible_check_mode": check}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as args_file:
        json.dump({"ANSIBLE_MODULE_ARGS": arguments}, args_file)
        args_file.flush()
        completed = subprocess.run(
            [sys.executable, "-m", MODULE, args_file.name],
            env={**os.environ, "PYTHONPATH": str(COLLECTIONS)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    result = json.loads(completed.stdout)
    result["warnings"] = [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]
    return result


def sha(repo: Path, ref: str) -> str:
    return git(repo, "rev-parse", ref)


def scope_between(repo: Path, base: str, head: str, **extra) -> dict:
    result = run_module({"repo_path": str(repo), "base_commit": sha(repo, base), "commit": head, **extra})
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["commit"] == sha(repo, head)
    assert result["base_commit"] == sha(repo, base)
    return result


def enabled(result: dict) -> set[str]:
    return {key for key, value in result["scope"].items() if value}


def test_no_base_is_everything(repo):
    result = run_module({"repo_path": str(repo)})
    assert result["commit"] == sha(repo, "HEAD")
    assert result["base_commit"] == ""
    assert enabled(result) == {"backend", "frontend", "infrastructure", "migrations", "everything"}
    assert result["fallback"] == "first_release"
    assert result["reasons"]["backend"] == "no base release: everything"
    assert result["warnings"] == ["no base_commit (first release): everything is released"]
    assert result["changed_files"] == []


def test_frontend_only(repo):
    result = scope_between(repo, "initial", "frontend")
    assert enabled(result) == {"frontend"}
    assert result["changed_files"] == [{"path": "apps/client-ui/src/main.tsx", "status": "M"}]
    assert result["reasons"]["frontend"] == "1 file matches apps/client-ui/**: apps/client-ui/src/main.tsx"
    assert result["reasons"]["backend"].startswith("no change matches backend, shared or migrations patterns")
    assert result["summary"] == "frontend"
    assert "warnings" not in result or result["warnings"] == []


def test_backend_with_migrations(repo):
    result = scope_between(repo, "frontend", "backend")
    assert enabled(result) == {"backend", "migrations"}
    assert result["components"]["migrations"] == ["apps/express-api/drizzle/0001_orders.sql"]
    assert result["reasons"]["migrations"] == (
        "1 file matches **/*.sql: apps/express-api/drizzle/0001_orders.sql"
    )
    assert result["summary"] == "backend, migrations"


def test_infrastructure_only(repo):
    result = scope_between(repo, "backend", "infrastructure")
    assert enabled(result) == {"infrastructure"}
    assert sorted(result["components"]["infrastructure"]) == [
        ".github/workflows/deploy.yml",
        "docker-compose.yml",
    ]


def test_shared_is_backend_and_frontend(repo):
    result = scope_between(repo, "infrastructure", "shared")
    assert enabled(result) == {"backend", "frontend"}
    assert result["components"]["shared"] == ["pnpm-lock.yaml"]


def test_rename_across_components(repo):
    result = scope_between(repo, "shared", "rename")
    assert result["changed_files"] == [
        {"path": "apps/client-ui/src/shared.ts", "status": "R", "old_path": "apps/express-api/src/shared.ts"}
    ]
    assert enabled(result) == {"backend", "frontend"}


def test_deletion(repo):
    result = scope_between(repo, "rename", "deletion")
    assert result["changed_files"] == [{"path": "apps/client-ui/src/old.tsx", "status": "D"}]
    assert enabled(result) == {"frontend"}


def test_unmatched_paths_trigger_nothing(repo):
    result = scope_between(repo, "deletion", "docs")
    assert enabled(result) == set()
    assert result["unmatched_files"] == ["README.md"]
    assert result["reasons"]["infrastructure"].endswith("; 1 file matches no component: README.md")
    assert result["summary"] == "nothing"


def test_nothing_changed(repo):
    head = sha(repo, "deletion")
    result = scope_between(repo, "deletion", head)
    assert enabled(result) == set()
    assert result["changed_files"] == []
    assert set(result["reasons"].values()) == {f"no changes since {head[:7]}"}


def test_mixed_across_several_commits(repo):
    result = scope_between(repo, "initial", "shared")
    assert enabled(result) == {"backend", "frontend", "infrastructure", "migrations"}
    assert result["scope"]["everything"] is False


def test_path_prefix(repo):
    patterns = {"backend": ["api/**"], "frontend": ["web/**"]}
    result = scope_between(repo, "docs", "subdirectory", path_prefix="services/shop", patterns=patterns)
    assert result["changed_files"] == [{"path": "web/index.html", "status": "M"}]
    assert result["ignored_files"] == ["apps/express-api/src/app.ts"]
    assert enabled(result) == {"frontend"}
    unchanged = scope_between(repo, "initial", "docs", path_prefix="services/shop", patterns=patterns)
    assert enabled(unchanged) == set()
    assert unchanged["reasons"]["backend"].startswith(
        f"no changes since {sha(repo, 'initial')[:7]} under services/shop/ ("
    )


def test_force_rebuild_keeps_the_diff(repo):
    result = scope_between(repo, "initial", "frontend", force_rebuild=True)
    assert enabled(result) == {"backend", "frontend", "infrastructure", "migrations", "everything"}
    assert result["fallback"] == "force_rebuild"
    assert result["warnings"] == ["force_rebuild: everything is released, whatever changed"]
    assert result["reasons"]["backend"].startswith("force_rebuild: everything (by the diff alone: no change")
    assert result["changed_files"] == [{"path": "apps/client-ui/src/main.tsx", "status": "M"}]


def test_unreachable_base(repo, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    foreign = commit(other, "elsewhere", {"x": "x\n"})  # a commit this history does not have
    result = run_module({"repo_path": str(repo), "base_commit": foreign})
    assert result["fallback"] == "base_unreachable"
    assert result["base_commit"] == ""
    assert result["scope"]["everything"] is True
    assert result["reasons"]["frontend"] == f"base {foreign} not in the repository: everything"
    (warning,) = result["warnings"]
    assert "force push" in warning and f"git fetch origin {foreign}" in warning


def test_shallow_clone(repo, tmp_path):
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)], env=GIT_ENV, check=True
    )
    result = run_module({"repo_path": str(clone), "base_commit": sha(repo, "docs")})
    assert result["fallback"] == "shallow_clone"
    assert result["commit"] == sha(repo, "HEAD")
    assert enabled(result) == {"backend", "frontend", "infrastructure", "migrations", "everything"}
    (warning,) = result["warnings"]
    assert "shallow clone" in warning and "git fetch --unshallow" in warning and "fetch-depth: 0" in warning


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"commit": "no-such-branch"}, "commit='no-such-branch': commit not found in "),
        ({"base_commit": "frontend", "commit": "--output=x"}, "commit='--output=x' is not a commit"),
        ({"patterns": {"database": ["db/**"]}}, "patterns.database: unknown component"),
        ({"migration_patterns": ["db/[a.sql", ""]}, "migration_patterns must be a list of non-empty glob"),
        ({"path_prefix": "services/shops"}, "path_prefix='services/shops' is not a directory of commit "),
        ({"path_prefix": "README.md"}, "path_prefix='README.md' is not a directory of commit "),
    ],
)
def test_errors_name_the_option(repo, args, message):
    result = run_module({"repo_path": str(repo), **args})
    assert result.get("failed"), result
    assert message in result["msg"]


def test_not_a_repository(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    result = run_module({"repo_path": str(plain)})
    assert result["msg"].startswith(f"repo_path {plain} is not a git repository")
    result = run_module({"repo_path": str(tmp_path / "missing")})
    assert (
        result["msg"]
        == f"repo_path {tmp_path / 'missing'} is not a directory: give the application's git clone"
    )


def test_through_ansible_playbook_in_check_mode(repo, tmp_path):
    """The result a play registers, in check mode, and the warning it prints."""
    playbook = tmp_path / "scope.yml"
    args = {"repo_path": str(repo), "commit": "backend", "base_commit": sha(repo, "frontend")}
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                    "tasks": [
                        {"name": "diff", "macroai.deploy.deploy_scope": args},
                        {"name": "first", "macroai.deploy.deploy_scope": {"repo_path": str(repo)}},
                    ],
                }
            ]
        )
    )
    completed = run_playbook(
        playbook, extra_args=("--check",), env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    )
    report = json.loads(completed.stdout)
    diff, first = (task["hosts"]["localhost"] for task in report["plays"][0]["tasks"])
    assert diff["changed"] is False and diff["scope"] == {
        "backend": True,
        "frontend": False,
        "infrastructure": False,
        "migrations": True,
        "everything": False,
    }
    assert first["scope"]["everything"] is True
    assert "no base_commit (first release)" in completed.stderr + json.dumps(first.get("warnings", []))
    assert report["stats"]["localhost"]["changed"] == 0
