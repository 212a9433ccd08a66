"""examples/app/migrate.py: which files are migrations, in what order, which are pending (no database)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[3] / "examples" / "app"
spec = importlib.util.spec_from_file_location("example_migrate", APP / "migrate.py")
assert spec is not None and spec.loader is not None
migrate = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = migrate  # dataclasses look their module up
spec.loader.exec_module(migrate)


def write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_discover_takes_numbered_sql_files_in_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        **{"0002_b.sql": "B", "0001_a.sql": "A", "README.md": "x", "1_short.sql": "x", "0003_c.txt": ""},
    )
    assert [m.version for m in migrate.discover(tmp_path)] == ["0001_a.sql", "0002_b.sql"]


def test_discover_refuses_two_files_with_one_number(tmp_path: Path) -> None:
    write(tmp_path, **{"0001_a.sql": "A", "0001_b.sql": "B"})
    with pytest.raises(migrate.MigrationError, match="0001_b.sql and 0001_a.sql share the number 0001"):
        migrate.discover(tmp_path)


def test_discover_names_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(migrate.MigrationError, match="APP_MIGRATIONS_DIR"):
        migrate.discover(tmp_path / "nope")


def test_pending_and_edited(tmp_path: Path) -> None:
    found = migrate.discover(write(tmp_path, **{"0001_a.sql": "A", "0002_b.sql": "B", "0003_c.sql": "C"}))
    applied = {"0001_a.sql": found[0].checksum, "0002_b.sql": "an older text's checksum"}
    assert [m.version for m in migrate.pending(found, applied)] == ["0003_c.sql"]
    assert migrate.edited(found, applied) == ["0002_b.sql"]


def test_the_shipped_migrations_are_in_order() -> None:
    versions = [m.version for m in migrate.discover(APP / "migrations")]
    assert versions[:2] == ["0001_create_items.sql", "0002_seed_items.sql"]


def test_without_database_url_it_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert migrate.main() == 2
    assert "DATABASE_URL is not set" in capsys.readouterr().out
