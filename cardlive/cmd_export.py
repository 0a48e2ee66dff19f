"""CLI for the release bundle: `cardlive export`, `verify`, `quant-check` (and `bench export`, called from cli.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cardlive.errors import CardliveError, InputError
from cardlive.output import write_json_report

DEFAULT_BUNDLE = Path("build/bundle")
DEFAULT_CACHE = Path("build/cache/calibration")


def _export(args: argparse.Namespace) -> int:
    from quantize.bundle import MODELS, TARGETS, export_bundle, parse_list
    from quantize.calibration import DEFAULT_COUNTS

    models = parse_list(args.models, MODELS, "models")
    targets = parse_list(args.targets, TARGETS, "targets")
    counts = {"recapture": args.calibration_count or DEFAULT_COUNTS["recapture"]}
    counts["ovd"] = args.calibration_sequences or DEFAULT_COUNTS["ovd"]
    result = export_bundle(
        args.out,
        models=models,
        targets=targets,
        key_path=args.key,
        calibration_seed=args.calibration_seed,
        calibration_counts=counts,
        cache_dir=None if args.no_cache else args.cache,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(f"bundle: {args.out} (manifest {result['manifest']})")
    if result["development_key"]:
        print(f"signed with a DEVELOPMENT key ({result['dev_key_path']}); pass --key or set CARDLIVE_SIGNING_KEY")
    for name, report in result["reports"].items():
        for check in report["checks"]:
            detail = f"max |diff| {max(check['max_abs']):.4g}" if check["ran"] else check["reason"]
            print(f"  {name}: {check['path']} on {check['runtime']}: {detail}")
    if args.check_accuracy:
        return _run_check(args.out, args.check_accuracy, args.check_sequences, args.check_report, not args.quiet)
    return 0


def _run_check(bundle: Path, data: Path | None, sequences: Path | None, report: Path, progress: bool) -> int:
    from quantize.accuracy import format_check, quant_check

    folders = {}
    if data is not None:
        folders["recapture"] = data
    if sequences is not None:
        folders["ovd"] = sequences
    if not folders:
        raise InputError("give a labelled folder: --data DIR (single frames) and/or --sequences DIR (tilt sequences)")
    result = quant_check(bundle, folders, progress=progress)
    print(format_check(result))
    write_json_report(report, result)
    print(f"report: {report}")
    return 0 if result["passed"] else 1


def _quant_check(args: argparse.Namespace) -> int:
    return _run_check(args.bundle, args.data, args.sequences, args.report, not args.quiet)


def _verify(args: argparse.Namespace) -> int:
    from quantize.manifest import parse_public_key, read_manifest, verify_bundle

    trusted = parse_public_key(args.public_key.read_bytes()) if args.public_key else None
    problems = verify_bundle(args.bundle, trusted)
    if problems:
        for problem in problems:
            print(f"FAIL {problem}")
        raise CardliveError(f"{args.bundle} failed verification with {len(problems)} problem(s); do not ship it")
    manifest = read_manifest(args.bundle)
    signing = manifest["signing"]
    kind = "DEVELOPMENT key" if signing["development_key"] else "key"
    print(f"OK {args.bundle}: {len(manifest['files'])} files, signature valid ({kind} {signing['key_id']})")
    if args.require_release_key and signing["development_key"]:
        raise CardliveError("the bundle is signed with a development key and --require-release-key was given")
    return 0


def bench_export(bundle: Path, out: Path, repeats: int) -> int:
    """`cardlive bench export`: called from cli.py's bench handler."""
    from quantize.bench import environment, format_export_table, run_export_bench, write_export_report

    if not (bundle / "manifest.json").exists():
        raise InputError(f"no bundle at {bundle}; write one with `cardlive export --out {bundle}`")
    env = environment()
    rows = run_export_bench(bundle, repeats=repeats)
    print(f"{env['cpus']} CPUs visible, load average {env['load_average_1m']:.2f} at the start")
    print(format_export_table(rows))
    print(f"report: {write_export_report(rows, env, out)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser(
        "export",
        help="quantise and export the models into a signed release bundle",
        description="Write a release bundle into --out: per model the fp32 PyTorch weights and card, ONNX fp32 and "
        "int8 (QDQ), LiteRT int8 (plus, for recapture, a copy with MediaPipe image-classifier metadata) and fp16, "
        "CoreML fp16 and int8-weight packages; quantisation reports in reports/; manifest.json (sha256 of every "
        "file, specs, thresholds, I/O) signed with Ed25519 into manifest.sig. The signing key comes from --key, "
        "else $CARDLIVE_SIGNING_KEY (key text or a path), else a development key is generated next to the bundle.",
    )
    ex.add_argument("--out", type=Path, default=DEFAULT_BUNDLE, help=f"bundle folder (default {DEFAULT_BUNDLE})")
    ex.add_argument("--models", default="recapture,ovd", help="comma-separated: recapture, ovd (default both)")
    ex.add_argument("--targets", default="tflite,coreml,onnx", help="comma-separated: tflite, coreml, onnx (all)")
    ex.add_argument("--key", type=Path, default=None, help="Ed25519 private key (PEM or base64 raw) to sign with")
    ex.add_argument("--calibration-seed", type=int, default=None, help="simulator seed of the calibration set")
    ex.add_argument("--calibration-count", type=int, default=None, help="recapture calibration mosaics (256)")
    ex.add_argument("--calibration-sequences", type=int, default=None, help="ovd calibration sequences (32)")
    ex.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="calibration cache folder")
    ex.add_argument("--no-cache", action="store_true", help="render the calibration set even when cached")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing bundle in --out")
    ex.add_argument(
        "--check-accuracy",
        type=Path,
        default=None,
        metavar="DATA_DIR",
        help="after export, run the quant-check on this labelled folder (index.jsonl, single frames)",
    )
    ex.add_argument("--check-sequences", type=Path, default=None, help="labelled tilt sequences for the ovd check")
    ex.add_argument("--check-report", type=Path, default=Path("build/quant_check.json"))
    ex.add_argument("--quiet", action="store_true")
    ex.set_defaults(handler=_export)

    ve = sub.add_parser(
        "verify",
        help="check a release bundle's signature and every file hash",
        description="Verify a bundle: manifest schema, Ed25519 signature over manifest.json, key id, size and "
        "sha256 of every listed file, missing and unlisted files. Prints each problem and exits 1 on any.",
    )
    ve.add_argument("bundle", type=Path, help="bundle folder")
    ve.add_argument("--public-key", type=Path, default=None, help="also require this trusted public key (PEM/base64)")
    ve.add_argument("--require-release-key", action="store_true", help="fail when signed with a development key")
    ve.set_defaults(handler=_verify)

    qc = sub.add_parser(
        "quant-check",
        help="do the quantised variants keep the fp32 decisions on a labelled folder?",
        description="Score a labelled folder (`cardlive simulate` output) with every variant in a bundle and "
        "report decision agreement with fp32 PyTorch and the BPCER100 / worst-species APCER deltas. Passes when "
        "agreement >= 99.5 % and both deltas are within 0.5 percentage points; exits 1 otherwise.",
    )
    qc.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    qc.add_argument("--data", type=Path, default=None, help="labelled single-frame captures (recapture)")
    qc.add_argument("--sequences", type=Path, default=None, help="labelled tilt sequences (ovd)")
    qc.add_argument("--report", type=Path, default=Path("build/quant_check.json"))
    qc.add_argument("--quiet", action="store_true")
    qc.set_defaults(handler=_quant_check)
