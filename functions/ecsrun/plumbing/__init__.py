"""What every function needs and no decision depends on: settings parsed from the environment, and the
Powertools logger, metrics and tracer. May import: domain."""
