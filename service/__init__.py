"""The edge-vs-cloud service: re-scores what the app uploaded with the reference model, compares the app's scores
against the parity profile's tolerance bands, stores verdicts, and watches drift and batch fraud across sessions.

Modules: canonical (signing), report (the edge report contract), profile (parity bands), keys (app keys and the
attestation hook), db / store (schema, migrations, transactions), verdict (re-score and compare), fingerprint and
clusters (batch-fraud links), drift, app (HTTP API), client (the signing client used by tools and tests), traffic,
farms and bench (simulated traffic and benchmarks).
"""

DEFAULT_DB = "sqlite:///build/service/cardlive.db"  # here, not in server.py, so the CLI's parser needs no SQLAlchemy
