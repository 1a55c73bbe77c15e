"""Read what the local engine needs from template.yaml, so local wiring cannot drift from the deployed one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (!Ref, !Sub, !GetAtt …) kept as data."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


class Template:
    def __init__(self, path: Path):
        self.path = path
        self.root = path.parent
        self.doc: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.doc.get("Resources", {}))

    def parameter_default(self, name: str) -> Any:
        return self.doc.get("Parameters", {}).get(name, {}).get("Default")

    def functions(self) -> dict[str, str]:
        """Logical id → handler path, for every AWS::Serverless::Function."""
        return {
            logical_id: resource["Properties"]["Handler"]
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == "AWS::Serverless::Function"
        }

    def state_machine(self) -> tuple[str, dict[str, Any]]:
        """(ASL text, DefinitionSubstitutions) of the one state machine."""
        for resource in self.resources.values():
            if resource.get("Type") == "AWS::Serverless::StateMachine":
                props = resource["Properties"]
                return (self.root / props["DefinitionUri"]).read_text(), dict(props.get("DefinitionSubstitutions", {}))
        raise LookupError("template.yaml has no AWS::Serverless::StateMachine")

    def event_rules(self, references: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        """(pattern, function logical id) for every function with an EventBridge rule, !Refs resolved."""
        rules = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            for event in (resource["Properties"].get("Events") or {}).values():
                if event.get("Type") == "EventBridgeRule":
                    rules.append((_resolve(event["Properties"]["Pattern"], references), logical_id))
        return rules

    def event_pattern(self, source: str, references: dict[str, Any]) -> dict[str, Any]:
        """The first rule pattern in the template that matches `source`, with !Refs resolved."""
        for pattern, _ in self.event_rules(references):
            if source in (pattern.get("source") or []):
                return pattern
        raise LookupError(f"template.yaml has no event pattern for source {source!r}")

    def table_definition(self, logical_id: str) -> dict[str, Any]:
        """The CreateTable arguments (keys, attributes, indexes) of a DynamoDB table in the template."""
        props = self.resources[logical_id]["Properties"]
        keys = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")
        return {"BillingMode": "PAY_PER_REQUEST", **{k: props[k] for k in keys if k in props}}


def _resolve(node: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return parameters.get(node["Ref"], node)  # a reference nobody supplied stays a reference
        return {k: _resolve(v, parameters) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, parameters) for v in node]
    return node
