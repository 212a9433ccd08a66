"""The change classifier: globs, the seed's matrix, renames, deletions, overrides, path prefixes."""

from __future__ import annotations

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._deploy_scope import (
    DEFAULT_MIGRATION_PATTERNS,
    DEFAULT_PATTERNS,
    ScopeError,
    classify,
    decide,
    glob_regex,
    merge_patterns,
    parse_name_status,
    within_prefix,
)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("apps/express-api/**", "apps/express-api/src/app.ts", True),
        ("apps/express-api/**", "apps/express-api/package.json", True),
        ("apps/express-api/**", "apps/express-api", False),
        ("apps/express-api/**", "apps/express-api-v2/src/app.ts", False),
        ("**/*.sql", "schema.sql", True),
        ("**/*.sql", "apps/express-api/drizzle/0001_init.sql", True),
        ("**/*.sql", "apps/express-api/drizzle/0001_init.sql.bak", False),
        ("*.sql", "schema.sql", True),
        ("*.sql", "db/schema.sql", False),
        ("packages/config-*/**", "packages/config-eslint/index.js", True),
        ("packages/config-*/**", "packages/config-/x", True),
        ("packages/config-*/**", "packages/configs/x", False),
        ("packages/config-*/**", "packages/config-a/b/c/d.json", True),
        ("**/migrations/**", "migrations/0001.ts", True),
        ("**/migrations/**", "apps/express-api/src/db/migrations/0001.ts", True),
        ("**/migrations/**", "apps/express-api/src/migrations.ts", False),
        ("a/**/b.txt", "a/b.txt", True),
        ("a/**/b.txt", "a/x/y/b.txt", True),
        ("a/**/b.txt", "ab.txt", False),
        ("package.json", "package.json", True),
        ("package.json", "apps/client-ui/package.json", False),
        ("/package.json", "package.json", True),
        ("docker-compose.yml", "docker-compose.yaml", False),
        ("src/?.ts", "src/a.ts", True),
        ("src/?.ts", "src/ab.ts", False),
        ("src/[ab].ts", "src/b.ts", True),
        ("src/[!ab].ts", "src/b.ts", False),
        ("src/[!ab].ts", "src/c.ts", True),
        (".github/workflows/**", ".github/workflows/deploy.yml", True),
        ("tailwind.config.ts", "tailwindXconfig.ts", False),
        ("**", "anything/at/all", True),
    ],
)
def test_glob(pattern, path, expected):
    assert bool(glob_regex(pattern).match(path)) is expected


def changes(*paths: str) -> list[dict[str, str]]:
    return [{"path": p, "status": "M"} for p in paths]


def scope_of(changed, patterns=None, migration_patterns=None):
    patterns = merge_patterns(patterns)
    migration_patterns = migration_patterns or DEFAULT_MIGRATION_PATTERNS
    classification = classify(changed, patterns, migration_patterns)
    scope, reasons = decide(classification, patterns, migration_patterns)
    return scope, reasons, classification


def flags(scope):
    return {key for key, value in scope.items() if value}


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["apps/express-api/src/app.ts"], {"backend"}),
        (["packages/macro-ai-api-client/src/index.ts"], {"backend"}),
        (["packages/config-typescript/base.json"], {"backend"}),
        (["drizzle.config.ts"], {"backend", "migrations"}),
        (["apps/express-api/src/app.ts", "apps/express-api/drizzle/0002.sql"], {"backend", "migrations"}),
        (["apps/express-api/drizzle.config.ts"], {"backend", "migrations"}),
        (["apps/client-ui/src/main.tsx"], {"frontend"}),
        (["packages/ui-library/button.tsx", "postcss.config.js"], {"frontend"}),
        ([".github/workflows/deploy.yml"], {"infrastructure"}),
        (["docker-compose.yml"], {"infrastructure"}),
        (["infrastructure/cdk/stack.ts"], {"backend", "infrastructure"}),  # the seed lists it under both
        (["pnpm-lock.yaml"], {"backend", "frontend"}),
        (["turbo.json", "eslint.config.js"], {"backend", "frontend"}),
        (
            ["apps/client-ui/a.ts", "apps/express-api/b.ts", "docker-compose.yml"],
            {"backend", "frontend", "infrastructure"},
        ),
        (["README.md", "docs/guide.md"], set()),
        (["apps/client-ui/package.json"], {"frontend"}),  # not the root package.json
        (["tools/db/migrations/0003.ts"], {"backend", "migrations"}),  # migrations run from the backend image
    ],
)
def test_seed_matrix(paths, expected):
    scope, _reasons, _classification = scope_of(changes(*paths))
    assert flags(scope) == expected


def test_reasons_name_patterns_and_files():
    scope, reasons, classification = scope_of(
        changes(
            "apps/express-api/a.ts",
            "apps/express-api/b.ts",
            "apps/express-api/c.ts",
            "apps/express-api/drizzle/0004.sql",
            "README.md",
        )
    )
    assert reasons["backend"].startswith(
        "4 files match apps/express-api/**: apps/express-api/a.ts, apps/express-api/b.ts, "
    )
    assert "1 file matches migrations **/*.sql: apps/express-api/drizzle/0004.sql" in reasons["backend"]
    assert reasons["migrations"] == "1 file matches **/*.sql: apps/express-api/drizzle/0004.sql"
    assert reasons["frontend"].startswith(
        "no change matches frontend or shared patterns (apps/client-ui/**, "
    )
    assert reasons["frontend"].endswith("; 1 file matches no component: README.md")
    assert classification["unmatched"] == ["README.md"]
    assert classification["components"]["backend"][0] == "apps/express-api/a.ts"
    assert classification["components"]["migrations"] == ["apps/express-api/drizzle/0004.sql"]
    assert scope["backend"] and scope["migrations"] and not scope["frontend"]


def test_long_listings_are_cut():
    _scope, reasons, _ = scope_of(changes(*[f"apps/client-ui/{n}.ts" for n in range(8)]))
    assert reasons["frontend"] == (
        "8 files match apps/client-ui/**: apps/client-ui/0.ts, apps/client-ui/1.ts, apps/client-ui/2.ts, "
        "apps/client-ui/3.ts, apps/client-ui/4.ts, and 3 more"
    )


def test_shared_reason_says_shared():
    _scope, reasons, _ = scope_of(changes("pnpm-lock.yaml"))
    assert reasons["backend"] == "1 file matches shared pnpm-lock.yaml: pnpm-lock.yaml"
    assert reasons["frontend"] == reasons["backend"]
    assert reasons["infrastructure"].startswith("no change matches infrastructure patterns")
    _scope, reasons, _ = scope_of(changes("apps/client-ui/a.ts"))
    assert reasons["backend"].count("**/*.sql") == 1  # listed by backend and migrations, named once


def test_rename_counts_both_paths():
    changed = [
        {"path": "apps/client-ui/src/api.ts", "status": "R", "old_path": "apps/express-api/src/api.ts"}
    ]
    scope, reasons, classification = scope_of(changed)
    assert flags(scope) == {"backend", "frontend"}
    assert classification["components"]["backend"] == ["apps/express-api/src/api.ts"]
    assert classification["components"]["frontend"] == ["apps/client-ui/src/api.ts"]


def test_deletion_counts():
    scope, _reasons, _ = scope_of([{"path": "apps/express-api/src/old.ts", "status": "D"}])
    assert flags(scope) == {"backend"}


def test_overrides_replace_per_component():
    patterns = merge_patterns({"backend": ["server/**"], "shared": []})
    assert patterns["backend"] == ["server/**"]
    assert patterns["shared"] == []
    assert patterns["frontend"] == DEFAULT_PATTERNS["frontend"]
    scope, reasons, _ = scope_of(
        changes("server/x.py", "package.json"), {"backend": ["server/**"], "shared": []}
    )
    assert flags(scope) == {"backend"}
    assert "1 file matches no component: package.json" in reasons["frontend"]
    # the default backend list no longer applies
    scope, _reasons, _ = scope_of(changes("apps/express-api/a.ts"), {"backend": ["server/**"]})
    assert flags(scope) == set()


def test_custom_migration_patterns():
    scope, _reasons, _ = scope_of(changes("apps/express-api/schema.prisma"), None, ["**/*.prisma"])
    assert flags(scope) == {"backend", "migrations"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"docs": ["docs/**"]}, "patterns.docs: unknown component; use backend, frontend, infrastructure"),
        ({"backend": "apps/**"}, "patterns.backend must be a list of non-empty glob patterns"),
        ({"backend": ["apps/**", ""]}, "patterns.backend must be a list of non-empty glob patterns"),
        ({"frontend": [3]}, "patterns.frontend must be a list"),
    ],
)
def test_bad_overrides_name_the_option(overrides, message):
    with pytest.raises(ScopeError, match=message.replace("*", r"\*")):
        merge_patterns(overrides)


def test_parse_name_status():
    output = "M\0a.ts\0R087\0old/b.ts\0new/b.ts\0D\0c.sql\0A\0d e.ts\0T\0link\0C100\0x\0y\0"
    assert parse_name_status(output) == [
        {"path": "a.ts", "status": "M"},
        {"path": "new/b.ts", "status": "R", "old_path": "old/b.ts"},
        {"path": "c.sql", "status": "D"},
        {"path": "d e.ts", "status": "A"},
        {"path": "link", "status": "M"},
        {"path": "y", "status": "A"},
    ]
    assert parse_name_status("") == []


def test_within_prefix():
    changed = [
        {"path": "app/apps/express-api/a.ts", "status": "M"},
        {"path": "other/x.ts", "status": "M"},
        {"path": "app/b.ts", "status": "R", "old_path": "app/a.ts"},
        {"path": "app/in.ts", "status": "R", "old_path": "outside/in.ts"},
        {"path": "outside/out.ts", "status": "R", "old_path": "app/out.ts"},
        {"path": "application/y.ts", "status": "M"},
    ]
    kept, ignored = within_prefix(changed, "/app/")
    assert kept == [
        {"path": "apps/express-api/a.ts", "status": "M"},
        {"path": "b.ts", "status": "R", "old_path": "a.ts"},
        {"path": "in.ts", "status": "A"},
        {"path": "out.ts", "status": "D"},
    ]
    assert ignored == ["other/x.ts", "application/y.ts"]
    assert within_prefix(changed, "") == (changed, [])
