"""The few modules that talk to AWS. Clients are injectable; `ClientError` becomes a domain error here."""
