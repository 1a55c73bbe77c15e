"""One module per AWS service, and the only code that calls AWS: DynamoDB (the runs table), ECS, Step Functions
(task-token callbacks), EventBridge, CloudWatch Logs, S3 (the log writer, copy checkpoints, the log archive).
API errors become named domain errors here.

May import: domain and plumbing; never a step, a handler, the CLI or the local engine.
"""
