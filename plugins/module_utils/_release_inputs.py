# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight's checks of the settings that only fail late otherwise: the edge's domain and client build,
and the application repository, each problem naming its variable and what would be valid.

Plain Python (the ``release_input_problems`` filter wraps it): it reads the local paths it is given and
nothing else, so preflight refuses before the first AWS write.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Mapping
from typing import Any

INDEX = "index.html"
# RFC 1123 host names as Route 53 and ACM take them: labels of letters, digits and inner hyphens, at most 63
# characters each and 253 in all, at least two labels (an apex domain such as example.com).
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def domain_problem(name: str) -> str:
    """'' for a valid apex domain name, else why not."""
    if name != name.strip() or "://" in name or "/" in name:
        return "a bare domain name (example.com), without scheme, path or spaces"
    if len(name) > 253:
        return "253 characters at most"
    labels = name.rstrip(".").split(".")
    if len(labels) < 2:
        return "at least two labels (example.com)"
    if name != name.lower():
        return "lower case"
    bad = [label for label in labels if not LABEL.match(label)]
    if bad:
        return f"labels of letters, digits and inner hyphens, 63 characters at most (not {bad[0]!r})"
    return ""


def client_source_problem(source: str) -> str:
    """'' for a build directory or zip with index.html at its top, else why not."""
    if not os.path.exists(source):
        return (
            "does not exist: build the client first (for example npm run build) and give its output directory"
        )
    if os.path.isdir(source):
        if not os.path.isfile(os.path.join(source, INDEX)):
            return f"is a directory without {INDEX} at its top: give the build's output directory"
        return ""
    if not zipfile.is_zipfile(source):
        return "is neither a directory nor a zip file: give the build's output directory or a zip of it"
    with zipfile.ZipFile(source) as archive:
        if INDEX not in archive.namelist():
            return f"is a zip without {INDEX} at its top: zip the build's output directory's contents"
    return ""


def repo_problem(path: str) -> str:
    """'' for a git work tree (or bare repository), else why not."""
    if not os.path.isdir(path):
        return "is not a directory: give the application's git clone, or leave it empty to release everything"
    if not (os.path.exists(os.path.join(path, ".git")) or os.path.isfile(os.path.join(path, "HEAD"))):
        return (
            "is not a git repository: give the application's clone (with its history), or leave it empty "
            "to turn change detection off"
        )
    return ""


def input_problems(settings: Mapping[str, Any]) -> list[str]:
    """Every problem found in ``settings`` (edge_domain_name, edge_client_source, deploy_app_repo), each
    naming the variable; empty when there is none."""
    problems = []
    domain = str(settings.get("edge_domain_name") or "")
    if domain and (why := domain_problem(domain)):
        problems.append(f"edge_domain_name={domain!r} must be {why}")
    source = str(settings.get("edge_client_source") or "")
    if source and (why := client_source_problem(source)):
        problems.append(f"edge_client_source={source!r} {why}")
    repo = str(settings.get("deploy_app_repo") or "")
    if repo and (why := repo_problem(repo)):
        problems.append(f"deploy_app_repo={repo!r} {why}")
    return problems
