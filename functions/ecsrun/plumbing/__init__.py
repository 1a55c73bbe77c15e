"""What every function needs and no decision depends on: settings parsed from the environment, and the
Powertools logger and metrics, and a subsegment per AWS call for X-Ray. May import: domain."""
