"""The capture-time pipeline: the reference the iOS / Android SDKs mirror.

frames -> card finder (cardfinder.py; quads.py, references.py) -> quality gates (gates.py, thresholds in gates.json,
calibrated by calibrate.py) -> best K frames and recapture fusion, ovd over the tilt sequence (runner.py, tilt.py)
-> decision accept / reject(screen|print|no_live_hologram) / retry(reason) as a JSON document (decision.py).
CLI: `cardlive capture`, `cardlive evaluate-pipeline`, `cardlive calibrate-gates`, `cardlive bench pipeline|cardfinder`.
"""
