"""Preflight's checks of the edge's domain and client build and the application repository."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from ansible_collections.macroai.deploy.plugins.module_utils._release_inputs import (
    client_source_problem,
    domain_problem,
    input_problems,
    repo_problem,
)


@pytest.mark.parametrize("name", ["example.com", "api.my-app.co.uk", "a.b"])
def test_valid_domains(name: str) -> None:
    assert domain_problem(name) == ""


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("https://example.com", "without scheme"),
        ("example.com/app", "without scheme"),
        ("localhost", "two labels"),
        ("Example.com", "lower case"),
        ("-bad.example.com", "not '-bad'"),
        ("a_b.example.com", "not 'a_b'"),
        ("x" * 64 + ".com", "63 characters"),
        ("a." * 130 + "com", "253 characters"),
    ],
)
def test_invalid_domains(name: str, fragment: str) -> None:
    assert fragment in domain_problem(name)


def test_client_sources(tmp_path: Path) -> None:
    build = tmp_path / "dist"
    build.mkdir()
    assert "without index.html" in client_source_problem(str(build))
    (build / "index.html").write_text("<html>")
    assert client_source_problem(str(build)) == ""
    assert "does not exist" in client_source_problem(str(tmp_path / "missing"))
    good, bad, text = tmp_path / "good.zip", tmp_path / "bad.zip", tmp_path / "notes.txt"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("index.html", "<html>")
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("dist/index.html", "<html>")
    text.write_text("hello")
    assert client_source_problem(str(good)) == ""
    assert "zip without index.html" in client_source_problem(str(bad))
    assert "neither a directory nor a zip" in client_source_problem(str(text))


def test_repositories(tmp_path: Path) -> None:
    assert "not a directory" in repo_problem(str(tmp_path / "missing"))
    assert "not a git repository" in repo_problem(str(tmp_path))
    subprocess.run(["git", "init", "-q", str(tmp_path / "app")], check=True)
    assert repo_problem(str(tmp_path / "app")) == ""


def test_input_problems_name_each_variable(tmp_path: Path) -> None:
    problems = input_problems(
        {
            "edge_domain_name": "Example",
            "edge_client_source": str(tmp_path / "x"),
            "deploy_app_repo": str(tmp_path),
        }
    )
    assert [problem.split("=")[0] for problem in problems] == [
        "edge_domain_name",
        "edge_client_source",
        "deploy_app_repo",
    ]
    assert input_problems({"edge_domain_name": "", "edge_client_source": "", "deploy_app_repo": ""}) == []
