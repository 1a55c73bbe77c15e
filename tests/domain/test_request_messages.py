"""The runner fields' problems, word for word: every message a user can get for runId, timeoutSeconds,
successExitCodes, retry, the array fields, callbackTaskToken and AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.

tests/corpus/runner-field-messages.json was recorded from the validator as it was when these fields were typed
with pydantic; the messages are part of what users see (RunRequest.Invalid's cause, `ecsrun validate`), so
however the fields are checked, each case must give exactly these problems, in this order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ecsrun.domain.models.request import validate_request

CASES = json.loads((Path(__file__).parents[1] / "corpus" / "runner-field-messages.json").read_text())
BASE = {"cluster": "default", "taskDefinition": "td", "launchType": "EC2"}


@pytest.mark.parametrize("case", CASES, ids=[json.dumps(c["request"])[:60] for c in CASES])
def test_each_runner_field_problem_reads_as_recorded(case: dict[str, Any]) -> None:
    # Given a request whose runner fields are as recorded
    # When it is validated
    request, problems = validate_request({**BASE, **case["request"]})
    # Then it is valid or not as recorded, with the same problems, word for word, in the same order
    assert (request is not None) == case["valid"]
    assert [[p.field, p.message] for p in problems] == case["problems"]
