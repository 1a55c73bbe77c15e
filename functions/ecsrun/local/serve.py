"""`ecsrun local serve`: the local stack behind an AWS-compatible endpoint on 127.0.0.1.

moto's server runs in this process, on the same backends and patches as the local engine (tooling research: one
process, one set of backends), so a real client — the AWS CLI with `--endpoint-url`, boto3 or Airflow with
`AWS_ENDPOINT_URL` — starts executions of the deployed state machine, which run the deployed handlers with their
IAM and limits checked, puts run requests on the stack's bus, and reads the logs bucket. The stack answers
DescribeStacks with its outputs, as `aws cloudformation describe-stacks` shows them, so `ecsrun start --stack-name
ecsrun-local` and `ecsrun smoke` find its resources. Callers' own calls are not IAM-checked (they are the
account's administrator), as with any AWS account.
"""

from __future__ import annotations

import json
import logging
import socket
import warnings
from typing import Any

from ecsrun.local.runtime import BUCKET, BUS, REGION, STACK, TABLE, LocalAws

DEFAULT_PORT = 4580
# Outputs of template.yaml whose resources the local stack has (no alarm topic, queues or dashboard locally).
LOCAL_OUTPUTS = ("StateMachineArn", "LogsBucketName", "RunsTableName", "EventBusName")


class PortInUse(Exception):
    """The port asked for is taken."""


def check_port(host: str, port: int) -> None:
    """Raise PortInUse if `port` cannot be bound (moto's server thread would otherwise hang on it)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"port {port} on {host} is in use ({exc.strerror}); give another with --port") from exc


class LocalServer:
    """A context: inside it, `endpoint` serves the local stack to AWS clients."""

    def __init__(self, aws: LocalAws, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1"):
        self.aws = aws
        self.host, self.port = host, port
        self.endpoint = ""
        self._server: Any = None

    def __enter__(self) -> LocalServer:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        check_port(self.host, self.port)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
        self._create_stack()
        self.aws.route_put_events()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.stop()

    def _create_stack(self) -> None:
        """A CloudFormation stack named like the local stack whose outputs are the local resources."""
        outputs = {o["OutputKey"]: {"Value": o["OutputValue"], "Description": o["Description"]} for o in self.outputs()}
        template = {
            "Resources": {"LocalStack": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": outputs,
        }
        with warnings.catch_warnings():  # moto creates no resource for the handle, and says so: nothing needs one
            warnings.simplefilter("ignore", UserWarning)
            self.aws.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))

    def outputs(self) -> list[dict[str, str]]:
        """template.yaml's outputs that exist locally, with their local values."""
        declared = self.aws.template.doc.get("Outputs") or {}
        values = {
            "StateMachineArn": self.aws.state_machine_arn,
            "LogsBucketName": BUCKET,
            "RunsTableName": TABLE,
            "EventBusName": BUS,
        }
        return [
            {"OutputKey": key, "OutputValue": values[key], "Description": str(declared[key].get("Description", ""))}
            for key in LOCAL_OUTPUTS
            if key in declared
        ]

    def describe_stacks(self) -> dict[str, Any]:
        """The stack as `aws cloudformation describe-stacks --stack-name ecsrun-local` shows it."""
        described = self.aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
        stack = {k: described[k] for k in ("StackName", "StackId", "StackStatus") if k in described}
        return {"Stacks": [{**stack, "Outputs": described.get("Outputs", [])}]}

    def environment(self) -> dict[str, str]:
        """What a client needs to reach the local stack (any credentials will do; these are moto's)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
