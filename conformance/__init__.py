"""Conformance suite: golden vectors, runtime parity against the fp32 reference, tolerances, parity profile,
device results, preprocessing golden vectors and reports. Entry point: `conformance.suite.run_conformance`."""
