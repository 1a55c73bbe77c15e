"""timeline.svg stays well-formed XML whatever text its labels carry (XML 1.0 forbids most C0 controls)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from ecsrun.cli.timeline import Span, render_svg

CONTROLS = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")


@pytest.mark.parametrize(
    "text", ["\x1b[31mred\x1b[0m", "nul\x00here", CONTROLS, "bell\x07 <&> \"quoted\" 'x'", "\ufffe"]
)
def test_a_control_character_in_any_label_keeps_the_svg_well_formed(text: str) -> None:
    # Given spans whose label and detail (a container's name, an exit reason) and the title carry the character
    spans = [
        Span(kind="container", label=f"container {text}", start=10.0, end=12.5, detail=f"reason {text}"),
        Span(kind="execution", label=text, start=9.0, end=None),
    ]
    # When the timeline is drawn
    svg = render_svg(spans, f"ecsrun local run {text}")
    # Then an XML parser reads it, and the printable text around the character is kept
    root = ET.fromstring(svg)
    labels = [g.get("data-label") or "" for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert any(label.startswith("container ") for label in labels)
    assert "\ufffd" in svg
    if "<&>" in text:
        assert any("<&>" in label for label in labels)
