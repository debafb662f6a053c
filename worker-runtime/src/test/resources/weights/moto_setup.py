"""Fills a moto S3 server for the fetch-weights tests, then turns its authentication on.

    moto_setup.py ENDPOINT BUCKET PREFIX DIR

Uploads every file of DIR under s3://BUCKET/PREFIX/ with boto3 (the shards, *.safetensors, with a
whole-object SHA-256 checksum, the others with only their MD5 ETag), makes an IAM user allowed to
read S3, and prints its access key and secret on one line. From then on moto checks every request's
SigV4 signature against its IAM users, so wrong credentials are refused as AWS refuses them.
"""
import json
import os
import sys
import urllib.request

import boto3

endpoint, bucket, prefix, directory = sys.argv[1:5]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup",
          aws_secret_access_key="setup")
s3 = boto3.client("s3", **kw)
s3.create_bucket(Bucket=bucket)
for name in sorted(os.listdir(directory)):
    extra = {"ChecksumAlgorithm": "SHA256"} if name.endswith(".safetensors") else {}
    with open(os.path.join(directory, name), "rb") as f:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=f.read(), **extra)

iam = boto3.client("iam", **kw)
iam.create_user(UserName="reader")
iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="reader")["AccessKey"]

urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                              headers={"Content-Type": "text/plain"}))
print(key["AccessKeyId"], key["SecretAccessKey"])
