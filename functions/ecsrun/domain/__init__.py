"""Pure decisions and models: the request rules, the verdict on a stopped task, the outcome, RunTask arguments,
array planning, log formatting, resumable hashing, error names, S3 key layout.

May import: the standard library and botocore's *model data* (never boto3, a botocore client or
session), and nothing else of ecsrun. Tested without AWS (tests/domain).
"""
