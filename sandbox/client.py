"""A stdlib-only client of the sandbox's admin routes, for tests and benchmarks."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

ADMIN = "/_sandbox"


class SandboxError(RuntimeError):
    """The sandbox answered with an error, or did not answer."""


def default_base_url() -> str:
    return os.environ.get("SANDBOX_AWS_URL") or f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT') or 4599}"


class SandboxClient:
    def __init__(self, base_url: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = (base_url or default_base_url()).rstrip("/")
        self.timeout = timeout

    def _call(
        self,
        method: str,
        route: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        url = f"{self.base_url}{ADMIN}/{route}"
        if params:
            url += "?" + urlencode({key: value for key, value in params.items() if value is not None})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raise SandboxError(f"{method} {url}: {err.code} {err.read().decode(errors='replace')}") from err
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            raise SandboxError(f"{method} {url}: sandbox not answering ({err})") from err

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def requests(
        self, service: str | None = None, write: bool | None = None, since: float | None = None
    ) -> list[dict[str, Any]]:
        flag = None if write is None else str(write).lower()
        return self._call("GET", "requests", params={"service": service, "write": flag, "since": since})

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def add_fault(
        self,
        service: str,
        code: str,
        status: int = 400,
        rate: float = 1.0,
        action: str | None = None,
        count: int | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        rule = {
            "service": service,
            "code": code,
            "status": status,
            "rate": rate,
            "action": action,
            "count": count,
        }
        if message:
            rule["message"] = message
        return self._call("POST", "faults", body=rule)

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "faults")

    def remove_fault(self, rule_id: int) -> None:
        self._call("DELETE", f"faults/{rule_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def reset(self) -> dict[str, Any]:
        # A reset stops every task process and drops the databases: on a busy machine it can take well over
        # the usual timeout, and a client that gives up early leaves the next test a sandbox mid-reset.
        return self._call("POST", "reset", timeout=max(self.timeout, 120.0))

    def neon_url(self) -> str:
        """Base URL of the Neon API emulator, e.g. http://127.0.0.1:4599/neon/api/v2."""
        return self.health()["endpoints"]["neon"]

    def neon_project_id(self) -> str:
        """The Neon project every reset seeds (a ``main`` branch with database neondb, role neondb_owner)."""
        return self.health()["endpoints"]["neon_project_id"]

    def listeners(self) -> list[dict[str, Any]]:
        """One loopback proxy per load-balancer listener: arn, load_balancer, port, protocol, url."""
        return self._call("GET", "listeners")

    def sites(self) -> list[dict[str, Any]]:
        """Amplify branches' deployed sites on loopback ports: app_id, app_name, branch, url, job_id."""
        return self._call("GET", "sites")

    def add_amplify_fault(
        self,
        mode: str,
        reason: str | None = None,
        count: int = 1,
        app_id: str | None = None,
        branch: str | None = None,
        seconds: float | None = None,
    ) -> dict[str, Any]:
        """The next ``count`` Amplify jobs started (optionally of one app/branch): mode fail (with
        ``reason``), stuck (stays PENDING until StopJob) or slow (RUNNING for ``seconds`` of AWS time)."""
        fault: dict[str, Any] = {"mode": mode, "count": count}
        for key, value in (("reason", reason), ("app_id", app_id), ("branch", branch), ("seconds", seconds)):
            if value is not None:
                fault[key] = value
        return self._call("POST", "amplify-faults", body=fault)

    def clear_amplify_faults(self) -> None:
        self._call("DELETE", "amplify-faults")

    def amplify_jobs(self) -> list[dict[str, Any]]:
        """Every Amplify job the sandbox knows: app_id, branch, jobId, status, sourceUrl, reason, ..."""
        return self._call("GET", "amplify-jobs")

    def rds_instances(self) -> list[dict[str, Any]]:
        """RDS postgres instances and their real databases: id, region, status, host, port, database, ..."""
        return self._call("GET", "rds")

    def tasks(self) -> list[dict[str, Any]]:
        """ECS service tasks run as local processes: service, task_arn, version, state, pid, port, ..."""
        return self._call("GET", "tasks")

    def add_task_fault(self, image_tag: str, mode: str, slow_ms: int | None = None) -> dict[str, Any]:
        """Tasks started later from an image with this tag: mode unhealthy | crash | slow (slow_ms)."""
        fault: dict[str, Any] = {"image_tag": image_tag, "mode": mode}
        if slow_ms is not None:
            fault["slow_ms"] = slow_ms
        return self._call("POST", "task-faults", body=fault)

    def task_faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "task-faults")

    def clear_task_faults(self) -> None:
        self._call("DELETE", "task-faults")
