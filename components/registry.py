"""ECR repositories for the app's images: immutable tags, scanned, encrypted, pruned."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class RegistryArgs:
    name_prefix: str
    repositories: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    keep_images: int  # the newest N tagged images are kept, older ones expire
    untagged_expiry_days: int
    protect: bool


class Registry(pulumi.ComponentResource):
    """One repository per image. Tags are immutable, so a tag names one image forever and
    a release can be traced to the digest that ran."""

    repository_urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:Registry", name, None, opts)
        self.repository_urls = {}
        for repository_name in args.repositories:
            resource_name = f"{name}-{repository_name.replace('/', '-')}"
            repository = aws.ecr.Repository(
                resource_name,
                name=f"{args.name_prefix}/{repository_name}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=args.kms_key_arn
                    )
                ],
                # Unprotected stacks may be torn down with their images.
                force_delete=not args.protect,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            aws.ecr.LifecyclePolicy(
                resource_name,
                repository=repository.name,
                policy=json.dumps(lifecycle_policy(args.keep_images, args.untagged_expiry_days)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.repository_urls[repository_name] = repository.repository_url
        self.register_outputs({"repositoryUrls": self.repository_urls})


def lifecycle_policy(keep_images: int, untagged_expiry_days: int) -> dict[str, object]:
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images after {untagged_expiry_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_expiry_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep the newest {keep_images} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_images,
                },
                "action": {"type": "expire"},
            },
        ]
    }
