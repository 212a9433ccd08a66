#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: amplify_release
short_description: Release a built web client to an Amplify Hosting branch from an immutable artifact
version_added: 0.1.0
description:
  - Packs a built client (a directory, or a zip) into a deterministic zip (sorted entries, one timestamp, one
    file mode), so the same files always give the same bytes and the same SHA-256.
  - Stores it once at C(s3://<release_bucket>/<release_prefix>/<sha256>.zip). An existing object at that key
    is never overwritten (C(HeadObject) first), so every release stays addressable.
  - Deploys it to the branch as a manual deployment (C(StartDeployment) with C(sourceUrl)) and waits for the
    job, returning each status and step it saw (RV(steps)). A module cannot stream output; each step is also
    written to the host's log.
  - When the branch's newest successful job already deployed that artifact, nothing is uploaded or started
    and the result is C(changed=false). When a job of that artifact is still running, it is followed rather
    than duplicated, so running the task again after a timeout waits for the same job.
  - Amplify runs one job per branch at a time and refuses a deployment while the last job is unfinished. An
    unfinished job of another artifact is waited for, or stopped (C(StopJob)) once it has been PENDING for
    longer than O(stuck_job_timeout).
  - O(artifact_url) deploys an artifact recorded earlier instead of O(source); this is the rollback.
  - A job that fails fails the task with the job's reason, and says what the site still serves.
  - The source is checked before any AWS call; a missing or empty build, or one without C(index.html) at its
    top level, fails naming O(source).
author:
  - Macro AI maintainers (@macroai)
options:
  app_name:
    description:
      - Name of the Amplify app, looked up with C(ListApps). Exactly one of O(app_name) and O(app_id) is
        required; a name shared by several apps is an error.
    type: str
  app_id:
    description:
      - ID of the Amplify app, for example V(d1a2b3c4d5e6f7).
    type: str
  branch:
    description:
      - The branch to deploy to. It must exist (created with C(enableAutoBuild=false) for manual deployments).
    type: str
    required: true
  source:
    description:
      - The built client, a directory (for example C(apps/client-ui/dist)) or a zip file, with C(index.html)
        at its top level.
      - Exactly one of O(source) and O(artifact_url) is required.
    type: path
  artifact_url:
    description:
      - An artifact stored by an earlier release, as RV(artifact_url) returned it
        (C(s3://bucket/prefix/<sha256>.zip)). Deploys it instead of O(source); used to roll back.
    type: str
  release_bucket:
    description:
      - S3 bucket that keeps the release artifacts. Required with O(source).
      - Its policy must let the C(amplify.amazonaws.com) service principal read the objects
        (C(s3:GetObject), with C(aws:SourceAccount) the account and C(aws:SourceArn) the branch's ARN
        URL-encoded, as P(macroai.deploy.amplify_release_bucket_policy#filter) writes it).
    type: str
  release_prefix:
    description:
      - Key prefix of the artifacts in O(release_bucket), for example the app's name.
    type: str
    default: releases
  wait_timeout:
    default: 600
  poll_interval:
    default: 5.0
  stuck_job_timeout:
    description:
      - Seconds an unfinished job of another artifact may stay PENDING before it is stopped so this release
        can start. V(0) never stops a job; the task then waits up to O(wait_timeout) and fails.
    type: int
    default: 600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - macroai.deploy.wait
  - macroai.deploy.wait.optional
  - macroai.deploy.attributes
  - macroai.deploy.attributes.actiongroup_aws
attributes:
  check_mode:
    support: full
    details:
      - Packs the source and reads S3 and Amplify but never writes, and predicts in RV(plan) whether the
        artifact would be uploaded, a job started, and an earlier job waited for or stopped.
  diff_mode:
    support: full
    details:
      - Shows the deployed artifact (and job) before and after.
  idempotent:
    support: full
    details:
      - The same artifact again uploads nothing, starts no job and reports C(changed=false).
notes:
  - It waits for the Amplify job, and separately (up to O(wait_timeout) as well) for an earlier job that
    blocks the branch. An unfinished job of another artifact is always waited for (or stopped), even with
    O(wait=false), since Amplify refuses a new job until it ends. On O(wait_timeout) the task fails but
    Amplify carries on; running the task again with the same input waits for the same job.
  - Artifacts are never deleted by this module; expire old ones with a lifecycle rule on O(release_bucket)
    that keeps at least the releases you may roll back to.
seealso:
  - name: Amplify Hosting manual deployments
    description: Deploying a static site to Amplify without a Git repository.
    link: https://docs.aws.amazon.com/amplify/latest/userguide/manual-deploys.html
"""

EXAMPLES = r"""
- name: Release the client build
  macroai.deploy.amplify_release:
    app_name: macroai-production
    branch: main
    source: "{{ playbook_dir }}/../apps/client-ui/dist"
    release_bucket: macroai-production-releases
    release_prefix: client
  register: client_release

- name: Record the artifact for rollback
  ansible.builtin.debug:
    msg: "{{ client_release.artifact_url }} (job {{ client_release.job_id }})"

- name: Roll back to an earlier release's artifact
  macroai.deploy.amplify_release:
    app_id: d1a2b3c4d5e6f7
    branch: main
    artifact_url: "{{ ledger_previous_release.frontend_artifact }}"

- name: Predict what a release would do
  macroai.deploy.amplify_release:
    app_name: macroai-production
    branch: main
    source: apps/client-ui/dist.zip
    release_bucket: macroai-production-releases
  check_mode: true
  register: client_plan
"""

RETURN = r"""
plan:
  description: What the run did, or in check mode would do.
  returned: always
  type: dict
  contains:
    upload:
      description: Whether the artifact was uploaded (it was not in the bucket yet).
      type: bool
      sample: true
    deploy:
      description: Whether a job was started.
      type: bool
      sample: true
    follow_job:
      description: ID of a job of this artifact already running that was followed instead of starting one.
      type: str
      sample: null
    wait_for_jobs:
      description: IDs of unfinished jobs of other artifacts that blocked the branch and were waited for.
      type: list
      elements: str
      sample: []
    stop_jobs:
      description: IDs of jobs stopped because they stayed PENDING longer than O(stuck_job_timeout).
      type: list
      elements: str
      sample: []
  sample: {upload: true, deploy: true, follow_job: null, wait_for_jobs: [], stop_jobs: []}
app_id:
  description: The app's ID.
  returned: always
  type: str
  sample: d1a2b3c4d5e6f7
app_name:
  description: The app's name.
  returned: always
  type: str
  sample: macroai-production
branch:
  description: The branch deployed to.
  returned: always
  type: str
  sample: main
artifact_url:
  description: Where the artifact is stored; give it as O(artifact_url) to deploy this release again.
  returned: always
  type: str
  sample: s3://macroai-production-releases/client/3f8a0c...e1.zip
sha256:
  description: SHA-256 of the artifact (hex); null for a rollback to an artifact without a recorded checksum.
  returned: always
  type: str
  sample: 3f8a0c5d2b7e4f6a9c1d0e3b5a7c9e1f2d4b6a8c0e2f4a6b8d0c2e4f6a8b0c2e1
size_bytes:
  description: Size of the artifact in bytes.
  returned: always
  type: int
  sample: 48213
file_count:
  description: Number of files packed; null for a rollback.
  returned: always
  type: int
  sample: 12
previous_artifact_url:
  description: The artifact the branch served before this run (its newest successful job's); null if none.
  returned: always
  type: str
  sample: s3://macroai-production-releases/client/9b1e...77.zip
job_id:
  description: ID of the job started or followed; null when nothing was deployed.
  returned: always
  type: str
  sample: "7"
job:
  description: The job started or followed; null when nothing was deployed.
  returned: always
  type: dict
  contains:
    id:
      description: The job's ID.
      type: str
      sample: "7"
    status:
      description: Its last status seen, for example V(SUCCEED).
      type: str
      sample: SUCCEED
    reason:
      description: Amplify's reason for a failure, from the job's steps.
      type: str
      sample: null
    source_url:
      description: The artifact the job deploys.
      type: str
    elapsed_s:
      description: Seconds this run waited on it.
      type: float
      sample: 41.7
    timed_out:
      description: Whether O(wait_timeout) passed first.
      type: bool
      sample: false
steps:
  description: Each change of the job's status or current step seen while waiting, in order.
  returned: always
  type: list
  elements: dict
  contains:
    status:
      description: Job status.
      type: str
    step:
      description: Name of the job's current step (null before the first one).
      type: str
    at:
      description: When it was first seen, ISO 8601 UTC.
      type: str
    elapsed_s:
      description: Seconds since the wait began.
      type: float
  sample:
    - {status: PENDING, step: null, at: "2026-05-01T10:00:01+00:00", elapsed_s: 0.2}
    - {status: RUNNING, step: DEPLOY, at: "2026-05-01T10:00:16+00:00", elapsed_s: 15.3}
    - {status: SUCCEED, step: DEPLOY, at: "2026-05-01T10:00:41+00:00", elapsed_s: 40.6}
site_url:
  description: The branch's Amplify URL (C(https://<branch>.<app default domain>)).
  returned: always
  type: str
  sample: https://main.d1a2b3c4d5e6f7.amplifyapp.com
"""

# Ansible modules put their documentation before the imports (E402 below is that convention).
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._amplify import (  # noqa: E402
    AmplifyReleaseError,
    ReleaseRequest,
    WaitSettings,
    release,
)
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._module import run_module  # noqa: E402


def build_request(params):
    return ReleaseRequest(
        branch=params["branch"],
        app_name=params["app_name"],
        app_id=params["app_id"],
        source=params["source"],
        artifact_url=params["artifact_url"],
        release_bucket=params["release_bucket"],
        release_prefix=params["release_prefix"],
        wait=WaitSettings(
            wait=params["wait"],
            timeout=params["wait_timeout"],
            interval=params["poll_interval"],
            stuck_job_timeout=params["stuck_job_timeout"],
        ),
    )


def main():
    argument_spec = dict(
        app_name=dict(type="str"),
        app_id=dict(type="str"),
        branch=dict(type="str", required=True),
        source=dict(type="path"),
        artifact_url=dict(type="str"),
        release_bucket=dict(type="str"),
        release_prefix=dict(type="str", default="releases"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        poll_interval=dict(type="float", default=5.0),
        stuck_job_timeout=dict(type="int", default=600),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("app_name", "app_id"), ("source", "artifact_url")],
        required_one_of=[("app_name", "app_id"), ("source", "artifact_url")],
        required_by={"source": "release_bucket"},
    )
    request = build_request(module.params)
    amplify, s3 = retrying_clients(module, "amplify", "s3")

    def log_step(step):
        where = f"{module.params['app_name'] or module.params['app_id']}/{module.params['branch']}"
        module.log(f"amplify_release {where}: {step.status} {step.step or '-'} +{step.elapsed_s}s")

    def perform():
        result = release(amplify, s3, request, module.check_mode, progress=log_step)
        return {**result.as_dict(), "diff": result.diff()}

    run_module(
        module,
        perform,
        (AmplifyReleaseError,),
        f"Amplify or S3 refused a call while releasing to branch {module.params['branch']}: check "
        "the app and branch, the region, the bucket, and that the credentials may call amplify:GetApp, "
        "ListApps, GetBranch, ListJobs, GetJob, StartDeployment, StopJob and s3:HeadObject, PutObject",
    )


if __name__ == "__main__":
    main()
