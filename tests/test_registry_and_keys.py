"""The Registry (ECR) and EncryptionKeys components, inspected through the offline engine."""

from __future__ import annotations

import json

import pytest

from tests.conftest import key_arn, preview

REPOSITORY = "aws:ecr/repository:Repository"
PURPOSES = ["backup", "cache", "database", "eks", "logs", "observability", "registry"]


def test_each_repository_is_immutable_scanned_and_encrypted_with_the_registry_key(
    stack_preview,
):
    repositories = stack_preview.of_type(REPOSITORY)
    assert sorted(r.inputs["name"] for r in repositories) == [
        f"platform-{stack_preview.stack}/chat-api",
        f"platform-{stack_preview.stack}/chat-web",
    ]
    for repository in repositories:
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["encryptionConfigurations"] == [
            {"encryptionType": "KMS", "kmsKey": key_arn(stack_preview, "registry")}
        ]


@pytest.mark.parametrize(("stack", "keep", "untagged"), [("dev", 10, 1), ("prod", 100, 7)])
def test_lifecycle_keeps_the_newest_images_and_expires_untagged_ones(stack, keep, untagged):
    result = preview(stack)
    policies = result.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert sorted(p.inputs["repository"] for p in policies) == sorted(
        r.id for r in result.of_type(REPOSITORY)
    )
    rules = json.loads(policies[0].inputs["policy"])["rules"]
    by_status = {rule["selection"]["tagStatus"]: rule for rule in rules}
    assert by_status["untagged"]["selection"]["countNumber"] == untagged
    assert by_status["any"]["selection"]["countType"] == "imageCountMoreThan"
    assert by_status["any"]["selection"]["countNumber"] == keep
    # ECR requires the rule for any tag status to have the lowest priority.
    assert by_status["any"]["rulePriority"] == max(r["rulePriority"] for r in rules)


def test_only_prod_protects_repositories_and_refuses_to_delete_images():
    for stack, protected in (("dev", False), ("prod", True)):
        for repository in preview(stack).of_type(REPOSITORY):
            assert repository.options["protect"] is protected
            assert repository.inputs["forceDelete"] is (not protected)


def test_the_component_exposes_repository_urls(stack_preview):
    urls = stack_preview.outputs["repositoryUrls"]
    assert urls == {
        name: f"123456789012.dkr.ecr.us-east-1.amazonaws.com/platform-{stack_preview.stack}/{name}"
        for name in ("chat-api", "chat-web")
    }


def test_a_separate_rotating_key_per_purpose_with_an_alias(stack_preview):
    keys = stack_preview.of_type("aws:kms/key:Key", within="platform:components:EncryptionKeys")
    assert sorted(k.inputs["tags"]["purpose"] for k in keys) == PURPOSES
    aliases = {a.inputs["name"]: a for a in stack_preview.of_type("aws:kms/alias:Alias")}
    for purpose in PURPOSES:
        key = stack_preview.named(f"keys-{purpose}")
        assert key.inputs["enableKeyRotation"] is True
        alias = aliases[f"alias/platform-{stack_preview.stack}/{purpose}"]
        assert alias.inputs["targetKeyId"] == key.id


def test_no_key_policy_grants_anything_to_everyone(stack_preview):
    for key in stack_preview.of_type("aws:kms/key:Key"):
        for statement in json.loads(key.inputs["policy"])["Statement"]:
            principal = statement["Principal"]
            assert principal != "*"
            assert principal.get("AWS") != "*"
            if statement["Action"] == "kms:*":
                assert principal == {"AWS": "arn:aws:iam::123456789012:root"}


@pytest.mark.parametrize(("stack", "window"), [("dev", 7), ("staging", 30), ("prod", 30)])
def test_deletion_window_follows_the_stack(stack, window):
    for key in preview(stack).of_type("aws:kms/key:Key"):
        assert key.inputs["deletionWindowInDays"] == window
