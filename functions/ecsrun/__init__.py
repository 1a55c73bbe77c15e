"""ecsrun: run one Amazon ECS task from Step Functions, wait without polling, keep its logs."""

__version__ = "0.1.0"
