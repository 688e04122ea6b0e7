"""A small AWS estate built in moto through boto3, as an operator would build it.

One of everything the aws:aws plugin reads, wired together so every relationship it
emits has something to point at: a VPC with two subnets and a security group, two
web instances behind an ALB (target group), an Auto Scaling group of two, an EBS
volume attached to a web instance, an RDS instance, a Lambda function and an EKS
cluster in the VPC, and an S3 bucket. Also smaller estates, and IAM users allowed
only some actions (``reader``) for the tests of denied APIs.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field

from emulators.moto import MotoServer

AMI = "ami-12c6146b"  # one of moto's built-in images
READ_EC2 = ["ec2:Describe*", "sts:GetCallerIdentity"]
"""What an IAM user needs to read EC2 and to say who it is."""


def reader(moto: MotoServer, actions: list[str]) -> dict[str, str]:
    """An IAM user allowed only ``actions``; its keys as connection_config."""
    iam = moto.client("iam")
    name = f"reader-{len(actions)}"
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"username": key["AccessKeyId"], "password": key["SecretAccessKey"]}


@dataclass
class Estate:
    """The ids and ARNs of what ``build`` made."""

    region: str
    vpc: str
    subnets: list[str]
    security_group: str
    web: list[str]
    workers: list[str]
    volume: str
    load_balancer: str
    target_group: str
    auto_scaling_group: str
    database: str
    function: str
    cluster: str
    bucket: str
    extra: dict[str, str] = field(default_factory=dict)


def build(moto: MotoServer, region: str = "us-east-1", prefix: str = "") -> Estate:
    ec2 = moto.client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": f"{prefix}production"}])
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=f"{region}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=f"{prefix}web", Description="web tier", VpcId=vpc)[
        "GroupId"
    ]
    web = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId=AMI,
            MinCount=2,
            MaxCount=2,
            InstanceType="t3.large",
            SubnetId=subnets[0],
            SecurityGroupIds=[group],
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [
                        {"Key": "Name", "Value": f"{prefix}web"},
                        {"Key": "team", "Value": "shop"},
                    ],
                }
            ],
        )["Instances"]
    ]
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=50, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=web[0], Device="/dev/sdf")

    autoscaling = moto.client("autoscaling", region)
    autoscaling.create_launch_configuration(
        LaunchConfigurationName=f"{prefix}workers", ImageId=AMI, InstanceType="t3.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=f"{prefix}workers",
        LaunchConfigurationName=f"{prefix}workers",
        MinSize=2,
        MaxSize=4,
        DesiredCapacity=2,
        VPCZoneIdentifier=subnets[1],
    )
    asg = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{prefix}workers"])[
        "AutoScalingGroups"
    ][0]

    elb = moto.client("elbv2", region)
    balancer = elb.create_load_balancer(
        Name=f"{prefix}web-lb", Subnets=subnets, SecurityGroups=[group]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    target_group = elb.create_target_group(
        Name=f"{prefix}web-tg", Protocol="HTTP", Port=80, VpcId=vpc
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=target_group, Targets=[{"Id": i} for i in web])
    elb.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )

    rds = moto.client("rds", region)
    rds.create_db_subnet_group(
        DBSubnetGroupName=f"{prefix}db", DBSubnetGroupDescription="db", SubnetIds=subnets
    )
    database = rds.create_db_instance(
        DBInstanceIdentifier=f"{prefix}orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="orders",
        MasterUserPassword="orders-password",
        AllocatedStorage=20,
        DBSubnetGroupName=f"{prefix}db",
        VpcSecurityGroupIds=[group],
    )["DBInstance"]["DBInstanceArn"]

    iam = moto.client("iam", region)
    role = iam.create_role(
        RoleName=f"{prefix}{region}-lambda", AssumeRolePolicyDocument=json.dumps({})
    )["Role"]["Arn"]
    function = moto.client("lambda", region).create_function(
        FunctionName=f"{prefix}thumbnailer",
        Runtime="python3.11",
        Role=role,
        Handler="main.handler",
        Code={"ZipFile": _zip("def handler(event, context):\n    return event\n")},
        MemorySize=256,
        VpcConfig={"SubnetIds": [subnets[0]], "SecurityGroupIds": [group]},
    )["FunctionArn"]
    cluster = moto.client("eks", region).create_cluster(
        name=f"{prefix}platform",
        roleArn=role,
        resourcesVpcConfig={"subnetIds": subnets, "securityGroupIds": [group]},
    )["cluster"]["arn"]

    bucket = f"{prefix}estate-artifacts-{region}"
    s3 = moto.client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    return Estate(
        region=region,
        vpc=vpc,
        subnets=subnets,
        security_group=group,
        web=web,
        workers=[i["InstanceId"] for i in asg["Instances"]],
        volume=volume,
        load_balancer=balancer,
        target_group=target_group,
        auto_scaling_group=asg["AutoScalingGroupARN"],
        database=database,
        function=function,
        cluster=cluster,
        bucket=bucket,
    )


def small(moto: MotoServer, region: str = "us-east-1") -> tuple[str, str]:
    """One instance and one bucket in ``region``: their id and name."""
    (instance,) = moto.client("ec2", region).run_instances(ImageId=AMI, MinCount=1, MaxCount=1)[
        "Instances"
    ]
    bucket = f"small-{region}"
    s3 = moto.client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    return instance["InstanceId"], bucket


def run_instances(
    moto: MotoServer, total: int, per_call: int, region: str = "us-east-1"
) -> set[str]:
    """``total`` instances in calls of ``per_call`` (one reservation each); their ids."""
    ec2 = moto.client("ec2", region)
    made: set[str] = set()
    while len(made) < total:
        count = min(per_call, total - len(made))
        answer = ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count)
        made.update(i["InstanceId"] for i in answer["Instances"])
    return made


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", source)
    return buffer.getvalue()
