# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The deployment's settings fingerprint: which of the infrastructure's settings changed since a release.

The release (roles/release/tasks/scope.yml) fingerprints the settings of the networking, data, compute and
edge roles, as their meta/argument_specs.yml list them, on the controller; the ledger keeps the fingerprint
with the release, and the next release converges the infrastructure when its own differs, naming the
variables that changed (docs/release.md, "Settings changes"). Three filters:

- ``release_settings_variables``: the names fingerprinted, from the roles' argument specs;
- ``release_settings_fingerprint``: ``name=hash`` per variable, the hash a short sha256 of the value;
- ``release_settings_reason``: why the infrastructure is in scope because of the settings, or ``''``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

ROLES = ("networking", "data", "compute", "edge")
ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
HASH_LENGTH = 12  # hex digits of the sha256: 48 bits, plenty to tell one value of a variable from another
REASON_NAMES = 8  # variables named in a reason before "and N more"

# The options of the roles that are NOT settings of the infrastructure, so changing them alone never puts the
# infrastructure in a release's scope. Everything else in the roles' argument specs is fingerprinted, so a new
# option counts by default; secret options (no_log in the specs) are left out as well, see secret_options.
EXCLUDED = {
    # Facts and plans the release computes at run time, not inventory settings (their inputs count).
    "networking": "the networking role's fact",
    "networking_plan": "the preflight's macroai.deploy.network_plan result",
    "compute_plan": "the preflight's macroai.deploy.compute_plan result",
    "compute_data_secrets": "deploy.yml passes the data role's fact",
    "edge_load_balancer_arn": "deploy.yml passes the compute phase's or the ledger's load balancer",
    "edge_load_balancer_dns_name": "deploy.yml passes the compute phase's or the ledger's load balancer",
    "edge_load_balancer_zone_id": "deploy.yml passes the compute phase's or the ledger's load balancer",
    "edge_api_url": "deploy.yml derives it from the load balancer and edge_domain_name",
    # Per release: what to release and how, not what the infrastructure is.
    "compute_image_tag": "the release's image (the scope decides it)",
    "compute_initial_image_tag": "the image of a service's very first release only",
    "edge_client_source": "the client build to release (the scope decides it)",
    "compute_deployment_strategy": "how each backend release moves traffic (every release passes it)",
    "compute_bake_time_minutes": "a release's bake time (a hotfix shortens it)",
    "compute_linear_step_percent": "how each backend release moves traffic (every release passes it)",
    "compute_linear_step_bake_minutes": "a release's bake time (a hotfix shortens it)",
    "compute_canary_percent": "how each backend release moves traffic (every release passes it)",
    "compute_canary_bake_minutes": "a release's bake time (a hotfix shortens it)",
    # How long and how often a run waits: nothing in AWS changes with them.
    "compute_release_timeout_seconds": "a wait timeout",
    "compute_release_poll_seconds": "a polling interval",
    "data_wait_timeout_seconds": "a wait timeout",
    "edge_release_wait_timeout": "a wait timeout",
    "edge_release_poll_seconds": "a polling interval",
    "edge_release_async_seconds": "whether a run waits for the client's release in the background",
    "compute_release_backend": "whether a run of the role releases the backend itself (deploy.yml: later)",
}


@functools.cache
def role_options(role: str, roles_dir: str = str(ROLES_DIR)) -> dict[str, dict[str, Any]]:
    """The options of ``role``'s main entry point, as its meta/argument_specs.yml declares them."""
    path = Path(roles_dir) / role / "meta" / "argument_specs.yml"
    try:
        specs = yaml.safe_load(path.read_text())
        return dict(specs["argument_specs"]["main"]["options"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise AnsibleFilterError(
            f"cannot read the options of the {role} role from {path} ({e}): the settings fingerprint needs "
            "every infrastructure role's meta/argument_specs.yml"
        ) from None


def fingerprinted_options(roles: Any = ROLES, roles_dir: str = str(ROLES_DIR)) -> dict[str, dict[str, Any]]:
    """Name to spec of every option fingerprinted: the roles' options less EXCLUDED and the secrets."""
    secrets = set(secret_options(roles, roles_dir))
    options: dict[str, dict[str, Any]] = {}
    for role in roles or ROLES:
        for name, spec in role_options(str(role), roles_dir).items():
            if name not in EXCLUDED and name not in secrets:
                options.setdefault(name, spec or {})
    return dict(sorted(options.items()))


# Secret options (no_log in the specs: data_neon_api_key, data_redis_url) are not fingerprinted at all, not
# even hashed: a fast hash of a low-entropy secret (an Upstash password, a short API key) is a guess-and-check
# away from the secret for anyone who can read the ledger, and a keyed hash needs a key the release does not
# have. A rotated secret is written by the next release that converges the infrastructure: at once with
# -e force_rebuild=true.
def secret_options(roles: Any = ROLES, roles_dir: str = str(ROLES_DIR)) -> list[str]:
    """The roles' secret options (no_log in any role's spec), never fingerprinted."""
    return sorted(
        name
        for role in roles or ROLES
        for name, spec in role_options(str(role), roles_dir).items()
        if (spec or {}).get("no_log")
    )


def normalised(value: Any, spec: Mapping[str, Any]) -> Any:
    """``value`` as the spec's type, so ``-e compute_desired_count=2`` (a string) and ``2`` in an inventory
    hash alike; a value that does not convert is taken as it is (the role's own validation reports it)."""
    kind = spec.get("type", "str")
    if value is None:
        return None
    try:
        if kind == "int" and not isinstance(value, bool):
            if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
                return int(value)
            if isinstance(value, float) and value.is_integer():
                return int(value)
            return value
        if kind == "float" and not isinstance(value, bool):
            return float(value) if isinstance(value, (int, float, str)) else value
        if kind == "bool":
            return boolean(value, strict=True)
        if kind in ("str", "path") and isinstance(value, (int, float, bool)):
            return str(value)
    except (TypeError, ValueError):
        return value
    return value


def value_hash(name: str, value: Any) -> str:
    """A short sha256 of ``name`` and ``value`` as canonical JSON (keys sorted)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{name}={text}".encode()).hexdigest()[:HASH_LENGTH]


def release_settings_variables(roles: Any = ROLES) -> list[str]:
    """The variables fingerprinted, for the template to look up: every option of ``roles`` (the networking,
    data, compute and edge roles by default) but EXCLUDED's and the secrets."""
    return list(fingerprinted_options(roles))


def release_settings_fingerprint(values: Any, roles: Any = ROLES) -> list[str]:
    """``name=hash`` for every fingerprinted variable, sorted by name. ``values`` maps the variables that are
    set to their values; one that is missing hashes as its spec's default, so setting a variable to its
    default changes nothing. Names not fingerprinted (secrets, EXCLUDED) are ignored, never hashed."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise AnsibleFilterError(
            "release_settings_fingerprint takes a mapping of variable names to values, "
            f"not {type(values).__name__}"
        )
    fingerprint = []
    for name, spec in fingerprinted_options(roles).items():
        value = values[name] if name in values else spec.get("default")
        fingerprint.append(f"{name}={value_hash(name, normalised(value, spec))}")
    return fingerprint


def parse(fingerprint: Any) -> dict[str, str]:
    """A fingerprint as stored (a list of ``name=hash``; a mapping is taken too) as a name to hash mapping."""
    if not fingerprint:
        return {}
    if isinstance(fingerprint, Mapping):
        return {str(k): str(v) for k, v in fingerprint.items()}
    if isinstance(fingerprint, str) or not isinstance(fingerprint, (list, tuple)):
        raise AnsibleFilterError(
            f"a settings fingerprint is a list of name=hash strings, not {fingerprint!r}"
        )
    parsed = {}
    for item in fingerprint:
        name, sep, digest = str(item).partition("=")
        if not sep:
            raise AnsibleFilterError(f"a settings fingerprint's entries are name=hash strings, not {item!r}")
        parsed[name] = digest
    return parsed


def release_settings_changes(fingerprint: Any, before: Any) -> list[str]:
    """The variables whose hash differs between ``before`` and ``fingerprint``, sorted; a variable in one and
    not the other (a new option, a removed one) counts as changed."""
    now, then = parse(fingerprint), parse(before)
    return sorted(name for name in set(now) | set(then) if now.get(name) != then.get(name))


def release_settings_reason(fingerprint: Any, last_release: Any) -> str:
    """Why the settings put the infrastructure in scope, against the last successful release's entry, or
    ``''``: with no last release (the first release converges everything anyway) or the same settings."""
    if not isinstance(last_release, Mapping) or not last_release.get("release_id"):
        return ""
    if not last_release.get("settings"):
        return "no settings fingerprint in the last release"
    changed = release_settings_changes(fingerprint, last_release["settings"])
    if not changed:
        return ""
    named = ", ".join(changed[:REASON_NAMES])
    more = f" and {len(changed) - REASON_NAMES} more" if len(changed) > REASON_NAMES else ""
    return f"settings changed since {last_release['release_id']}: {named}{more}"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "release_settings_variables": release_settings_variables,
            "release_settings_fingerprint": release_settings_fingerprint,
            "release_settings_reason": release_settings_reason,
        }
