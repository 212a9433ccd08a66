#!/usr/bin/python
# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: acm_certificate_dns
short_description: Request an ACM certificate validated through DNS, once
version_added: 0.1.0
description:
  - Finds a pending or issued Amazon-issued certificate for exactly O(domain_name) and
    O(subject_alternative_names); requests one with DNS validation when there is none.
  - Returns the DNS records that validate it (RV(validation_records)), to be written to the hosted zone, for
    example with M(amazon.aws.route53). A new certificate is read again until ACM has published them.
  - C(community.aws.acm_certificate) only imports certificates; this module requests them.
author:
  - Macro AI maintainers (@macroai)
options:
  domain_name:
    description:
      - The certificate's main name, for example V(api.example.com).
    type: str
    required: true
  subject_alternative_names:
    description:
      - Further names the certificate covers.
    type: list
    elements: str
    default: []
  tags:
    description:
      - Tags of the certificate. Left alone when unset.
    type: dict
  purge_tags:
    description:
      - Whether tags not in O(tags) are removed.
    type: bool
    default: true
  record_timeout:
    description:
      - Seconds to wait for ACM to publish the validation records of a new certificate.
    type: int
    default: 60
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - macroai.deploy.attributes
  - macroai.deploy.attributes.actiongroup_aws
attributes:
  check_mode:
    support: full
    details:
      - Reads, never writes.
  diff_mode:
    support: none
    details:
      - There is no before and after to show.
  idempotent:
    support: full
    details:
      - The certificate is found again by its names, so a second run reports C(changed=false).
notes:
  - Does not wait for the certificate to be issued; ACM issues it once the records resolve.
"""

EXAMPLES = r"""
- name: Request the API's certificate
  macroai.deploy.acm_certificate_dns:
    domain_name: api.example.com
    tags:
      Project: macroai
  register: api_certificate

- name: Write its validation records
  amazon.aws.route53:
    zone: example.com
    record: "{{ item.name }}"
    type: "{{ item.type }}"
    value: "{{ item.value }}"
    ttl: 300
    overwrite: true
  loop: "{{ api_certificate.validation_records }}"
"""

RETURN = r"""
certificate_arn:
  description: The certificate's ARN; null in check mode when it would be requested.
  returned: always
  type: str
  sample: arn:aws:acm:eu-west-2:123456789012:certificate/0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7
status:
  description: ACM's status, V(PENDING_VALIDATION) or V(ISSUED).
  returned: always
  type: str
  sample: PENDING_VALIDATION
validation_records:
  description: The DNS records that validate the certificate, one per distinct record.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Record name (fully qualified, with the trailing dot).
      type: str
    type:
      description: Record type, V(CNAME).
      type: str
    value:
      description: Record value.
      type: str
"""

# Ansible modules put their documentation before the imports (E402 below is that convention).
import contextlib  # noqa: E402

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._aws import retrying_clients  # noqa: E402
from ansible_collections.macroai.deploy.plugins.module_utils._edge import (  # noqa: E402
    ensure_certificate,
    validation_records,
)

with contextlib.suppress(ImportError):  # AnsibleAWSModule reports a missing botocore
    from botocore.exceptions import BotoCoreError, ClientError


def main():
    argument_spec = dict(
        domain_name=dict(type="str", required=True),
        subject_alternative_names=dict(type="list", elements="str", default=[]),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        record_timeout=dict(type="int", default=60),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    (acm,) = retrying_clients(module, "acm")
    try:
        changed, certificate = ensure_certificate(
            acm,
            params["domain_name"],
            params["subject_alternative_names"],
            params["tags"],
            params["purge_tags"],
            module.check_mode,
            record_timeout=params["record_timeout"],
        )
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(
            e,
            msg=f"ACM refused a call for {params['domain_name']}: check the region and that the credentials "
            "may call acm:ListCertificates, DescribeCertificate, RequestCertificate, ListTagsForCertificate, "
            "AddTagsToCertificate and RemoveTagsFromCertificate",
        )
    certificate = certificate or {}
    output = {
        "changed": changed,
        "certificate_arn": certificate.get("CertificateArn"),
        "status": certificate.get("Status"),
        "validation_records": validation_records(certificate),
    }
    module.exit_json(**output)


if __name__ == "__main__":
    main()
