#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: release_check
short_description: Check a release over HTTP, every URL in one task
version_added: 0.1.0
description:
  - Sends C(GET) to each check's URL from the controller and compares the answer with what the check expects
    (a status, fields of a JSON body, a piece of text). A check that does not hold is tried again, up to
    O(retries) more times, O(delay) seconds apart, so a release that is still settling gets time.
  - The checks run side by side, so several of them cost about as long as the slowest one. Every result is
    returned (RV(checks)); the task fails when any check fails, naming each failing check, its URL and what
    it got instead.
  - Read-only, so it reports C(changed=false) and runs in check mode too (a check of a version that check
    mode did not release would then fail, so playbooks skip it there).
author:
  - Macro AI maintainers (@macroai)
options:
  checks:
    description:
      - The checks, each one URL.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: What the check proves, for the results and the error message (for example C(health)).
        type: str
        required: true
      url:
        description: The URL to C(GET).
        type: str
        required: true
      expect_status:
        description: The HTTP status expected.
        type: int
        default: 200
      expect_json:
        description:
          - Fields the body must have, as a JSON object, with these values (compared as strings, so
            C(version) V(abc1234) matches whatever JSON type the app used).
        type: dict
      expect_text:
        description: Text the body must contain.
        type: str
  retries:
    description: Further attempts of a check that failed.
    type: int
    default: 10
  delay:
    description: Seconds between two attempts of a check.
    type: float
    default: 2
  timeout:
    description: Seconds one request may take.
    type: float
    default: 10
  url_map:
    description:
      - Reach some URLs at another address, as C(curl --resolve) would, for example a load balancer's name
        before its DNS exists, or a rehearsal environment whose names only resolve through it. Maps a URL
        prefix (scheme, host, optional port and path) to the prefix to request instead; the longest prefix
        that matches at a C(/), C(?) or the end wins. The results keep the URL checked and say where it was
        reached (RV(checks[].reached_at)).
    type: dict
    default: {}
  validate_certs:
    description: Verify HTTPS certificates.
    type: bool
    default: true
extends_documentation_fragment:
  - macroai.deploy.attributes
  - macroai.deploy.attributes.read_only
"""

EXAMPLES = r"""
- name: Validate the release on production
  macroai.deploy.release_check:
    checks:
      - name: health
        url: "{{ compute.production_url }}/health"
      - name: version
        url: "{{ compute.production_url }}/version"
        expect_json:
          version: "{{ release_id_commit }}"
      - name: client
        url: "{{ edge.site_url }}/"
        expect_text: <div id="root">
    retries: 15
    delay: 2
"""

RETURN = r"""
checks:
  description: One result per check, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name.
      type: str
    url:
      description: The URL checked.
      type: str
    reached_at:
      description: Where its requests went (the URL itself unless O(url_map) maps it).
      type: str
    passed:
      description: Whether the last attempt met every expectation.
      type: bool
    status:
      description: The HTTP status of the last answer; null when there was none.
      type: int
    attempts:
      description: Requests sent.
      type: int
    elapsed_s:
      description: Seconds the check took, attempts and delays included.
      type: float
    problem:
      description: Why the last attempt did not hold; null when it passed.
      type: str
  sample:
    - name: health
      url: http://lb/health
      reached_at: http://lb/health
      passed: true
      status: 200
      attempts: 1
      elapsed_s: 0.01
      problem: null
passed:
  description: Whether every check passed.
  returned: always
  type: bool
"""

# Ansible modules put their documentation before the imports (E402 below is that convention).
from urllib.error import HTTPError, URLError  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.urls import open_url  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._pure import ModuleFailure, exit_with  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._release_check import (  # noqa: E402
    Check,
    FetchError,
    failure_message,
    run_checks,
)

CHECK_SPEC = dict(
    name=dict(type="str", required=True),
    url=dict(type="str", required=True),
    expect_status=dict(type="int", default=200),
    expect_json=dict(type="dict"),
    expect_text=dict(type="str"),
)


def http_fetch(validate_certs):
    def fetch(url, timeout):
        try:
            response = open_url(url, method="GET", timeout=timeout, validate_certs=validate_certs)
            return response.getcode(), response.read().decode("utf-8", "replace")
        except HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace") if error.fp else ""
        except (URLError, OSError, ValueError) as error:
            raise FetchError("no answer: %s" % (getattr(error, "reason", None) or error)) from error

    return fetch


# plugins/action/release_check.py runs the same spec and run() in ansible-playbook's process.
ARGUMENT_SPEC = dict(
    checks=dict(type="list", elements="dict", required=True, options=CHECK_SPEC),
    retries=dict(type="int", default=10),
    delay=dict(type="float", default=2),
    timeout=dict(type="float", default=10),
    url_map=dict(type="dict", default={}),
    validate_certs=dict(type="bool", default=True),
)


def run(params, warn):
    results = run_checks(
        [Check.from_params(check) for check in params["checks"]],
        http_fetch(params["validate_certs"]),
        attempts=params["retries"] + 1,
        delay=params["delay"],
        timeout=params["timeout"],
        url_map=params["url_map"],
    )
    problem = failure_message(results)
    if problem:
        raise ModuleFailure(problem, checks=results, passed=False)
    return {"checks": results, "passed": True}


def main():
    exit_with(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run)


if __name__ == "__main__":
    main()
