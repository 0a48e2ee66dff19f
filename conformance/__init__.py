"""Conformance suite (golden vectors, runtimes, tolerances) and the edge-vs-cloud service. Built in issues 6-7."""
