"""The conformance CLI: `cardlive conform`, `conform-preprocess`, `conform-device-example`, `bench conform`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cardlive.errors import InputError
from cardlive.output import write_json_report

RUNTIMES = ("pytorch", "onnxruntime", "litert", "mediapipe", "coreml")


def _conform(args: argparse.Namespace) -> int:
    from conformance.report import format_table
    from conformance.suite import run_conformance
    from conformance.tolerances import DEFAULT_TOLERANCES

    result = run_conformance(
        args.bundle,
        args.report,
        device_results=args.device_results,
        runtimes=tuple(args.runtimes),
        tolerances_path=args.tolerances or DEFAULT_TOLERANCES,
        calibrate=args.calibrate,
        threads=args.threads,
        progress=not args.quiet,
        signing_key=args.key,
        experiment=not args.no_experiment,
    )
    print(format_table(result))
    for kind, path in sorted(result.files.items()):
        print(f"{kind}: {path}")
    return result.exit_code


def _conform_preprocess(args: argparse.Namespace) -> int:
    from conformance.preprocess_golden import check_candidate, dump_reference

    if args.dump_reference:
        count = dump_reference(args.bundle, args.dump_reference, fmt=args.format)
        print(f"wrote {count} reference tensors to {args.dump_reference}")
        if not args.candidate:
            return 0
    if not args.candidate:
        raise InputError("pass --candidate DIR (tensors dumped by the native implementation) or --dump-reference DIR")
    checks = check_candidate(args.bundle, args.candidate)
    failed = [c for c in checks if not c.passed]
    for c in failed + [c for c in checks if c.passed][: 0 if args.quiet else len(checks)]:
        print(f"{'ok  ' if c.passed else 'FAIL'} {c.frame} {c.model}.{c.output}: {c.message}")
    print(f"{'PASS' if not failed else 'FAIL'}: {len(checks) - len(failed)} of {len(checks)} tensors match")
    return 0 if not failed else 1


def _device_example(args: argparse.Namespace) -> int:
    from conformance.device import write_device_example

    path = write_device_example(args.bundle, args.out, args.runtime, args.precision, args.threads)
    print(f"device results: {path}")
    return 0


def bench_conform(bundle: Path, out: Path, runtimes: tuple[str, ...] = RUNTIMES) -> int:
    """Time the full suite on a bundle (its golden set) against a same-run baseline: the PyTorch reference alone over
    the same vectors. Writes JSON and prints a table; the target is <= 60 s for >= 512 vectors."""
    from conformance.golden_io import golden_models, load_golden
    from conformance.report import format_table
    from conformance.suite import Variant, run_conformance, run_variant

    counts = {m: len(load_golden(bundle, m).rows) for m in golden_models(bundle)}
    start = time.perf_counter()
    baseline = 0.0
    for m in counts:
        golden = load_golden(bundle, m)
        t0 = time.perf_counter()
        run_variant(Variant(m, bundle / "models" / m / f"{m}.pt", "pytorch", "fp32", 1), golden)
        baseline += time.perf_counter() - t0
    result = run_conformance(bundle, out.parent / "conform_report", runtimes=runtimes, progress=True, experiment=False)
    total = time.perf_counter() - start - baseline
    rows = [{"check": c.name, "status": c.status, "seconds": round(c.seconds, 3)} for c in result.checks]
    report = {
        "vectors": counts,
        "total_vectors": sum(counts.values()),
        "suite_seconds": round(result.seconds, 2),
        "wall_seconds": round(total, 2),
        "baseline_pytorch_seconds": round(baseline, 2),
        "ratio_to_baseline": round(result.seconds / baseline, 2) if baseline else None,
        "target_seconds": 60,
        "within_target": result.seconds <= 60 and sum(counts.values()) >= 512,
        "passed": result.passed,
        "checks": rows,
    }
    write_json_report(out, report)
    print(format_table(result))
    print(
        f"{report['total_vectors']} golden vectors ({counts}); suite {report['suite_seconds']} s "
        f"(target <= 60 s: {'met' if report['within_target'] else 'NOT met'}); baseline PyTorch reference alone "
        f"{report['baseline_pytorch_seconds']} s, ratio {report['ratio_to_baseline']}"
    )
    print(f"report: {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    co = sub.add_parser(
        "conform",
        help="conformance suite: do the bundle's models give the reference scores in every runtime?",
        description="Check a release bundle: signature and hashes, golden vectors vs manifest and model card, "
        "end-to-end preprocessing of the stored frames, then every model file on its runtime (PyTorch, ONNX Runtime, "
        "LiteRT with 1 and N threads, MediaPipe Tasks; CoreML only on macOS, otherwise 'not-run: needs macOS') "
        "against the fp32 reference outputs with the tolerances of (model, runtime, precision). Writes a table, "
        "REPORT/report.json, junit.xml, report.html, parity_profile.json, preprocess_parity.json. Exit 0 only when "
        "every required check passes.",
    )
    co.add_argument("bundle", type=Path, help="release bundle folder (from `cardlive export`)")
    co.add_argument(
        "--device-results",
        type=Path,
        nargs="+",
        default=None,
        metavar="FILE",
        help="device result files from app test harnesses (device_results.schema.json)",
    )
    co.add_argument("--report", type=Path, default=Path("build/conform"), help="report folder (default build/conform)")
    co.add_argument(
        "--calibrate",
        action="store_true",
        help="re-measure the tolerances on this bundle and write them to --tolerances first",
    )
    co.add_argument(
        "--runtimes",
        nargs="+",
        choices=RUNTIMES,
        default=list(RUNTIMES),
        help="runtimes to run (others are reported as skipped)",
    )
    co.add_argument("--tolerances", type=Path, default=None, help="tolerances file (default: the committed one)")
    co.add_argument(
        "--threads", type=int, default=None, help="the N of the LiteRT N-thread run (default min(4, cores))"
    )
    co.add_argument(
        "--key",
        type=Path,
        default=None,
        help="signing key: also write parity_profile.json into the bundle and re-sign it",
    )
    co.add_argument("--no-experiment", action="store_true", help="skip the preprocessing-parity experiment")
    co.add_argument("--quiet", action="store_true", help="no progress bar")
    co.set_defaults(handler=_conform)

    cp = sub.add_parser(
        "conform-preprocess",
        help="compare a native preprocessing implementation's tensors with the bundle's preprocessing golden vectors",
        description="Compare tensors dumped by a native (Swift / Kotlin / C++) preprocessing implementation with "
        "BUNDLE/golden/preprocess: DIR/<frame_id>/<model>.<output>.bin raw uint8 (C order, RGB) or .npy. Patches "
        "must be bit-identical, the global view within 1 level; the first differing patch, pixel and value is "
        "reported. --dump-reference DIR writes this machine's reference tensors in the same layout.",
    )
    cp.add_argument("bundle", type=Path)
    cp.add_argument("--candidate", type=Path, default=None, help="folder of dumped tensors")
    cp.add_argument(
        "--dump-reference",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the reference implementation's tensors here (an example of the layout)",
    )
    cp.add_argument("--format", choices=["bin", "npy"], default="bin", help="format for --dump-reference")
    cp.add_argument("--quiet", action="store_true", help="print failures only")
    cp.set_defaults(handler=_conform_preprocess)

    de = sub.add_parser(
        "conform-device-example",
        help="write a device results file by running a bundle's LiteRT models here, as if this were a device",
        description="Run the bundle's RUNTIME/PRECISION model files on the golden vectors on this machine and write "
        "them in the device results format (conformance/schemas/device_results.schema.json).",
    )
    de.add_argument("bundle", type=Path)
    de.add_argument("--out", type=Path, required=True)
    de.add_argument("--runtime", default="litert", choices=["litert", "onnxruntime"])
    de.add_argument("--precision", default="int8", choices=["fp32", "fp16", "int8"])
    de.add_argument("--threads", type=int, default=4)
    de.set_defaults(handler=_device_example)
