"""ecsrun from Airflow: `EcsRunOperator` runs an ECS task through an ecsrun stack.

The operator and its trigger are imported on first use (PEP 562), so the pure parts (`from_ecs_operator_kwargs`,
the run names, reading a run's end) import without Airflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecsrun_airflow.request import from_ecs_operator_kwargs

if TYPE_CHECKING:
    from ecsrun_airflow.operator import EcsRunOperator
    from ecsrun_airflow.trigger import EcsRunTrigger

__version__ = "0.1.0"
__all__ = ["EcsRunOperator", "EcsRunTrigger", "__version__", "from_ecs_operator_kwargs"]


def __getattr__(name: str) -> Any:
    if name == "EcsRunOperator":
        from ecsrun_airflow.operator import EcsRunOperator

        return EcsRunOperator
    if name == "EcsRunTrigger":
        from ecsrun_airflow.trigger import EcsRunTrigger

        return EcsRunTrigger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
