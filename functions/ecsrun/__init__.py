"""ecsrun: run Amazon ECS tasks from Step Functions without polling, and keep their logs in S3.

One package serves every Lambda function; its folders are its layers, and each may import only the ones below
it (import-linter checks this in `make test`, see pyproject.toml):

    cli/        the `ecsrun` command                         (not deployed)
    local/      the local engine: moto, host processes      (not deployed)
    handlers/   Lambda entry points and their wiring
    steps/      what happens to a run, through the adapters
    adapters/   one module per AWS service: the only code that calls AWS
    plumbing/   settings from the environment, logs/metrics/traces
    domain/     pure decisions and models: no AWS client, no I/O
"""
