# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The cost allocation tag audit: find a project's resources and list those missing a required tag.

Read-only, plain Python over boto3 clients (``plugins/modules/tag_audit.py`` is the shell). A resource belongs
to the project when it carries ``Project=<project>`` (found through the Resource Groups Tagging API, and for
IAM roles and Secrets Manager secrets through their own APIs), when it sits in one of the project's VPCs (EC2
resources), or when its name starts with ``<project>-<environment>`` (load balancers, target groups, ECS
clusters and services, IAM roles, the ``/ecs/<project>-<environment>`` log groups) or
``<project>/<environment>`` (ECR repositories, Secrets Manager secrets). The last two find resources created
without any tag, which the Tagging API never returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

REQUIRED_TAGS: tuple[str, ...] = ("Project", "Environment", "Scale", "Component", "ManagedBy")


@dataclass
class Resource:
    resource_id: str  # the EC2 ID, or the ARN
    type: str  # service:resource-type, as the Tagging API names it
    tags: dict[str, str] = field(default_factory=dict)
    arn: str | None = None
    name: str | None = None

    def missing(self, required: Sequence[str]) -> list[str]:
        return [key for key in required if not self.tags.get(key)]

    def as_finding(self, required: Sequence[str]) -> dict[str, Any]:
        return {
            "resource_id": self.resource_id,
            "arn": self.arn,
            "type": self.type,
            "name": self.name,
            "missing": self.missing(required),
        }


def tag_dict(tags: Sequence[dict[str, str]] | None) -> dict[str, str]:
    """AWS's tag lists (``Key``/``Value`` or ECS's ``key``/``value``) as a dict."""
    return {t.get("Key", t.get("key")): t.get("Value", t.get("value", "")) for t in tags or []}


# Services whose ARNs name the resource without its type (arn:aws:sns:REGION:ACCOUNT:TOPIC).
_UNTYPED_ARNS = {"sns": ("topic", "subscription"), "sqs": ("queue", "queue"), "s3": ("bucket", "object")}


def arn_type(arn: str) -> str:
    """``service:resource-type`` from an ARN, e.g. ``ec2:subnet``, ``logs:log-group`` or ``sns:topic``.

    The resource part is ``TYPE/ID``, ``TYPE:ID`` or, for SNS, SQS and S3, the bare name: the type ends at
    whichever of ``/`` and ``:`` comes first (a log group's ``log-group:/ecs/...``, a secret's
    ``secret:PROJECT/ENV/NAME-abc123``). WAFv2's ``regional/webacl/NAME/ID`` is typed by its second part.
    """
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return arn
    service, resource = parts[2], parts[5]
    if service in _UNTYPED_ARNS:
        whole, part = _UNTYPED_ARNS[service]
        separator = "/" if service == "s3" else ":"
        return f"{service}:{part if separator in resource else whole}"
    ends = [i for i in (resource.find("/"), resource.find(":")) if i >= 0]
    kind = resource[: min(ends)] if ends else resource
    if service == "wafv2" and kind in ("regional", "global"):
        kind = resource.split("/")[1] if resource.count("/") >= 1 else kind
    return f"{service}:{kind}"


def arn_resource_id(arn: str) -> str:
    """The EC2 ID of an EC2 ARN (``subnet-0abc``); other ARNs are their own ID."""
    if arn.split(":")[2:3] == ["ec2"] and "/" in arn:
        return arn.rsplit("/", 1)[1]
    return arn


def owned_name(name: str | None, prefix: str) -> bool:
    """``<project>-<environment>`` itself or followed by ``-`` or ``/``; not ``<project>-<environment>2``."""
    return bool(name) and (name == prefix or name.startswith((prefix + "-", prefix + "/")))


def other_environment(tags: dict[str, str], environment: str) -> bool:
    return bool(tags.get("Environment")) and tags["Environment"] != environment


def _pages(call: Any, token_in: str, token_out: str, **request: Any) -> Iterator[dict[str, Any]]:
    while True:
        page = call(**request)
        yield page
        if not page.get(token_out):
            return
        request[token_in] = page[token_out]


class Inventory:
    """Finds a project's resources through the clients given (``ec2``, ``elbv2``, ``ecs``, ``logs``, ``ecr``,
    ``iam``, ``secretsmanager``, ``resourcegroupstaggingapi``)."""

    def __init__(self, clients: dict[str, Any], project: str, environment: str) -> None:
        self.clients = clients
        self.project = project
        self.environment = environment
        self.prefix = f"{project}-{environment}"
        self.path_prefix = f"{project}/{environment}"  # ECR repositories and secrets: PROJECT/ENV/NAME

    def resources(self) -> list[Resource]:
        found: dict[str, Resource] = {}
        sources = (
            self.tagged,
            self.ec2,
            self.load_balancing,
            self.ecs,
            self.log_groups,
            self.repositories,
            self.roles,
            self.secrets,
        )
        for source in sources:
            for resource in source():
                if not other_environment(resource.tags, self.environment):
                    first = found.setdefault(resource.resource_id, resource)
                    first.name = first.name or resource.name  # the Tagging API knows only a Name tag
        return sorted(found.values(), key=lambda r: (r.type, r.resource_id))

    def tagged(self) -> Iterator[Resource]:
        tagging = self.clients["resourcegroupstaggingapi"]
        request = {"TagFilters": [{"Key": "Project", "Values": [self.project]}]}
        for page in _pages(tagging.get_resources, "PaginationToken", "PaginationToken", **request):
            for mapping in page.get("ResourceTagMappingList", []):
                arn = mapping["ResourceARN"]
                tags = tag_dict(mapping.get("Tags"))
                yield Resource(arn_resource_id(arn), arn_type(arn), tags, arn=arn, name=tags.get("Name"))

    def vpc_ids(self) -> list[str]:
        ec2 = self.clients["ec2"]
        by_tag = ec2.describe_vpcs(Filters=[{"Name": "tag:Project", "Values": [self.project]}])["Vpcs"]
        by_name = ec2.describe_vpcs(
            Filters=[{"Name": "tag:Name", "Values": [self.prefix, self.prefix + "-*"]}]
        )
        vpcs = {vpc["VpcId"]: vpc for vpc in [*by_tag, *by_name["Vpcs"]]}
        return sorted(
            i for i, vpc in vpcs.items() if not other_environment(tag_dict(vpc.get("Tags")), self.environment)
        )

    def ec2(self) -> Iterator[Resource]:
        ec2 = self.clients["ec2"]
        vpc_ids = self.vpc_ids()
        if not vpc_ids:
            return
        in_vpcs = [{"Name": "vpc-id", "Values": vpc_ids}]
        for vpc in ec2.describe_vpcs(VpcIds=vpc_ids)["Vpcs"]:
            yield _ec2(vpc["VpcId"], "vpc", vpc)
        for subnet in ec2.describe_subnets(Filters=in_vpcs)["Subnets"]:
            yield _ec2(subnet["SubnetId"], "subnet", subnet)
        for group in ec2.describe_security_groups(Filters=in_vpcs)["SecurityGroups"]:
            if group["GroupName"] != "default":  # made by AWS with the VPC
                yield _ec2(group["GroupId"], "security-group", group)
        for table in ec2.describe_route_tables(Filters=in_vpcs)["RouteTables"]:
            if not any(
                a.get("Main") for a in table.get("Associations", [])
            ):  # the main table comes with the VPC
                yield _ec2(table["RouteTableId"], "route-table", table)
        attached = [{"Name": "attachment.vpc-id", "Values": vpc_ids}]
        for gateway in ec2.describe_internet_gateways(Filters=attached)["InternetGateways"]:
            yield _ec2(gateway["InternetGatewayId"], "internet-gateway", gateway)
        for gateway in ec2.describe_nat_gateways(Filters=in_vpcs)["NatGateways"]:
            if gateway.get("State") not in ("deleting", "deleted", "failed"):
                yield _ec2(gateway["NatGatewayId"], "natgateway", gateway)
        for endpoint in ec2.describe_vpc_endpoints(Filters=in_vpcs)["VpcEndpoints"]:
            if endpoint.get("State", "").lower() not in ("deleting", "deleted"):
                yield _ec2(endpoint["VpcEndpointId"], "vpc-endpoint", endpoint)

    def load_balancing(self) -> Iterator[Resource]:
        elbv2 = self.clients["elbv2"]
        arns: dict[str, tuple[str, str]] = {}
        for page in _pages(elbv2.describe_load_balancers, "Marker", "NextMarker"):
            for balancer in page["LoadBalancers"]:
                if owned_name(balancer["LoadBalancerName"], self.prefix):
                    arns[balancer["LoadBalancerArn"]] = ("loadbalancer", balancer["LoadBalancerName"])
        for page in _pages(elbv2.describe_target_groups, "Marker", "NextMarker"):
            for group in page["TargetGroups"]:
                if owned_name(group["TargetGroupName"], self.prefix):
                    arns[group["TargetGroupArn"]] = ("targetgroup", group["TargetGroupName"])
        listed = list(arns)
        for start in range(0, len(listed), 20):  # DescribeTags takes 20 ARNs at a time
            for description in elbv2.describe_tags(ResourceArns=listed[start : start + 20])[
                "TagDescriptions"
            ]:
                arn = description["ResourceArn"]
                kind, name = arns[arn]
                yield Resource(
                    arn, f"elasticloadbalancing:{kind}", tag_dict(description["Tags"]), arn=arn, name=name
                )

    def ecs(self) -> Iterator[Resource]:
        ecs = self.clients["ecs"]
        cluster_arns = [
            arn
            for page in _pages(ecs.list_clusters, "nextToken", "nextToken")
            for arn in page["clusterArns"]
            if owned_name(arn.rsplit("/", 1)[-1], self.prefix)
        ]
        if not cluster_arns:
            return
        for cluster in ecs.describe_clusters(clusters=cluster_arns, include=["TAGS"])["clusters"]:
            arn = cluster["clusterArn"]
            yield Resource(
                arn, "ecs:cluster", tag_dict(cluster.get("tags")), arn=arn, name=cluster["clusterName"]
            )
            service_arns = [
                service
                for page in _pages(ecs.list_services, "nextToken", "nextToken", cluster=arn)
                for service in page["serviceArns"]
                if owned_name(service.rsplit("/", 1)[-1], self.prefix)
            ]
            for start in range(0, len(service_arns), 10):  # DescribeServices takes 10 at a time
                described = ecs.describe_services(
                    cluster=arn, services=service_arns[start : start + 10], include=["TAGS"]
                )
                for service in described["services"]:
                    yield Resource(
                        service["serviceArn"],
                        "ecs:service",
                        tag_dict(service.get("tags")),
                        arn=service["serviceArn"],
                        name=service["serviceName"],
                    )

    def log_groups(self) -> Iterator[Resource]:
        logs = self.clients["logs"]
        prefix = f"/ecs/{self.prefix}"
        for page in _pages(logs.describe_log_groups, "nextToken", "nextToken", logGroupNamePrefix=prefix):
            for group in page["logGroups"]:
                if not owned_name(group["logGroupName"], prefix):
                    continue
                arn = group["arn"][:-2] if group["arn"].endswith(":*") else group["arn"]
                tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
                yield Resource(arn, "logs:log-group", dict(tags), arn=arn, name=group["logGroupName"])

    def owned(self, name: str | None) -> bool:
        return owned_name(name, self.prefix) or owned_name(name, self.path_prefix)

    def repositories(self) -> Iterator[Resource]:
        """ECR repositories named ``PROJECT/ENV...`` or ``PROJECT-ENV...`` (the Tagging API finds tagged
        ones named otherwise)."""
        ecr = self.clients["ecr"]
        for page in _pages(ecr.describe_repositories, "nextToken", "nextToken"):
            for repository in page["repositories"]:
                if not self.owned(repository["repositoryName"]):
                    continue
                arn = repository["repositoryArn"]
                tags = tag_dict(ecr.list_tags_for_resource(resourceArn=arn).get("tags"))
                yield Resource(arn, "ecr:repository", tags, arn=arn, name=repository["repositoryName"])

    def roles(self) -> Iterator[Resource]:
        """IAM roles named ``PROJECT-ENV...``, and those named ``PROJECT-...`` tagged ``Project=PROJECT`` (IAM
        is global: other environments' roles are told apart by their ``Environment`` tag)."""
        iam = self.clients["iam"]
        for page in _pages(iam.list_roles, "Marker", "Marker"):
            for role in page["Roles"]:
                name = role["RoleName"]
                if not name.startswith(self.project + "-"):
                    continue
                tags = tag_dict(
                    tag
                    for tag_page in _pages(iam.list_role_tags, "Marker", "Marker", RoleName=name)
                    for tag in tag_page["Tags"]
                )
                if owned_name(name, self.prefix) or tags.get("Project") == self.project:
                    yield Resource(role["Arn"], "iam:role", tags, arn=role["Arn"], name=name)

    def secrets(self) -> Iterator[Resource]:
        """Secrets Manager secrets named ``PROJECT/ENV/...`` or ``PROJECT-ENV...``, or tagged
        ``Project=PROJECT``."""
        secretsmanager = self.clients["secretsmanager"]
        searches = (
            [{"Key": "name", "Values": [self.path_prefix, self.prefix]}],
            [{"Key": "tag-key", "Values": ["Project"]}, {"Key": "tag-value", "Values": [self.project]}],
        )
        for filters in searches:
            for page in _pages(secretsmanager.list_secrets, "NextToken", "NextToken", Filters=filters):
                for secret in page["SecretList"]:
                    tags = tag_dict(secret.get("Tags"))
                    if self.owned(secret["Name"]) or tags.get("Project") == self.project:
                        arn = secret["ARN"]
                        yield Resource(arn, "secretsmanager:secret", tags, arn=arn, name=secret["Name"])


def _ec2(resource_id: str, kind: str, description: dict[str, Any]) -> Resource:
    tags = tag_dict(description.get("Tags"))
    return Resource(resource_id, f"ec2:{kind}", tags, name=tags.get("Name"))


def audit(resources: Sequence[Resource], required: Sequence[str] = REQUIRED_TAGS) -> list[dict[str, Any]]:
    """The resources missing any of ``required``, each with what it misses."""
    return [resource.as_finding(required) for resource in resources if resource.missing(required)]
