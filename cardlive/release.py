"""`cardlive release`: the main job behind `make release`.

Stages, in order, each printed as it ends:
1. simulate a demo set and its contact sheet (a person looks at it before a release);
2. benchmark the simulator and the models (JSON + table);
3. export the committed weights into a signed bundle with the conformance golden vectors (`quantize.bundle`);
4. verify the bundle (signature, every hash, schema);
5. run the conformance suite on every runtime available here, write the reports and the parity profile into the
   bundle (re-signed with the same key), and verify once more.
The exit code is the conformance suite's: 0 only when every required check passed. Training and evaluation are not
part of the release job (they take longer; the committed weights' cards say how they were made).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from capture_sim.bench import format_table, run_bench, write_report
from capture_sim.capture import SimConfig
from capture_sim.contact_sheet import contact_sheet
from capture_sim.dataset import read_index, simulate
from cardlive.errors import CardliveError
from edge_models.bench import format_model_table, run_model_bench, write_model_report


class ReleaseError(CardliveError):
    """A release stage found a broken bundle."""


def _demo_and_benchmarks(out: Path, quick: bool) -> None:
    demo = out / "demo_set"
    if demo.exists():
        shutil.rmtree(demo)
    n = 9 if quick else 24
    simulate(demo, n, SimConfig(seed=7), workers=2, progress=True)
    sheet = contact_sheet(demo, read_index(demo), out / "contact_sheet.png")
    print(f"[done] simulate: {n} captures in {demo}, contact sheet {sheet}")
    rows = run_bench(pairs=1 if quick else 3, progress=True)
    print(format_table(rows))
    print(f"[done] bench simulate: {write_report(rows, out / 'bench_simulate.json')}")
    model_rows = run_model_bench()
    print(format_model_table(model_rows))
    print(f"[done] bench models: {write_model_report(model_rows, out / 'bench_models.json')}")


def _verify(bundle: Path, when: str) -> None:
    from quantize.manifest import verify_bundle

    problems = verify_bundle(bundle)
    if problems:
        listed = "; ".join(problems[:5])
        raise ReleaseError(f"bundle {bundle} failed verification {when}: {listed}")
    print(f"[done] verify ({when}): signature and every hash of {bundle} check out")


def run_release(out: Path, quick: bool = False, key: Path | None = None) -> int:
    """Run every stage into `out`; returns the conformance suite's exit code."""
    from conformance.golden_io import golden_hook
    from conformance.report import format_table as conformance_table
    from conformance.suite import run_conformance
    from quantize.bundle import export_bundle

    out.mkdir(parents=True, exist_ok=True)
    _demo_and_benchmarks(out, quick)
    bundle = out / "bundle"
    summary = export_bundle(
        bundle,
        key_path=key,
        cache_dir=Path("build/cache/calibration"),
        before_sign=[golden_hook("quick" if quick else "full", progress=True)],
        overwrite=True,
        progress=True,
    )
    signing_key = key or summary["dev_key_path"]
    kind = (
        "a DEVELOPMENT key (pass --key or set CARDLIVE_SIGNING_KEY for a release key)"
        if summary["development_key"]
        else "the release key"
    )
    print(f"[done] export: {bundle} (manifest {summary['manifest']}), signed with {kind}")
    _verify(bundle, "after export")
    result = run_conformance(bundle, out / "conformance", signing_key=signing_key, progress=True)
    print(conformance_table(result))
    for name, path in sorted(result.files.items()):
        print(f"{name}: {path}")
    _verify(bundle, "after the parity profile was added")
    status = "[done] conformance PASSED" if result.passed else "[FAILED] conformance FAILED"
    print(f"{status}: bundle {bundle}, report {out / 'conformance'}")
    return result.exit_code
