"""Conformance reports: terminal table, report.json, JUnit XML (one testcase per check) and the HTML page.

Order everywhere: failures first, then not-run, then passes, then skipped; inside a status, the order checks ran.
JSON is strict (non-finite numbers become null).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from conformance.parity_metrics import ParityMetrics
from conformance.profile import PROFILE_NAME, write_profile

if TYPE_CHECKING:
    from conformance.suite import ConformanceResult

STATUS_ORDER = {"fail": 0, "not-run": 1, "pass": 2, "skipped": 3}


def jsonable(value: Any) -> Any:
    """Replace NaN / inf by None recursively (strict JSON), tuples by lists, paths by strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def ordered(result: ConformanceResult) -> list[Any]:
    return sorted(result.checks, key=lambda c: STATUS_ORDER.get(c.status, 9))


def format_table(result: ConformanceResult, width: int = 118) -> str:
    """Plain-text table: status, check, key numbers; then one verdict line."""
    lines = [f"{'status':8} {'check':62} {'max|d|':>9} {'flip':>6} {'SNR dB':>7} {'s':>6}", "-" * width]
    for c in ordered(result):
        m = c.metrics
        flip = f"{max(t['flip_rate'] for t in m.thresholds.values()):.3f}" if m and m.thresholds else ""
        snr = min((o.snr_db for o in m.outputs if o.snr_db is not None), default=None) if m else None
        cells = (
            f"{m.score_max_abs:9.2e}" if m else " " * 9,
            f"{flip:>6}",
            f"{snr:7.1f}" if snr is not None else " " * 7,
        )
        status = c.status.upper() if c.status == "fail" else c.status
        lines.append(f"{status:8} {c.name[:62]:62} {cells[0]} {cells[1]} {cells[2]} {c.seconds:6.1f}")
        if c.status in ("fail", "not-run"):
            lines.append(f"{'':8}   {c.message[: width - 11]}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items(), key=lambda kv: STATUS_ORDER.get(kv[0], 9)))
    verdict = "PASS" if result.passed else "FAIL"
    lines += ["-" * width, f"{verdict}: {counts} in {result.seconds:.1f} s (bundle {result.bundle})"]
    return "\n".join(lines)


def report_dict(result: ConformanceResult) -> dict[str, Any]:
    return jsonable(
        {
            "schema_version": 1,
            "bundle": str(result.bundle),
            "bundle_version": result.bundle_version,
            "passed": result.passed,
            "exit_code": result.exit_code,
            "seconds": result.seconds,
            "counts": result.counts,
            "checks": [c.to_dict() for c in ordered(result)],
            "parity_profile": result.parity_profile,
        }
    )


def junit_xml(result: ConformanceResult) -> bytes:
    """One <testsuite> per group, one <testcase> per check; fail -> <failure>, not-run / skipped -> <skipped>."""
    root = ET.Element(
        "testsuites",
        name="cardlive conform",
        tests=str(len(result.checks)),
        failures=str(sum(c.failed for c in result.checks)),
        time=f"{result.seconds:.3f}",
    )
    groups: dict[str, ET.Element] = {}
    for c in ordered(result):
        suite = groups.get(c.group)
        if suite is None:
            suite = groups[c.group] = ET.SubElement(root, "testsuite", name=f"conform.{c.group}")
        case = ET.SubElement(suite, "testcase", classname=f"conform.{c.group}", name=c.name, time=f"{c.seconds:.3f}")
        if c.status == "fail":
            failure = ET.SubElement(case, "failure", message=c.message[:500], type="ConformanceFailure")
            failure.text = (
                "\n".join(f"{'ok  ' if d['passed'] else 'FAIL'} {d['check']}: {d['message']}" for d in c.details)
                or c.message
            )
        elif c.status in ("not-run", "skipped"):
            ET.SubElement(case, "skipped", message=c.message[:500])
        else:
            ET.SubElement(case, "system-out").text = c.message
    for suite in groups.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for t in cases if t.find("failure") is not None)))
        suite.set("skipped", str(sum(1 for t in cases if t.find("skipped") is not None)))
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def write_reports(result: ConformanceResult, measured: list[ParityMetrics], folder: Path) -> dict[str, Path]:
    """report.json, junit.xml, report.html, parity_profile.json in `folder`; returns their paths."""
    from conformance.html_report import render_html

    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "json": folder / "report.json",
        "junit": folder / "junit.xml",
        "html": folder / "report.html",
        "profile": folder / PROFILE_NAME,
    }
    files["json"].write_text(json.dumps(report_dict(result), indent=2, allow_nan=False) + "\n")
    files["junit"].write_bytes(junit_xml(result))
    files["html"].write_text(render_html(result, measured))
    if result.parity_profile is not None:
        write_profile(result.parity_profile, files["profile"])
    if result.experiment is not None:
        files["experiment"] = folder / "preprocess_parity.json"
        files["experiment"].write_text(json.dumps(jsonable(result.experiment), indent=2, allow_nan=False) + "\n")
    return files
