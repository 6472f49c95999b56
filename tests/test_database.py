"""The Database component (Aurora PostgreSQL), inspected through the offline engine."""

from __future__ import annotations

import pytest

from offline_preview.engine import ProgramError
from platform_common.pulumi_values import is_secret, reveal
from tests.conftest import key_arn, preview, stack_setting, subnet_ids

CLUSTER = "aws:rds/cluster:Cluster"
INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
DATABASE = "platform:components:Database"


@pytest.mark.parametrize(
    ("stack", "count", "instance_class", "retention", "zones"),
    [
        ("dev", 1, "db.serverless", 1, 1),
        ("staging", 2, "db.r7g.large", 7, 2),
        ("prod", 3, "db.r7g.xlarge", 14, 3),
    ],
)
def test_each_stack_gets_the_instances_and_backups_its_profile_asks_for(
    stack, count, instance_class, retention, zones
):
    result = preview(stack)
    [cluster] = result.of_type(CLUSTER)
    instances = result.of_type(INSTANCE)
    assert len(instances) == count
    assert {i.inputs["instanceClass"] for i in instances} == {instance_class}
    # Round-robin over the stack's zones: prod's three instances sit in three zones.
    assert len({i.inputs["availabilityZone"] for i in instances}) == zones
    assert all(i.inputs["clusterIdentifier"] == cluster.id for i in instances)
    assert cluster.inputs["backupRetentionPeriod"] == retention
    assert cluster.inputs["preferredBackupWindow"] == "03:00-04:00"
    assert cluster.inputs["preferredMaintenanceWindow"] == "sun:04:30-sun:05:30"
    assert cluster.inputs["copyTagsToSnapshot"] is True
    assert cluster.inputs["engineVersion"] == "16.8"
    # AWS moves the minor version ahead itself; re-applying the pin would be a downgrade.
    assert cluster.options["ignoreChanges"] == ["engineVersion"]
    assert all(i.inputs["autoMinorVersionUpgrade"] is True for i in instances)
    assert all("engineVersion" not in i.inputs for i in instances)
    assert {i.inputs["preferredMaintenanceWindow"] for i in instances} == {"sun:04:30-sun:05:30"}


def test_dev_runs_serverless_v2_that_may_pause_and_the_others_do_not():
    [dev] = preview("dev").of_type(CLUSTER)
    assert dev.inputs["serverlessv2ScalingConfiguration"] == {"maxCapacity": 2, "minCapacity": 0}
    for stack in ("staging", "prod"):
        [cluster] = preview(stack).of_type(CLUSTER)
        assert "serverlessv2ScalingConfiguration" not in cluster.inputs


def test_storage_secret_and_insights_are_encrypted_with_the_database_key(stack_preview):
    database_key = key_arn(stack_preview, "database")
    [cluster] = stack_preview.of_type(CLUSTER)
    assert cluster.inputs["storageEncrypted"] is True
    assert cluster.inputs["kmsKeyId"] == database_key
    assert cluster.inputs["masterUserSecretKmsKeyId"] == database_key
    for instance in stack_preview.of_type(INSTANCE):
        assert instance.inputs["performanceInsightsEnabled"] is True
        assert instance.inputs["performanceInsightsKmsKeyId"] == database_key


def test_rds_manages_the_master_password_and_iam_authentication_is_on(stack_preview):
    [cluster] = stack_preview.of_type(CLUSTER)
    assert cluster.inputs["manageMasterUserPassword"] is True
    assert "masterPassword" not in cluster.inputs
    assert cluster.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert cluster.inputs["masterUsername"] == "platform_admin"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_managed_master_secret_rotates_on_the_settings_schedule_not_at_creation(stack):
    result = preview(stack)
    [component] = result.of_type(DATABASE)
    rotation = result.named("database-master-secret-rotation").inputs
    assert rotation["secretId"] == component.outputs["secretArn"]
    assert "rotationLambdaArn" not in rotation, "RDS rotates its own secret"
    days = stack_setting(stack, "platform:database").get("masterPasswordRotationDays", 7)
    assert rotation["rotationRules"] == {"automaticallyAfterDays": days}
    assert rotation["rotateImmediately"] is False


def test_the_parameter_group_forces_tls_and_logs_statements(stack_preview):
    [group] = stack_preview.of_type("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    [cluster] = stack_preview.of_type(CLUSTER)
    assert cluster.inputs["dbClusterParameterGroupName"] == group.inputs["name"]
    assert group.inputs["family"] == "aurora-postgresql16"
    parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert parameters["rds.force_ssl"] == "1"
    assert parameters["log_statement"] == "ddl"
    assert parameters["log_min_duration_statement"] == "1000"


def test_instances_are_private_monitored_and_upgrade_minor_versions(stack_preview):
    role = next(
        r
        for r in stack_preview.of_type("aws:iam/role:Role", within=DATABASE)
        if "monitoring.rds.amazonaws.com" in r.inputs["assumeRolePolicy"]
    )
    [attachment] = stack_preview.of_type(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", within=DATABASE
    )
    assert attachment.inputs["policyArn"].endswith(
        ":policy/service-role/AmazonRDSEnhancedMonitoringRole"
    )
    for instance in stack_preview.of_type(INSTANCE):
        assert instance.inputs["publiclyAccessible"] is False
        assert instance.inputs["autoMinorVersionUpgrade"] is True
        assert instance.inputs["monitoringRoleArn"].endswith(f":role/{role.inputs['name']}")
        assert instance.options["dependsOn"] == [attachment.urn]


@pytest.mark.parametrize(
    ("stack", "mode", "retention", "interval"),
    [("prod", "advanced", 465, 15), ("staging", "standard", 7, 60), ("dev", "standard", 7, 60)],
)
def test_database_insights_and_monitoring_follow_the_stack(stack, mode, retention, interval):
    result = preview(stack)
    [cluster] = result.of_type(CLUSTER)
    # Database Insights is the cluster's; advanced needs 15 months of Performance Insights.
    assert cluster.inputs["databaseInsightsMode"] == mode
    assert cluster.inputs["performanceInsightsEnabled"] is True
    assert cluster.inputs["performanceInsightsRetentionPeriod"] == retention
    assert cluster.inputs["performanceInsightsKmsKeyId"] == key_arn(result, "database")
    # Every instance must carry the same Performance Insights settings as the cluster.
    for instance in result.of_type(INSTANCE):
        assert instance.inputs["monitoringInterval"] == interval
        assert instance.inputs["performanceInsightsRetentionPeriod"] == retention


def test_the_retired_performance_insights_setting_points_to_insights():
    database = dict(stack_setting("prod", "platform:database"), performanceInsightsRetentionDays=31)
    with pytest.raises(ProgramError) as failure:
        preview("prod", platform__database=database)
    assert (
        "platform:database.performanceInsightsRetentionDays = 31: Performance Insights' console "
        "was retired into CloudWatch Database Insights; set platform:database.insights instead"
    ) in str(failure.value)


def test_the_cluster_lives_in_the_isolated_subnets(stack_preview):
    [subnet_group] = stack_preview.of_type("aws:rds/subnetGroup:SubnetGroup")
    assert sorted(subnet_group.inputs["subnetIds"]) == subnet_ids(stack_preview, "isolated")
    [cluster] = stack_preview.of_type(CLUSTER)
    assert cluster.inputs["dbSubnetGroupName"] == subnet_group.id


def test_logs_are_exported_to_a_group_created_first_with_retention_and_the_logs_key(
    stack_preview,
):
    [cluster] = stack_preview.of_type(CLUSTER)
    [log_group] = stack_preview.of_type("aws:cloudwatch/logGroup:LogGroup", within=DATABASE)
    assert cluster.inputs["enabledCloudwatchLogsExports"] == ["postgresql"]
    assert log_group.inputs["name"] == f"/aws/rds/cluster/{cluster.id}/postgresql"
    assert log_group.inputs["kmsKeyId"] == key_arn(stack_preview, "logs")
    assert cluster.options["dependsOn"] == [log_group.urn]


def test_only_prod_protects_the_database_and_keeps_it_from_deletion():
    for stack, protected in (("dev", False), ("staging", False), ("prod", True)):
        result = preview(stack)
        [cluster] = result.of_type(CLUSTER)
        assert cluster.inputs["deletionProtection"] is protected
        assert cluster.options["protect"] is protected
        assert all(i.options["protect"] is protected for i in result.of_type(INSTANCE))


def test_a_final_snapshot_with_a_random_unique_name_is_taken_except_in_dev():
    [dev] = preview("dev").of_type(CLUSTER)
    assert dev.inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in dev.inputs
    assert not preview("dev").of_type("random:index/randomId:RandomId", within=DATABASE)
    names = set()
    for stack in ("staging", "prod"):
        result = preview(stack)
        [cluster] = result.of_type(CLUSTER)
        [suffix] = result.of_type("random:index/randomId:RandomId", within=DATABASE)
        assert cluster.inputs["skipFinalSnapshot"] is False
        name = cluster.inputs["finalSnapshotIdentifier"]
        assert name.startswith(f"platform-{stack}-db-final-")
        assert suffix.urn in cluster.property_dependencies["finalSnapshotIdentifier"]
        names.add(name.rsplit("-", 1)[1])
    assert len(names) == 2


def test_the_component_exposes_endpoint_reader_port_secret_and_security_group():
    result = preview("staging")
    [component] = result.of_type(DATABASE)
    outputs = component.outputs
    assert outputs["endpoint"].startswith("platform-staging-db.cluster-")
    assert outputs["readerEndpoint"].startswith("platform-staging-db.cluster-ro-")
    assert outputs["port"] == 5432
    assert ":secretsmanager:" in outputs["secretArn"] and "rds!cluster-" in outputs["secretArn"]
    assert outputs["securityGroupId"] == result.named("database-sg").id
    assert not any(is_secret(v) for v in outputs.values())
    assert reveal(result.outputs["databaseSecretArn"]) == outputs["secretArn"]
