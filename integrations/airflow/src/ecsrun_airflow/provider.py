"""What Airflow's ProvidersManager reads through the `apache_airflow_provider` entry point: the provider's name,
and where its operator and trigger live (Airflow's provider_info schema)."""

from __future__ import annotations

from typing import Any

INTEGRATION = "ecsrun"


def get_provider_info() -> dict[str, Any]:
    from ecsrun_airflow import __version__

    return {
        "package-name": "ecsrun-airflow",
        "name": "ecsrun",
        "description": "Run Amazon ECS tasks through an ecsrun stack: deferrable, re-attaching on retries, with "
        "the task's logs in the Airflow task log.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://github.com/ecsrun/ecsrun/blob/main/docs/airflow.md",
                "tags": ["aws"],
            }
        ],
        "operators": [{"integration-name": INTEGRATION, "python-modules": ["ecsrun_airflow.operator"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": ["ecsrun_airflow.trigger"]}],
    }
