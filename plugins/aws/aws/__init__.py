"""Amazon Web Services: an account's EC2, EBS, VPC, ELBv2, RDS, Lambda, EKS, Auto Scaling
and S3 resources, collected with boto3."""

from .provider import AwsProvider

__all__ = ["AwsProvider"]
