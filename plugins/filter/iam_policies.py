# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The IAM documents the roles write where an AWS service acts for the account, as AWS's guides word them.

- ``service_trust_policy``: a role's trust policy for a service principal (``ecs-tasks.amazonaws.com``,
  ``ecs.amazonaws.com``), limited to this account with ``aws:SourceAccount`` and to the service's own
  resources in this account and Region with ``aws:SourceArn`` (AWS's "Amazon ECS task execution IAM role"
  guide shows this trust policy; IAM's "The confused deputy problem" explains why).
- ``amplify_release_bucket_policy``: the release bucket's policy, letting Amplify Hosting read the
  artifacts for one branch: the ``amplify.amazonaws.com`` principal, ``aws:SourceAccount``, and
  ``aws:SourceArn`` the URL-encoded (percent-encoded) branch ARN, as AWS's Amplify Hosting guide
  "Creating a bucket policy to deploy a static website from S3 using the AWS SDKs" requires.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ansible.errors import AnsibleFilterError

VERSION = "2012-10-17"
AMPLIFY = "amplify.amazonaws.com"


def _arn_parts(arn: str, name: str) -> list[str]:
    parts = str(arn).split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[4].isdigit():
        raise AnsibleFilterError(f"{name} must be an ARN with an account id, got {arn!r}")
    return parts


def service_trust_policy(service: str, account_id: str, partition: str, region: str) -> dict[str, Any]:
    """sts:AssumeRole for ``service``, only on behalf of ``account_id``'s own ``service`` resources in
    ``region`` (``arn:PARTITION:SERVICE-NAMESPACE:REGION:ACCOUNT:*``)."""
    if not str(account_id).isdigit():
        raise AnsibleFilterError(f"account_id must be an AWS account id, got {account_id!r}")
    namespace = str(service).split(".", 1)[0].removesuffix("-tasks")  # ecs-tasks.amazonaws.com -> ecs
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": str(account_id)},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:{namespace}:{region}:{account_id}:*"},
                },
            }
        ],
    }


def amplify_release_bucket_policy(bucket: str, branch_arn: str) -> dict[str, Any]:
    """s3:GetObject on the bucket's objects for Amplify deploying ``branch_arn``, and nothing else."""
    parts = _arn_parts(branch_arn, "branch_arn")
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AmplifyReadsReleases",
                "Effect": "Allow",
                "Principal": {"Service": AMPLIFY},
                "Action": "s3:GetObject",
                "Resource": f"arn:{parts[1]}:s3:::{bucket}/*",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": parts[4],
                        "aws:SourceArn": quote(str(branch_arn), safe=""),
                    }
                },
            }
        ],
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "service_trust_policy": service_trust_policy,
            "amplify_release_bucket_policy": amplify_release_bucket_policy,
        }
