"""The operator's commands against a deployment: smoke, pause, resume, etl-now, teardown, lab bootstrap.

They run on the operator's machine with the operator's AWS credentials (boto3), before `cdk deploy`,
after it or before `cdk destroy`. They read the stack's configuration and names from `stacks/` and the
runtime's names from `pipeline/` and `etl/`, and synthesize nothing.
"""
