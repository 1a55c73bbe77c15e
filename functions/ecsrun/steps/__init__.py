"""What happens to a run, one module per step: start, settle, stop, abort, reconcile, retry, finish (copy logs,
write the manifest, record the outcome), arrays, and the account checks of a request.

Steps decide with domain/ and act through adapters/ objects passed in, so the same step serves a Lambda
handler, the reconciler and the local engine. May import: domain, plumbing, adapters.
"""
