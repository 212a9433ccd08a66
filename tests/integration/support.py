"""Helpers the integration tests share: AWS clients on the sandbox, and ansible-playbook runs."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3

from sandbox.client import SandboxClient

REGION = "eu-west-2"
REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent


def aws_client(sandbox: SandboxClient, service: str) -> Any:
    """A boto3 client for ``service`` on the sandbox, with its fake credentials."""
    return boto3.client(
        service,
        endpoint_url=sandbox.base_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def open_security_group(ec2: Any, group_id: str, listener_ports: Sequence[int], app_port: int = 3000) -> None:
    """The rules a load-balanced service's one group needs in the sandbox, which enforces security groups:
    the listener ports from the controller (127.0.0.1, outside the VPC) and the app port from the group."""
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            *(
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "IpRanges": [{"CidrIp": "127.0.0.1/32"}],
                }
                for port in listener_ports
            ),
            {
                "IpProtocol": "tcp",
                "FromPort": app_port,
                "ToPort": app_port,
                "UserIdGroupPairs": [{"GroupId": group_id}],
            },
        ],
    )


def ansible_env(sandbox_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment for ansible-playbook: this venv first, the project's ansible.cfg, no colour."""
    env = {
        **os.environ,
        "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "AWS_REGION": REGION,
    }
    if sandbox_url:
        env["SANDBOX_AWS_URL"] = sandbox_url
    env.update(extra)
    return env


def run_playbook(
    playbook: str | Path,
    inventories: Sequence[str | Path] = ("localhost,",),
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook PLAYBOOK -i INVENTORY... EXTRA_ARGS`` from the repo root, output captured."""
    command = [str(BIN_DIR / "ansible-playbook"), str(playbook)]
    for inventory in inventories:
        command += ["-i", str(inventory)]
    return subprocess.run(
        [*command, *extra_args],
        cwd=REPO_ROOT,
        env=env or ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def deploy(
    sandbox: SandboxClient, scale: str, *extra_args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``playbooks/deploy.yml`` for one scale's inventory with the sandbox overlay."""
    return run_playbook(
        "playbooks/deploy.yml",
        (f"inventories/{scale}", "inventories/sandbox"),
        ("-e", "approve=true", *extra_args),
        env=env or ansible_env(sandbox.base_url),
    )


def recap(output: str) -> dict[str, int]:
    """The controller's PLAY RECAP counters (ok, changed, failed, ...) from default-callback output."""
    for line in reversed(output.splitlines()):
        if line.startswith("controller") and "ok=" in line:
            return {key: int(value) for key, value in (pair.split("=") for pair in line.split()[2:])}
    raise AssertionError(f"no PLAY RECAP line for controller in:\n{output}")


def json_result(completed: subprocess.CompletedProcess[str], task: int = 0, host: str = "localhost") -> dict:
    """One task's result from a run with the ansible.posix.json callback."""
    report = json.loads(completed.stdout)
    return report["plays"][0]["tasks"][task]["hosts"][host]


class LoadProbe:
    """A bounded load generator in a thread: GETs ``url`` at ``rate`` requests a second, for at most
    ``max_seconds`` (and at most ``rate * max_seconds`` requests), counting failures and the versions seen.

    Use as a context manager around the release under test. A request fails on a transport error, a
    timeout or a status other than 200. ``versions`` lists each change of the answering version, in order.
    """

    def __init__(
        self, url: str, rate: float = 25.0, max_seconds: float = 120.0, timeout: float = 5.0
    ) -> None:
        self.url = url
        self.rate = rate
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.sent = 0
        self.failures: list[str] = []
        self.versions: list[str] = []
        self.started = 0.0
        self.elapsed = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LoadProbe:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True, name="load-probe")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)
        self.elapsed = time.monotonic() - self.started

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed else 0.0

    def _run(self) -> None:
        deadline = self.started + self.max_seconds
        interval = 1.0 / self.rate
        next_at = self.started
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.sent += 1
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
                    version = json.loads(response.read()).get("version", "?")
                if not self.versions or self.versions[-1] != version:
                    self.versions.append(version)
            except urllib.error.HTTPError as err:
                self.failures.append(f"HTTP {err.code} after {time.monotonic() - self.started:.2f}s")
            except (OSError, ValueError) as err:  # URLError, timeouts, resets, a body that is not JSON
                self.failures.append(
                    f"{type(err).__name__}: {err} after {time.monotonic() - self.started:.2f}s"
                )
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))


def listener_url(sandbox: SandboxClient, load_balancer: str, port: int) -> str:
    """The loopback URL of a load balancer's listener in the sandbox's data plane."""
    for listener in sandbox.listeners():
        if listener["load_balancer"] == load_balancer and int(listener["port"]) == port:
            return listener["url"].rstrip("/")
    raise LookupError(f"no sandbox listener for {load_balancer}:{port} in {sandbox.listeners()}")


def get_version(url: str, timeout: float = 5.0) -> str:
    """The ``version`` field of ``url``/version."""
    with urllib.request.urlopen(f"{url}/version", timeout=timeout) as response:
        return json.loads(response.read())["version"]


def play_module(
    sandbox: SandboxClient, scratch: Path, module: str, args: dict[str, Any], *flags: str
) -> dict[str, Any]:
    """Run one task of ``module`` with ``args`` through ansible-playbook against the sandbox; its result.

    The play carries the sandbox's endpoint and credentials in module_defaults, as a user's playbook would
    carry theirs; the result comes back through the ansible.posix.json callback.
    """
    connection = {"endpoint_url": sandbox.base_url, "access_key": "testing", "secret_key": "testing"}
    playbook = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "module_defaults": {"group/macroai.deploy.aws": connection},
            "tasks": [{"name": module, module: args}],
        }
    ]
    path = scratch / f"play-{uuid.uuid4().hex[:6]}.yml"
    path.write_text(json.dumps(playbook))
    completed = run_playbook(
        path,
        extra_args=flags,
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"),
        timeout=300,
    )
    try:
        return json_result(completed)
    except (ValueError, KeyError, IndexError) as error:
        raise AssertionError(
            f"ansible-playbook gave no result:\n{completed.stdout}\n{completed.stderr}"
        ) from error


def ecs_tasks_trust(account: str = "123456789012") -> str:
    """An execution role's trust policy as AWS's guide writes it: ecs-tasks, this account only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            ],
        }
    )


def create_execution_role(sandbox: SandboxClient, name: str, secret_arns: Sequence[str]) -> str:
    """A task execution role that may read exactly these secrets and parameters (the sandbox's ECS reads a
    container's ``secrets`` as the execution role, as ECS does); :func:`delete_role` removes it."""
    iam = aws_client(sandbox, "iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=ecs_tasks_trust())["Role"]["Arn"]
    statements = [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": list(secret_arns)},
        {"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": list(secret_arns)},
    ]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="read-secrets",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return str(arn)


def delete_role(sandbox: SandboxClient, name: str) -> None:
    """Delete a role with its inline and attached policies (nothing when it is gone already)."""
    iam = aws_client(sandbox, "iam")
    try:
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        pass


LOAD_BALANCER_POLICY = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"


@contextlib.contextmanager
def infrastructure_role(iam: Any, name: str) -> Iterator[str]:
    """An ECS infrastructure role for blue/green stacks, removed afterwards: ECS assumes it (it trusts
    ecs.amazonaws.com) and moves the listener rules with it (AWS's managed policy for load balancers)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=LOAD_BALANCER_POLICY)
    try:
        yield arn
    finally:
        iam.detach_role_policy(RoleName=name, PolicyArn=LOAD_BALANCER_POLICY)
        iam.delete_role(RoleName=name)
