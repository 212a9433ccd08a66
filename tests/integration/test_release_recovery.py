"""Release recovery end to end (playbooks/deploy.yml, rollback.yml), on one hobby deployment released from a
temporary git repository (flow.py) whose migrations (apps/express-api/migrations) are what the one-off
migration task runs (APP_MIGRATIONS_DIR points at them), so a commit and the applied migrations agree.

In file order: the first release with -vvv leaks no secret (output, ledger, SNS messages, webhook bodies);
the controller SIGKILLed during preflight (lock taken, ledger entry open; a plain rerun is refused, naming
it), during the client's Amplify job and during the migration's one-off task, each time completed by a rerun
of its release id (one ledger entry, nothing duplicated, the lock free, the migration applied once) while a
LoadProbe on production's /version sees no failure and only the old and the new version; then rollback.yml
with rollback_database=true puts backend, client and the Neon database back where they were before the
migration.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from database import database_checksum
from flow import Flow, git, make_app_repo, ok, release_id
from support import REPO_ROOT, LoadProbe, ansible_env, aws_client

from sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

MIGRATIONS = REPO_ROOT / "examples" / "app" / "migrations"
SANDBOX_VARS = yaml.safe_load((REPO_ROOT / "inventories/sandbox/group_vars/all/sandbox.yml").read_text())
# 0003 adds a column and holds the one-off task for a few seconds: time to kill the controller meanwhile.
MIGRATION_0003 = "ALTER TABLE items ADD COLUMN note text;\nSELECT pg_sleep(4);\n"


class Webhook:
    """A loopback HTTP server that records the bodies POSTed to it: the release's webhook (a secret URL) and
    the SNS topic's HTTP subscription (moto delivers each published message to it)."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[str]] = {"webhook": [], "sns": []}
        self.token = uuid.uuid4().hex
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                bodies["sns" if self.path == "/sns" else "webhook"].append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url, self.sns_url = f"{base}/hook/{self.token}", f"{base}/sns"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Recovery(Flow):
    webhook: Webhook

    @property
    def extra(self) -> tuple[str, ...]:
        """What every run of this deployment passes: its own production branch in the emulator's shared Neon
        project, the migrations folder of the app repository, the webhook and the topic's subscription."""
        settings = {
            "data_neon_branch_name": f"production-{self.environment}",
            "data_migration_environment": {
                "APP_MIGRATIONS_DIR": str(self.repo / "apps" / "express-api" / "migrations")
            },
            "release_webhook_url": self.webhook.url,
            "release_notification_subscriptions": [{"protocol": "http", "endpoint": self.webhook.sns_url}],
        }
        return ("-e", json.dumps(settings))

    def release(self, label: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.deploy(label, *self.extra, *extra)

    def database_url(self) -> str:
        secrets = aws_client(self.sandbox, "secretsmanager")
        return secrets.get_secret_value(SecretId=f"macroai/{self.environment}/DATABASE_URL")["SecretString"]

    def lock_item(self) -> dict:
        dynamodb = aws_client(self.sandbox, "dynamodb")
        item = dynamodb.get_item(
            TableName=f"{self.prefix}-releases", Key={"pk": {"S": "lock"}, "sk": {"S": "deploy"}}
        ).get("Item")
        return {key: next(iter(value.values())) for key, value in (item or {}).items()}

    def ledger_entries(self, rid: str) -> list[dict]:
        return [e for e in self.ledger(query="list", limit=50)["releases"] if e["release_id"] == rid]

    def kill_when(
        self, label: str, ready: Callable[[], bool], *extra: str, timeout: float = 180
    ) -> tuple[str, str]:
        """Start a release in its own process group, SIGKILL the group once ``ready()``; the killed id."""
        started = time.monotonic()
        killed = subprocess.Popen(
            self.deploy_arguments(*self.extra, *extra),
            cwd=REPO_ROOT,
            env=ansible_env(self.sandbox.base_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        output: list[str] = []
        reader = threading.Thread(target=lambda: output.extend(killed.stdout or ()), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + timeout
            while not ready():
                assert killed.poll() is None, "".join(output)[-4000:]
                assert time.monotonic() < deadline, (
                    f"{label}: not ready in {timeout}s\n{''.join(output)[-3000:]}"
                )
                time.sleep(0.1)
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        reader.join(timeout=10)
        self.seconds[label] = time.monotonic() - started
        owner = self.lock_item().get("owner")
        assert owner, f"{label}: the killed run holds no lock\n{''.join(output)[-3000:]}"
        return str(owner), "".join(output)

    def ledger_opened(self) -> bool:
        """The lock is held and the holder's ledger entry is open (read straight from DynamoDB)."""
        owner = self.lock_item().get("owner")
        dynamodb = aws_client(self.sandbox, "dynamodb")
        key = {"pk": {"S": f"release#{owner}"}, "sk": {"S": "release"}}
        return bool(owner) and "Item" in dynamodb.get_item(TableName=f"{self.prefix}-releases", Key=key)

    def refused(self, label: str, killed_id: str) -> None:
        """A plain run is refused by the killed release's lock, which names it and its dead process."""
        run = self.release(label)
        output = run.stdout + run.stderr
        assert run.returncode != 0 and "Another release holds the deploy lock" in output, output[-3000:]
        assert killed_id in output and "is no longer running" in output, output[-3000:]
        assert "Run the phase" not in output

    def completed(self, label: str, killed_id: str) -> str:
        """A rerun with the killed release's id completes it: one ledger entry, succeeded; the lock free."""
        rerun = ok(self.release(label, "-e", f"release_id={killed_id}"))
        assert release_id(rerun) == killed_id
        (entry,) = self.ledger_entries(killed_id)  # one entry: the rerun closed the killed run's
        assert entry["outcome"] == "succeeded", entry
        assert self.lock_is_free()
        return rerun


@pytest.fixture(scope="module")
def flow(sandbox: SandboxClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recovery]:
    root = tmp_path_factory.mktemp("release-recovery")
    repo = make_app_repo(root)
    migrations = repo / "apps" / "express-api" / "migrations"
    migrations.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        (migrations / path.name).write_text(path.read_text())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "api: migrations")
    recovery = Recovery(sandbox, repo, root, f"rr{uuid.uuid4().hex[:6]}")
    recovery.webhook = Webhook()
    yield recovery
    recovery.webhook.server.shutdown()
    sandbox.clear_amplify_faults()
    print("\n" + "\n".join(f"{label}: {seconds:.1f}s" for label, seconds in recovery.seconds.items()))


def schema_migrations(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def test_first_release_with_vvv_leaks_no_secret(flow: Recovery) -> None:
    output = ok(flow.release("first release (everything, -vvv)", "-vvv"))
    assert "Run the migrations as a one-off task" in output
    first = git(flow.repo, "rev-parse", "--short=7", "HEAD")
    assert flow.backend_version() == first
    flow.tags["first"] = first
    url = flow.database_url()
    assert schema_migrations(url) == ["0001_create_items.sql", "0002_seed_items.sql"]
    # The secrets in play: the Neon API key, the database URL and its password, the Redis URL and its
    # password (from Secrets Manager: whatever the data role stored), the webhook's URL (no_log).
    secrets = aws_client(flow.sandbox, "secretsmanager")
    stored = [
        secrets.get_secret_value(SecretId=s["ARN"])["SecretString"]
        for s in secrets.list_secrets()["SecretList"]
        if s["Name"].startswith(f"macroai/{flow.environment}/")
    ]
    values = {SANDBOX_VARS["data_neon_api_key"], SANDBOX_VARS["data_redis_url"], flow.webhook.token, *stored}
    values |= {urlsplit(value).password or "" for value in stored if "://" in value}
    values |= {urlsplit(SANDBOX_VARS["data_redis_url"]).password or ""}
    values.discard("")
    assert url in values and len(values) >= 5, values
    ledger = json.dumps(flow.ledger(query="list", limit=50)["releases"])
    sns, webhook = (flow.webhook.bodies[kind] for kind in ("sns", "webhook"))
    assert sns and webhook, flow.webhook.bodies  # the notifications arrived: the check below can fail
    rid = release_id(output)
    assert rid in json.loads(sns[-1])["Subject"] and json.loads(webhook[-1])["release_id"] == rid
    places = {"run output": output, "ledger": ledger, "sns": "\n".join(sns), "webhook": "\n".join(webhook)}
    leaks = [
        f"{value[:4]}... in {place}" for place, text in places.items() for value in values if value in text
    ]
    assert not leaks, leaks
    print(f"\n-vvv output: {len(output)} characters checked for {len(values)} secret values")


def probe(flow: Recovery) -> LoadProbe:
    """Production's /version at 10 requests a second across a kill and its rerun (bounded)."""
    return LoadProbe(f"{flow.production_url()}/version", rate=10, max_seconds=300)


def assert_served(load: LoadProbe, old: str, new: str) -> None:
    assert load.sent > 20 and not load.failures, load.failures[:5]
    assert set(load.versions) <= {old, new}, load.versions  # never another (an unhealthy) version


def test_a_controller_killed_in_preflight_is_completed_by_a_rerun_of_its_release(flow: Recovery) -> None:
    version = flow.backend_version()
    flow.commit("apps/client-ui/app.js", "// client v2\n", "client: v2")
    with probe(flow) as load:
        killed_id, output = flow.kill_when(
            "killed in preflight (lock taken, ledger open)", flow.ledger_opened
        )
        assert "Run the phase" not in output, output[-3000:]
        (entry,) = flow.ledger_entries(killed_id)
        assert entry["outcome"] == "in_progress" and not entry.get("phases"), entry
        flow.refused("killed in preflight: a plain rerun refused", killed_id)
        flow.completed("killed in preflight: rerun of its id", killed_id)
    assert "// client v2" in flow.client_text() and flow.backend_version() == version
    assert_served(load, version, version)


def test_a_controller_killed_during_the_client_release_is_completed_without_a_second_job(
    flow: Recovery,
) -> None:
    version = flow.backend_version()
    flow.commit("apps/client-ui/app.js", "// client v3\n", "client: v3")
    (site,) = [s for s in flow.sandbox.sites() if s["app_name"] == f"{flow.prefix}-client"]
    before = {j["jobId"] for j in flow.sandbox.amplify_jobs() if j["app_id"] == site["app_id"]}

    def job_running() -> bool:
        return any(
            j["app_id"] == site["app_id"]
            and j["jobId"] not in before
            and j["status"] in ("PENDING", "RUNNING")
            for j in flow.sandbox.amplify_jobs()
        )

    # The next job of the site runs 6 s (360 s of AWS time): the controller is killed while it runs.
    flow.sandbox.add_amplify_fault("slow", app_id=site["app_id"], seconds=360)
    with probe(flow) as load:
        killed_id, _ = flow.kill_when("killed during the client's Amplify job", job_running)
        flow.completed("killed in the client phase: rerun of its id", killed_id)
    assert "// client v3" in flow.client_text()
    jobs = [j for j in flow.sandbox.amplify_jobs() if j["app_id"] == site["app_id"]]
    assert len(jobs) == len(before) + 1, jobs  # the rerun followed the killed run's job
    s3 = aws_client(flow.sandbox, "s3")
    (bucket,) = [
        b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(site["app_name"] + "-")
    ]
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 3  # first, v2, v3: one per distinct client
    assert_served(load, version, version)


def migration_running(flow: Recovery) -> Callable[[], bool]:
    # pg_stat_activity is the whole cluster's: asked through the sandbox's maintenance database, never the
    # branch's, which the restore point copies (the copy ends every other session on it, and a session of ours
    # there could fail the copy).
    url = flow.sandbox.health()["endpoints"]["postgres"]

    def running() -> bool:
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
                    ("%pg_sleep(4)%",),
                ).fetchone()
        except psycopg.OperationalError:
            return False  # the sandbox's PostgreSQL busy (a connection refused or ended): ask again
        return bool(row and row[0])

    return running


def test_a_controller_killed_during_the_migration_is_completed_and_migrates_once(flow: Recovery) -> None:
    version, url = flow.backend_version(), flow.database_url()
    flow.tags["checksum before 0003"] = json.dumps(database_checksum(url))
    (flow.repo / "apps" / "express-api" / "migrations" / "0003_note.sql").write_text(MIGRATION_0003)
    (flow.repo / "apps" / "client-ui" / "app.js").write_text(flow.client_text() + "// client v4\n")
    git(flow.repo, "add", "-A")
    git(flow.repo, "commit", "-qm", "api: items.note; client v4")
    tag = git(flow.repo, "rev-parse", "--short=7", "HEAD")
    revisions = len(flow.revisions())
    with probe(flow) as load:
        killed_id, output = flow.kill_when(
            "killed during the migration's one-off task", migration_running(flow)
        )
        assert "Run the migrations as a one-off task" in output
        rerun = flow.completed("killed in the migration: rerun of its id", killed_id)
    assert "Run the migrations as a one-off task" in rerun
    assert schema_migrations(url) == ["0001_create_items.sql", "0002_seed_items.sql", "0003_note.sql"]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(note) FROM items").fetchone() == (0,)
    assert flow.backend_version() == tag and "// client v4" in flow.client_text()
    assert len(flow.revisions()) == revisions + 1  # the killed run's revision, reused by the rerun
    (entry,) = flow.ledger_entries(killed_id)
    assert entry["restore_point"]["kind"] == "neon_branch", entry
    flow.tags["migrated"] = killed_id
    assert_served(load, version, tag)
    assert load.versions[-1] == tag, load.versions


def test_rollback_with_the_database_returns_backend_client_and_schema(flow: Recovery) -> None:
    url = flow.database_url()
    output = ok(
        flow.rollback("rollback.yml with rollback_database=true", *flow.extra, "-e", "rollback_database=true")
    )
    assert flow.backend_version() == flow.tags["first"]
    text = flow.client_text()
    assert "// client v3" in text and "// client v4" not in text
    assert database_checksum(flow.database_url()) == json.loads(flow.tags["checksum before 0003"])
    assert flow.database_url() == url
    assert schema_migrations(url) == ["0001_create_items.sql", "0002_seed_items.sql"]
    entry = flow.ledger(query="last_successful")["release"]
    assert entry["release_id"] == release_id(output) and entry["deployment_type"] == "rollback"
    assert entry["scope"]["migrations"] is True, entry
    rolled_back = flow.ledger(query="get", release_id=flow.tags["migrated"])["release"]
    assert (
        rolled_back["outcome"] == "rolled_back" and rolled_back["rolled_back_to"] == entry["rolled_back_to"]
    )
    assert flow.lock_is_free()
