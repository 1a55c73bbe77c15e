"""Lambda entry points: parse the event, call domain code, shape the answer."""
