"""The model base the run record, runs, tasks, verdicts and log checkpoints are built on."""

from __future__ import annotations

from dataclasses import field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from ecsrun.domain.models.base import Model, ModelError


class Colour(StrEnum):
    RED = "RED"
    BLUE = "BLUE"


class Part(Model):
    name: str
    count: int = 0
    weight: float | None = None


class Thing(Model):
    id: str
    colour: Colour = Colour.RED
    parts: list[Part] = field(default_factory=list)
    main: Part | None = None
    notes: dict[str, list[str]] = field(default_factory=dict)
    extra: Any = None
    flag: bool = False

    @property
    def size(self) -> int:
        return len(self.parts)


def test_a_model_is_built_from_json_data_with_nested_models_enums_lists_and_dicts() -> None:
    # Given JSON data for a nested model, with a key the model does not know
    data = {
        "id": "t1",
        "colour": "BLUE",
        "parts": [{"name": "a", "count": 2}, {"name": "b", "weight": 1}],
        "main": {"name": "m"},
        "notes": {"x": ["1", "2"]},
        "extra": {"anything": [1, None]},
        "unknown": "ignored",
    }
    # When it is validated
    thing = Thing.model_validate(data)
    # Then every field has its type, nested models included, and the unknown key is dropped
    assert thing.colour is Colour.BLUE
    assert thing.parts == [Part(name="a", count=2), Part(name="b", weight=1.0)]
    assert isinstance(thing.parts[1].weight, float)
    assert thing.main == Part(name="m") and thing.size == 2
    assert thing.notes == {"x": ["1", "2"]} and thing.extra == {"anything": [1, None]}
    assert not hasattr(thing, "unknown")
    # And it dumps back to the same data (defaults included), and through JSON to an equal model
    assert thing.model_dump(mode="json") == {
        "id": "t1",
        "colour": "BLUE",
        "parts": [{"name": "a", "count": 2, "weight": None}, {"name": "b", "count": 0, "weight": 1.0}],
        "main": {"name": "m", "count": 0, "weight": None},
        "notes": {"x": ["1", "2"]},
        "extra": {"anything": [1, None]},
        "flag": False,
    }
    assert Thing.model_validate_json(thing.model_dump_json()) == thing


def test_exclude_none_drops_none_fields_of_models_at_every_depth_but_not_inside_plain_data() -> None:
    thing = Thing(id="t", main=Part(name="m"), extra={"k": None})
    assert thing.model_dump(exclude_none=True) == {
        "id": "t",
        "colour": "RED",
        "parts": [],
        "main": {"name": "m", "count": 0},
        "notes": {},
        "extra": {"k": None},
        "flag": False,
    }


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({}, "Thing: "),  # id is required
        ({"id": 5}, "Thing.id: expected str"),
        ({"id": "t", "colour": "GREEN"}, "Thing.colour: 'GREEN' is not one of"),
        ({"id": "t", "parts": {"name": "a"}}, "Thing.parts: expected a list"),
        ({"id": "t", "parts": [{"name": "a", "count": "2"}]}, "Thing.parts[0].count: expected int"),
        ({"id": "t", "parts": [{"name": "a", "count": True}]}, "Thing.parts[0].count: expected int"),
        ({"id": "t", "parts": [{"name": "a", "count": 1.5}]}, "Thing.parts[0].count: expected int"),
        ({"id": "t", "main": "m"}, "Thing.main: expected an object"),
        ({"id": "t", "notes": {"x": "1"}}, "Thing.notes.x: expected a list"),
        ({"id": "t", "flag": "yes"}, "Thing.flag: expected bool"),
        ({"id": "t", "main": {"name": "m", "weight": "heavy"}}, "Thing.main.weight: expected float"),
        ("not an object", "Thing: expected an object, got str"),
    ],
)
def test_data_that_does_not_fit_is_refused_saying_where(data: Any, where: str) -> None:
    with pytest.raises(ModelError) as raised:
        Thing.model_validate(data)
    assert str(raised.value).startswith(where), str(raised.value)


def test_numbers_arrive_as_json_and_dynamodb_give_them() -> None:
    # Given a whole float and DynamoDB's Decimals, Then an int field takes them as ints, a float field as floats
    part = Part.model_validate({"name": "p", "count": Decimal("3"), "weight": Decimal("2.5")})
    assert (part.count, part.weight) == (3, 2.5) and type(part.count) is int
    assert Part.model_validate({"name": "p", "count": 4.0}).count == 4
    with pytest.raises(ModelError):
        Part.model_validate({"name": "p", "count": Decimal("3.5")})
    with pytest.raises(ModelError):
        Part.model_validate({"name": "p", "count": float("nan")})


def test_a_copy_changes_only_what_it_is_told_and_a_deep_copy_shares_nothing() -> None:
    thing = Thing(id="t", parts=[Part(name="a")])
    changed = thing.model_copy(update={"colour": Colour.BLUE})
    assert (changed.colour, thing.colour) == (Colour.BLUE, Colour.RED)
    assert changed.parts is thing.parts
    deep = thing.model_copy(deep=True)
    deep.parts[0].count = 9
    assert thing.parts[0].count == 0


def test_prepare_may_rewrite_the_data_before_the_fields_are_read() -> None:
    class Stamped(Model):
        at: str

        @classmethod
        def _prepare(cls, data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "at": str(data["at"])}

    assert Stamped.model_validate({"at": 12}).at == "12"


def test_a_model_validated_from_itself_is_itself() -> None:
    part = Part(name="p")
    assert Part.model_validate(part) is part
