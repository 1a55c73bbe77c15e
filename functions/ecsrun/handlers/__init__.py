"""Lambda entry points, one per function: parse the event, call a step, shape the answer. `wiring` builds the
adapters a handler needs from the process's shared clients (the composition root).

May import: steps, adapters, domain, plumbing; never the CLI or the local engine.
"""
