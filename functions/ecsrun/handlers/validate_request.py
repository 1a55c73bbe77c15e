"""Validate the run request before anything starts; a bad request never reaches ECS."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ecsrun.adapters import clients
from ecsrun.domain import array as arrays
from ecsrun.domain import jsonbounds, limits
from ecsrun.domain.completion import run_summary
from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.base import Model
from ecsrun.domain.models.request import Problem, problems_report, validate_request
from ecsrun.domain.models.run import ResolvedDefinition
from ecsrun.domain.preflight import report as preflight_report
from ecsrun.domain.runtask import price_run, resolve_definition, resolve_run, run_id_for_execution
from ecsrun.domain.secrets import override_values, scrub_document
from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented_answering_bounds, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.account_checks import account_check
from ecsrun.steps.announce import publish_quietly
from ecsrun.steps.preflight import run_preflight

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class ValidateInput(Model):
    request: Any = None
    executionName: str
    executionArn: str


def _inherited(execution_input: Any) -> tuple[ResolvedDefinition | None, str | None]:
    """The task definition an array child's input carries from its parent: (it, None), (None, why it is not
    one), or (None, None) for any other input."""
    given = arrays.child_definition(execution_input)
    if given is None:
        return None, None
    try:
        return ResolvedDefinition.model_validate(given), None
    except ValueError as exc:
        return None, f"not a resolved task definition: {str(exc)[:200]}"


@instrumented_answering_bounds
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = ValidateInput.model_validate(event)
    settings = Settings.from_env()
    # A request nested too deep to walk or with too long an integer is read no further (validate_request says so).
    bounded = jsonbounds.problem(payload.request) is None
    # An array's child: its request is built here from the parent's run (never read from S3), and the task
    # definition the parent resolved comes with it: no child asks ECS again.
    inherited, inherited_problem = _inherited(payload.request) if bounded else (None, None)
    expanded, not_a_child = arrays.expand_child(payload.request) if bounded else (payload.request, None)
    if not_a_child is None:
        payload = payload.model_copy(update={"request": expanded})
    run_id = run_id_for_execution(payload.request, payload.executionName)
    logger.append_keys(runId=run_id, executionArn=payload.executionArn)
    request, problems = validate_request(
        payload.request,
        reveal_secrets=not settings.redact_secrets,
        max_array_size=settings.max_array_size,
        default_timeout_seconds=settings.default_timeout_seconds,
        run_task_shape=wiring.ecs().run_task_input(),
    )
    if not_a_child is not None:
        problems = [*problems, Problem(field=arrays.CHILD_INPUT, message=not_a_child)]
    elif inherited_problem is not None or (
        inherited is not None
        and isinstance(payload.request, dict)
        and inherited.arn != payload.request.get("taskDefinition")
    ):
        message = inherited_problem or "the parent's task definition is not the one the child runs"
        problems = [*problems, Problem(field=f"{arrays.CHILD_INPUT}.parent.definition", message=message)]
    # The runner's own account and Region: those of this function (arn:aws:lambda:REGION:ACCOUNT:function:NAME).
    _, _, _, region, account, *_ = context.invoked_function_arn.split(":")
    described: dict[str, Any] | None = None
    if (
        isinstance(payload.request, dict) and bounded
    ):  # then against the allowlists and the account, for one full answer
        checked = account_check(
            payload.request,
            settings.cluster_patterns,
            settings.family_patterns,
            wiring.ecs(),
            pass_roles=settings.pass_role_patterns,
            region=region,
            account=account,
            described=inherited is not None,
        )
        described = checked.definition
        found = checked.problems
        problems = sorted([*problems, *(Problem(field=f, message=m) for f, m in found)], key=lambda p: p.field)
    if request is None or problems:
        secrets = override_values(payload.request) if settings.redact_secrets else []
        logged = scrub_document([p.model_dump() for p in problems[:100]], secrets)
        logger.info("run request rejected", extra={"problems": logged})
        metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
        return _refuse(payload, run_id, ErrorName.REQUEST_INVALID, problems_report(problems), secrets, settings)
    assert request is not None
    # The preflight: what ECS would fail on after a provisioning cycle, found now (an array's child: its parent's
    # run was checked, so no child asks again).
    checked_definition = described if inherited is None else None
    if settings.preflight == "enabled" and checked_definition is not None and isinstance(payload.request, dict):
        preflight = run_preflight(payload.request, checked_definition, clients.client, region=region, account=account)
        if preflight.unchecked:
            logger.info("preflight: not everything could be checked", extra={"unchecked": preflight.unchecked[:50]})
        if preflight.problems:
            secrets = override_values(payload.request) if settings.redact_secrets else []
            logger.info("run would not start", extra={"problems": scrub_document(preflight.problems[:100], secrets)})
            metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
            report = preflight_report(preflight.problems)
            return _refuse(payload, run_id, ErrorName.REQUEST_WILL_NOT_START, report, secrets, settings)
    run = resolve_run(request, payload.executionName, settings.default_timeout_seconds)
    # What DescribeTaskDefinition said travels with the run: StartTask and PrepareArray do not ask again.
    definition = inherited or (resolve_definition(described, region) if described is not None else None)
    run = price_run(run.model_copy(update={"definition": definition}), described, region)
    answer = {"valid": True, "run": run.model_dump(mode="json"), "executionArn": payload.executionArn}
    if request.array is not None:  # the state machine fans out; the items stay in the execution's input
        answer["array"] = {
            "size": request.array.size or len(request.array.items or []),
            "maxConcurrency": request.maxConcurrency or arrays.DEFAULT_MAX_CONCURRENCY,
            "toleratedFailurePercentage": request.toleratedFailurePercentage or 0,
        }
    return answer


def _refuse(
    payload: ValidateInput,
    run_id: str | None,
    error: ErrorName,
    report: dict[str, Any],
    secrets: list[str],
    settings: Settings,
) -> dict[str, Any]:
    """No task is started: the execution fails with `error` (the cause lists each problem) and the completion event
    says so. Scrubbed of the override values, malformed ones' too (a rule may quote a value it refuses).

    The caller's token is not answered here: an abort can still land before the execution reaches its Fail state,
    and a request with no record has nothing on which two ends could be decided once. ExecutionEnded answers it
    from the end the execution actually had (RunRequest.Invalid, or Run.Aborted)."""
    # The cause of the execution's Fail state: within Step Functions' 32,768 characters, cut structurally.
    report = limits.fit(scrub_document(report, secrets), limits.MAX_CAUSE_CHARS)
    failed = {"runId": run_id, "status": "FAILED", "error": error.value, **report}
    publish_quietly(run_summary(failed, payload.executionArn), wiring.completion_publisher(settings))
    return {"valid": False, "error": error.value, "cause": json.dumps(report)}
