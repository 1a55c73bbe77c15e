"""The local engine: the real ASL and the real handlers on moto, with containers run as host processes.

A development tool only. It stands in for AWS (ECS, EventBridge, Lambda's runtime) and nothing
else: every decision about a run is made by the same handlers that run in Lambda.

May import: handlers (by name, at run time), adapters, domain, plumbing; never the CLI.
"""
