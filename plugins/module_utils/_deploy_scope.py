# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a release has to redeploy: the files changed between two commits, classified by path patterns.

Plain Python, no AnsibleModule. ``read_changes`` asks git through a ``run(args) -> (rc, stdout, stderr)``
callable (the module passes ``module.run_command``); ``classify`` and ``decide`` are pure.

Patterns are globs anchored at the repository's top level (after ``path_prefix`` is stripped): ``*`` and
``?`` stay within one directory, ``**`` as a whole segment spans any number of directories (``**/x``
matches ``x`` at any depth, ``a/**`` everything under ``a``), ``[abc]`` is a character class.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

COMPONENTS = ("backend", "frontend", "infrastructure", "shared")
SCOPE_KEYS = ("backend", "frontend", "infrastructure", "migrations")

# The seed's "Change Detection and Optimization" lists. Its '*.sql' means SQL files anywhere: patterns here
# are anchored at the top level, so it is written '**/*.sql'. 'infrastructure/**' is under backend as well
# as infrastructure in the seed, and stays so: an infrastructure change also redeploys the backend.
DEFAULT_PATTERNS: dict[str, list[str]] = {
    "backend": [
        "apps/express-api/**",
        "infrastructure/**",
        "packages/macro-ai-api-client/**",
        "packages/config-*/**",
        "drizzle.config.ts",
        "**/*.sql",
    ],
    "frontend": [
        "apps/client-ui/**",
        "packages/ui-library/**",
        "tailwind.config.ts",
        "postcss.config.js",
    ],
    "infrastructure": [
        "infrastructure/**",
        ".github/workflows/**",
        "docker-compose.yml",
    ],
    "shared": [
        "package.json",
        "pnpm-lock.yaml",
        "turbo.json",
        "eslint.config.js",
    ],
}
DEFAULT_MIGRATION_PATTERNS = ["**/drizzle.config.ts", "**/*.sql", "**/migrations/**"]

LISTED = 5  # file names quoted in a reason before "and N more"
SHORT = 7  # characters of a sha in messages


class ScopeError(ValueError):
    """Bad input or a git failure; the message names the option and says what to do."""


def glob_regex(pattern: str) -> re.Pattern[str]:
    """The anchored regular expression of one glob pattern (see the module docstring)."""
    segments = pattern.strip("/").split("/")
    last = len(segments) - 1
    parts = []
    for index, segment in enumerate(segments):
        if segment == "**":
            # '**/' spans zero or more directories; a final '**' everything below (at least one name).
            parts.append(".+" if index == last else "(?:[^/]+/)*")
        else:
            parts.append(_segment_regex(segment) + ("" if index == last else "/"))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def _segment_regex(segment: str) -> str:
    out, index = [], 0
    while index < len(segment):
        char = segment[index]
        if char == "*":
            while index + 1 < len(segment) and segment[index + 1] == "*":
                index += 1  # '**' inside a segment ('a**b') is a plain '*'
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in segment[index + 2 :]:
            close = segment.index("]", index + 2)
            body = segment[index + 1 : close]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            index = close
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def merge_patterns(overrides: dict[str, Any] | None) -> dict[str, list[str]]:
    """The default lists with ``overrides`` replacing them component by component."""
    merged = {name: list(patterns) for name, patterns in DEFAULT_PATTERNS.items()}
    for name, patterns in (overrides or {}).items():
        if name not in COMPONENTS:
            raise ScopeError(
                f"patterns.{name}: unknown component; use {', '.join(COMPONENTS)} "
                "(unmatched paths are reported and trigger nothing)"
            )
        merged[name] = check_patterns(f"patterns.{name}", patterns)
    return merged


def check_patterns(option: str, patterns: Any) -> list[str]:
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p.strip("/") for p in patterns):
        raise ScopeError(f"{option} must be a list of non-empty glob patterns, got {patterns!r}")
    for pattern in patterns:
        try:
            glob_regex(pattern)
        except re.error as error:
            raise ScopeError(f"{option}: {pattern!r} is not a valid glob ({error})") from error
    return list(patterns)


def parse_name_status(output: str) -> list[dict[str, str]]:
    """``git diff --name-status -z -M`` output as ``[{path, status[, old_path]}]``.

    Renames (and copies) carry a similarity score (``R087``) and two paths; a type change (``T``, file to
    symlink) is reported as a modification.
    """
    fields = output.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    changes, index = [], 0
    while index < len(fields):
        status = fields[index][:1]
        if status in ("R", "C"):
            old_path, path = fields[index + 1], fields[index + 2]
            index += 3
            change = {"path": path, "status": "R" if status == "R" else "A"}
            if status == "R":
                change["old_path"] = old_path
            changes.append(change)
            continue
        changes.append({"path": fields[index + 1], "status": "M" if status == "T" else status})
        index += 2
    return changes


def within_prefix(changes: list[dict[str, str]], prefix: str) -> tuple[list[dict[str, str]], list[str]]:
    """The changes under ``prefix`` with it stripped, and the paths outside it (ignored).

    A rename across the prefix's boundary keeps the side inside it: moved in is an addition, moved out a
    deletion.
    """
    prefix = prefix.strip("/")
    if not prefix:
        return changes, []
    head = prefix + "/"

    def inside(path: str | None) -> str | None:
        return path[len(head) :] if path and path.startswith(head) else None

    kept, ignored = [], []
    for change in changes:
        path, old_path = inside(change["path"]), inside(change.get("old_path"))
        if path is None and old_path is None:
            ignored.append(change["path"])
        elif change["status"] != "R":
            kept.append({"path": path, "status": change["status"]})
        elif path is not None and old_path is not None:
            kept.append({"path": path, "status": "R", "old_path": old_path})
        elif path is not None:
            kept.append({"path": path, "status": "A"})
        else:
            kept.append({"path": old_path, "status": "D"})
    return kept, ignored


def classify(
    changes: list[dict[str, str]], patterns: dict[str, list[str]], migration_patterns: list[str]
) -> dict[str, Any]:
    """Which patterns each changed path matches.

    Returns ``matches`` (group -> pattern -> paths, groups being the components and ``migrations``),
    ``components`` (group -> paths, in diff order) and ``unmatched`` (paths no component matches). A
    rename counts under both its old and its new path.
    """
    groups = {**patterns, "migrations": migration_patterns}
    compiled = {
        group: [(p, glob_regex(p)) for p in group_patterns] for group, group_patterns in groups.items()
    }
    matches: dict[str, dict[str, list[str]]] = {group: {} for group in groups}
    components: dict[str, list[str]] = {group: [] for group in groups}
    unmatched: list[str] = []
    for change in changes:
        paths = [change["path"]] + ([change["old_path"]] if change.get("old_path") else [])
        for path in paths:
            hit = False
            for group, regexes in compiled.items():
                for pattern, regex in regexes:
                    if regex.match(path):
                        matches[group].setdefault(pattern, []).append(path)
                        if path not in components[group]:
                            components[group].append(path)
                        hit = True
                        break
            if not hit:
                unmatched.append(path)
    return {"matches": matches, "components": components, "unmatched": unmatched}


def listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:LISTED])
    return shown + (f", and {len(paths) - LISTED} more" if len(paths) > LISTED else "")


def files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def match(count: int) -> str:
    return f"{files(count)} {'matches' if count == 1 else 'match'}"


def _matched(matches: dict[str, list[str]], label: str = "") -> list[str]:
    return [f"{match(len(paths))} {label}{pattern}: {listing(paths)}" for pattern, paths in matches.items()]


def decide(
    classification: dict[str, Any],
    patterns: dict[str, list[str]],
    migration_patterns: list[str],
) -> tuple[dict[str, bool], dict[str, str]]:
    """The scope and a reason for each part of it, by the seed's matrix.

    Backend follows its own patterns, the shared ones and the migration ones (a migration runs from the new
    backend image); frontend its own and the shared ones; infrastructure only its own; migrations the
    migration patterns. A path matching several components counts for each.
    """
    matches = classification["matches"]
    unmatched = classification["unmatched"]
    triggers = {
        "backend": ("backend", "shared", "migrations"),
        "frontend": ("frontend", "shared"),
        "infrastructure": ("infrastructure",),
        "migrations": ("migrations",),
    }
    scope, reasons = {}, {}
    for key, groups in triggers.items():
        found = []
        for group in groups:
            found += _matched(matches[group], "" if group == key else f"{group} ")
        scope[key] = bool(found)
        if found:
            reasons[key] = "; ".join(found)
            continue
        every = {**patterns, "migrations": migration_patterns}
        listed = list(dict.fromkeys(p for group in groups for p in every[group]))  # once each, in order
        names = ", ".join(groups[:-1]) + " or " + groups[-1] if len(groups) > 1 else groups[0]
        reasons[key] = f"no change matches {names} patterns ({', '.join(listed) or 'none'})"
        if unmatched:
            reasons[key] += f"; {match(len(unmatched))} no component: {listing(unmatched)}"
    return scope, reasons


def everything(why: str) -> tuple[dict[str, bool], dict[str, str]]:
    return {key: True for key in SCOPE_KEYS}, {key: f"{why}: everything" for key in SCOPE_KEYS}


def nothing(why: str) -> tuple[dict[str, bool], dict[str, str]]:
    return {key: False for key in SCOPE_KEYS}, {key: why for key in SCOPE_KEYS}


def summarise(scope: dict[str, bool], fallback: str) -> str:
    """One line for a summary table: ``everything (first release)``, ``backend, migrations``, ``nothing``."""
    if fallback:
        return f"everything ({fallback.replace('_', ' ')})"
    return ", ".join(key for key in SCOPE_KEYS if scope[key]) or "nothing"


class Repository:
    """The few git questions the scope needs, through ``run(args) -> (rc, stdout, stderr)``."""

    def __init__(self, run: Callable[[list[str]], tuple[int, str, str]], git: str, path: str) -> None:
        self.run, self.git, self.path = run, git, path

    def _git(self, *args: str) -> tuple[int, str, str]:
        return self.run([self.git, *args])

    def check(self) -> None:
        rc, _out, err = self._git("rev-parse", "--git-dir")
        if rc != 0:
            raise ScopeError(
                f"repo_path {self.path} is not a git repository ({err.strip()}); "
                "give the application's clone, with its full history"
            )

    def resolve(self, option: str, ref: str) -> str:
        """The full sha of ``ref``'s commit, or ScopeError naming ``option``."""
        if ref.startswith("-"):
            raise ScopeError(f"{option}={ref!r} is not a commit: give a sha, a tag or a branch")
        rc, out, err = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if rc != 0 or not out.strip():
            detail = f" ({err.strip()})" if err.strip() else ""
            raise ScopeError(
                f"{option}={ref!r}: commit not found in {self.path}{detail}; "
                "fetch it (git fetch origin) or check the value"
            )
        return out.strip()

    def has_commit(self, ref: str) -> bool:
        if ref.startswith("-"):
            return False
        return self._git("cat-file", "-e", f"{ref}^{{commit}}")[0] == 0

    def has_directory(self, commit: str, path: str) -> bool:
        rc, out, _err = self._git("cat-file", "-t", f"{commit}:{path}")
        return rc == 0 and out.strip() == "tree"

    def is_shallow(self) -> bool:
        rc, out, _err = self._git("rev-parse", "--is-shallow-repository")
        return rc == 0 and out.strip() == "true"

    def subject(self, commit: str) -> str:
        """The first line of ``commit``'s message (a release's default message); '' if git cannot say."""
        rc, out, _err = self._git("log", "-1", "--format=%s", commit)
        return out.strip() if rc == 0 else ""

    def changes(self, base: str, commit: str) -> list[dict[str, str]]:
        rc, out, err = self._git(
            "diff", "--name-status", "-z", "-M", "--no-color", "--no-ext-diff", base, commit, "--"
        )
        if rc != 0:
            raise ScopeError(f"git diff {base[:SHORT]} {commit[:SHORT]} failed in {self.path}: {err.strip()}")
        return parse_name_status(out)


def unreachable_warning(base: str, shallow: bool) -> str:
    if shallow:
        return (
            f"base_commit {base} is not in this shallow clone, so everything is released; fetch with full "
            "depth (git fetch --unshallow, or actions/checkout with fetch-depth: 0) to release only what "
            "changed"
        )
    return (
        f"base_commit {base} is not in the repository (history rewritten by a force push, or not fetched), "
        "so everything is released; if the remote still has it, git fetch origin "
        f"{base} makes the next scope exact"
    )


def deploy_scope(repo: Repository, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The module's whole result (without ``changed``) and its warnings; ScopeError on bad input."""
    patterns = merge_patterns(params.get("patterns"))
    migration_patterns = check_patterns("migration_patterns", params["migration_patterns"])
    repo.check()
    commit = repo.resolve("commit", params["commit"] or "HEAD")
    prefix = (params.get("path_prefix") or "").strip("/")
    if prefix and not repo.has_directory(commit, prefix):
        raise ScopeError(
            f"path_prefix={prefix!r} is not a directory of commit {commit[:SHORT]}: give the application's "
            "directory relative to the repository's top level"
        )
    base_given = (params.get("base_commit") or "").strip()
    warnings: list[str] = []
    base, fallback = "", ""
    if not base_given:
        fallback = "first_release"
        warnings.append("no base_commit (first release): everything is released")
    elif not repo.has_commit(base_given):
        shallow = repo.is_shallow()
        fallback = "shallow_clone" if shallow else "base_unreachable"
        warnings.append(unreachable_warning(base_given, shallow))
    else:
        base = repo.resolve("base_commit", base_given)

    changes: list[dict[str, str]] = repo.changes(base, commit) if base else []
    changes, ignored = within_prefix(changes, prefix)
    classification = classify(changes, patterns, migration_patterns)

    if fallback == "first_release":
        scope, reasons = everything("no base release")
    elif fallback:
        scope, reasons = everything(
            f"base {base_given} not in the {'shallow clone' if fallback == 'shallow_clone' else 'repository'}"
        )
    elif not changes:
        since = f"no changes since {base[:SHORT]}"
        if base != commit and ignored:
            since += f" under {prefix}/ ({files(len(ignored))} changed outside it)"
        scope, reasons = nothing(since)
    else:
        scope, reasons = decide(classification, patterns, migration_patterns)
    if params.get("force_rebuild"):
        warnings.append("force_rebuild: everything is released, whatever changed")
        if not fallback:
            diff_reasons = reasons
            scope, reasons = everything("force_rebuild")
            reasons = {key: f"{reasons[key]} (by the diff alone: {diff_reasons[key]})" for key in reasons}
            fallback = "force_rebuild"
    scope["everything"] = bool(fallback)
    result = {
        "commit": commit,
        "subject": repo.subject(commit),
        "base_commit": base,
        "scope": scope,
        "reasons": reasons,
        "fallback": fallback,
        "summary": summarise(scope, fallback),
        "changed_files": changes,
        "components": classification["components"],
        "unmatched_files": classification["unmatched"],
        "ignored_files": ignored,
        "patterns": patterns,
        "migration_patterns": migration_patterns,
    }
    return result, warnings
