"""Read what the local engine needs from template.yaml, so local wiring cannot drift from the deployed one."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Trigger:
    """An EventBridge rule whose target is the state machine, and how the target shapes the execution's input."""

    rule: str
    pattern: dict[str, Any]
    bus: str = "default"
    input_path: str | None = None
    input_transformer: dict[str, Any] | None = None


@dataclass(frozen=True)
class Schedule:
    """An EventBridge Scheduler schedule whose target is the state machine."""

    name: str
    expression: str
    input: str


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

    def triggers(self, references: dict[str, Any], state_machine_arn: str) -> list[Trigger]:
        """Rules that start the state machine: its own EventBridgeRule events (SAM) and any AWS::Events::Rule
        whose target resolves to `state_machine_arn` (as in an example stack that takes the ARN as a parameter)."""
        references = self._typed(references)
        found = []
        for logical_id, resource in self.resources.items():
            props = resource.get("Properties") or {}
            if resource.get("Type") == "AWS::Serverless::StateMachine":
                for name, event in (props.get("Events") or {}).items():
                    if event.get("Type") == "EventBridgeRule":
                        found.append(_trigger(f"{logical_id}{name}", _resolve(event["Properties"], references)))
            elif resource.get("Type") == "AWS::Events::Rule":
                resolved = _resolve(props, references)
                for target in resolved.get("Targets") or []:
                    if target.get("Arn") == state_machine_arn:
                        rule = {"Pattern": resolved["EventPattern"], "EventBusName": resolved.get("EventBusName")}
                        found.append(_trigger(logical_id, {**rule, **target}))
        return found

    def schedules(self, references: dict[str, Any]) -> list[Schedule]:
        """Scheduler schedules that target the state machine (`RunStateMachine`), parameters resolved."""
        references = self._typed(references)
        found = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != "AWS::Scheduler::Schedule":
                continue
            props = resource["Properties"]
            if props["Target"]["Arn"] != {"Ref": "RunStateMachine"}:
                continue
            resolved = _resolve(props, references)
            found.append(Schedule(logical_id, resolved["ScheduleExpression"], resolved["Target"]["Input"]))
        return found

    def _typed(self, references: dict[str, Any]) -> dict[str, Any]:
        """Parameter defaults, then the given values; a CommaDelimitedList value given as "a,b" becomes a list."""
        declared = self.doc.get("Parameters") or {}
        typed = {name: spec["Default"] for name, spec in declared.items() if "Default" in spec}
        typed.update(references)
        for name, spec in declared.items():
            if spec.get("Type") == "CommaDelimitedList" and isinstance(typed.get(name), str):
                typed[name] = [item.strip() for item in typed[name].split(",")]
        return typed

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


def _trigger(rule: str, props: dict[str, Any]) -> Trigger:
    bus = props.get("EventBusName") or "default"
    return Trigger(rule, props["Pattern"], bus, props.get("InputPath"), props.get("InputTransformer"))


def _resolve(node: Any, parameters: dict[str, Any]) -> Any:
    """Ref, Sub and Join over the given parameters; anything it cannot resolve stays as written."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return parameters.get(node["Ref"], node)  # a reference nobody supplied stays a reference
        if set(node) == {"Fn::Sub"}:
            return _sub(node, parameters)
        if set(node) == {"Fn::Join"}:
            delimiter, items = _resolve(node["Fn::Join"], parameters)
            if isinstance(items, list) and all(isinstance(item, str) for item in items):
                return delimiter.join(items)
            return node
        return {k: _resolve(v, parameters) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, parameters) for v in node]
    return node


def _sub(node: dict[str, Any], parameters: dict[str, Any]) -> Any:
    body = node["Fn::Sub"]
    text, variables = (body, {}) if isinstance(body, str) else (body[0], _resolve(body[1], parameters))
    scope = {**parameters, **variables}

    def value(match: re.Match[str]) -> str:
        found = scope.get(match.group(1))
        if isinstance(found, list):
            found = ",".join(found)
        if isinstance(found, (int, float)) and not isinstance(found, bool):
            found = str(found)
        return found if isinstance(found, str) else match.group(0)

    resolved = re.sub(r"\$\{([A-Za-z0-9:._]+)\}", value, text)
    return resolved if "${" not in resolved else node
