"""CLI of the capture pipeline: `cardlive capture`, `cardlive evaluate-pipeline`, `cardlive glare-pairs`,
`cardlive calibrate-gates`, `cardlive calibrate-hologram`, `cardlive train-cardmask`, and the `bench pipeline` /
`bench cardfinder` targets (dispatched from cli._bench)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cardlive.errors import ParameterError
from cardlive.output import write_json_report

# the committed weights, named here so that building the parser does not import torch (edge_models.weights does)
DEFAULT_RECAPTURE = Path(__file__).parents[1] / "edge_models" / "weights" / "recapture.pt"
DEFAULT_OVD = DEFAULT_RECAPTURE.with_name("ovd.pt")
STRICTNESS_HELP = (
    "gate and hologram thresholds: strict, normal or relaxed (default normal; see gates.json and hologram.json in "
    "edge_models/pipeline/)"
)


def _capture(args: argparse.Namespace) -> int:
    from edge_models.pipeline.preview import write_preview
    from edge_models.pipeline.runner import CapturePipeline, Models
    from edge_models.pipeline.sources import read_frame_folder, read_video

    if (args.frames is None) == (args.video is None):
        raise ParameterError("pass exactly one of --frames DIR or --video FILE")
    if args.preview is not None and args.preview.suffix.lower() not in (".mp4", ".avi", ".gif"):
        raise ParameterError(f"--preview {args.preview}: expected a .mp4, .avi or .gif file name")
    frames, names = read_frame_folder(args.frames) if args.frames else read_video(args.video)
    models = Models.load(args.model, args.ovd_model) if args.model else Models.load()
    decision = CapturePipeline(models, args.strictness, args.best_k).run(frames)
    doc = decision.to_json()
    if args.json:
        print(json.dumps(doc))
    else:
        for name, record in zip(names, decision.frames, strict=True):
            failed = [f"{g}: {r.reason}" for g, r in record.gates.items() if not r.passed]
            status = "ok" if record.usable else "; ".join(failed)
            score = "" if record.attack_score is None else f"  P(attack) {record.attack_score:.3f}"
            print(f"{name}: {status}{score}")
        fused = doc["fused"]
        attack = "-" if fused["attack_score"] is None else f"{fused['attack_score']:.3f}"
        ovd = "-" if fused["ovd_score"] is None else f"{fused['ovd_score']:.3f}"
        reason = f" ({decision.reason})" if decision.reason else ""
        print(f"decision: {decision.outcome}{reason}: {decision.message}")
        print(f"fused recapture attack {attack}, ovd attack {ovd}, tilt coverage {fused['tilt_coverage_deg']:.1f} deg")
        holo = fused["hologram"]
        if holo is not None:
            value = "-" if holo["statistic"] is None else f"{holo['statistic']:.2f}"
            state = "seen" if holo["seen"] else "not seen"
            print(f"hologram response {value} (threshold {holo['threshold']}): {state}")
    if args.preview is not None:
        print(f"preview: {write_preview(frames, decision, args.preview)}")
    return 0


def _evaluate_pipeline(args: argparse.Namespace) -> int:
    from edge_models.pipeline.evaluate import evaluate_pipeline
    from edge_models.pipeline.runner import Models

    models = Models.load(args.model, args.ovd_model)
    result = evaluate_pipeline(
        args.data, args.report, args.strictness, args.limit, not args.quiet, models, frozen_ovd=args.frozen_ovd
    )
    print(format_summary(result))
    print(f"report: {args.report / 'report.json'}")
    return 0


def format_summary(result: dict[str, object]) -> str:
    summary = result["summary"]
    assert isinstance(summary, dict)
    lines = [f"{result['n']} sequences, strictness {result['strictness']}"]
    for source in ("finder", "true_quads"):
        lines.append(
            f"\n[{source}] {'class':<28}{'n':>4}{'accept':>8}{'reject':>8}{'retry':>7}{'correct':>9}{'reason':>8}"
        )
        for name, c in summary[source]["classes"].items():
            lines.append(
                f"{'':<{len(source) + 3}}{name:<28}{c['n']:>4}{c['accept']:>8.2f}{c['reject']:>8.2f}{c['retry']:>7.2f}"
                f"{c['correct_outcome']:>9.2f}{c['correct_reason']:>8.2f}"
            )
        glare = summary[source]["genuine_by_glare"]
        lines.append(
            "  genuine accepted: "
            + ", ".join(f"{g} {v['accepted']} (n={v['n']})" for g, v in glare.items())
            + f"; retry reasons {summary[source]['retry_reasons']}"
        )
    lines.append(f"card finder: {summary['finder_frames_within_1.5pct']:.3f} of frames within 1.5 % of the diagonal")
    return "\n".join(lines)


def _glare_pairs(args: argparse.Namespace) -> int:
    from edge_models.pipeline.glare_pairs import compare_glare_pairs, format_glare_pairs, plot_glare_pairs

    result = compare_glare_pairs(args.with_glare, args.without_glare)
    print(format_glare_pairs(result))
    if args.plot:
        print(f"plot: {plot_glare_pairs(result, args.plot)}")
    if args.out:
        write_json_report(args.out, result)
        print(f"report: {args.out}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from edge_models.pipeline.calibrate import calibrate
    from edge_models.pipeline.gates import SPEC_PATH

    doc = calibrate(args.data, args.limit, args.out or SPEC_PATH, progress=not args.quiet)
    print(json.dumps(doc["levels"], indent=2))
    print(f"spec: {args.out or SPEC_PATH}")
    return 0


def _calibrate_hologram(args: argparse.Namespace) -> int:
    from edge_models.pipeline.hologram import SPEC_PATH
    from edge_models.pipeline.hologram_calibrate import calibrate

    if args.limit is not None and args.limit < 1:
        raise ParameterError("--limit must be at least 1")
    out = args.out or SPEC_PATH
    doc = calibrate(args.data, args.limit, out, progress=not args.quiet)
    print(json.dumps({"levels": doc["levels"], "passing": doc["calibration"]["passing"]}, indent=2))
    print(f"spec: {out}")
    return 0


def _train_cardmask(args: argparse.Namespace) -> int:
    from edge_models.pipeline.cardmask import WEIGHTS_PATH, train_cardmask

    if args.epochs < 1 or args.batch < 1:
        raise ParameterError("--epochs and --batch must be at least 1")
    record = train_cardmask(args.data, args.out or WEIGHTS_PATH, args.epochs, args.seed, args.batch, args.limit)
    print(json.dumps({k: v for k, v in record.items() if k != "train_loss"}, indent=2))
    print(f"weights: {args.out or WEIGHTS_PATH}")
    return 0


def bench_target(args: argparse.Namespace) -> int:
    """`cardlive bench pipeline|cardfinder` (called from cli._bench)."""
    if args.target == "pipeline":
        from edge_models.pipeline.bench import format_pipeline_table, run_pipeline_bench, write_report

        result = run_pipeline_bench(seed=args.seed, frames=args.pairs)
        print(format_pipeline_table(result))
        out = args.out if args.out.name != "simulate.json" else Path("build/bench/pipeline.json")
        print(f"report: {write_report(result, out)}")
        return 0
    from edge_models.pipeline.bench import write_report
    from edge_models.pipeline.evaluate import evaluate_cardfinder

    result = evaluate_cardfinder(args.seed, args.n, args.no_card, progress=not args.quiet, frames=args.frames)
    for key, value in result.items():
        print(f"{key:<24}{value}")
    out = args.out if args.out.name != "simulate.json" else Path("build/bench/cardfinder.json")
    print(f"report: {write_report(result, out)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    cap = sub.add_parser(
        "capture",
        help="run the capture pipeline on frames or a video: per-frame gates, scores and the decision",
        description="Run the capture-time pipeline (card finder, quality gates, best-frame recapture fusion, ovd over "
        "the tilt sequence) on a folder of frames (name order) or a video, print per-frame status and the decision "
        "accept / reject(screen|print|no_live_hologram) / retry(reason); --json prints the decision document the app "
        "logs; --preview writes the annotated frames.",
    )
    cap.add_argument("--frames", type=Path, default=None, help="folder of frames (jpg/png/...), sorted by name")
    cap.add_argument("--video", type=Path, default=None, help="video file (any container OpenCV decodes)")
    cap.add_argument("--json", action="store_true", help="print the decision document as one JSON line")
    cap.add_argument("--preview", type=Path, default=None, help="write annotated frames to OUT.mp4, OUT.avi or OUT.gif")
    cap.add_argument("--strictness", choices=["strict", "normal", "relaxed"], default="normal", help=STRICTNESS_HELP)
    cap.add_argument("--best-k", type=int, default=3, help="frames fused by the recapture model (default 3)")
    cap.add_argument("--model", type=Path, default=None, help="recapture weights (default: the committed ones)")
    cap.add_argument(
        "--ovd-model",
        type=Path,
        default=DEFAULT_OVD,
        help="ovd weights used with --model (default: the committed ones)",
    )
    cap.set_defaults(handler=_capture)

    ev = sub.add_parser(
        "evaluate-pipeline",
        help="end-to-end decision accuracy of the capture pipeline on simulated tilt sequences",
        description="Run the capture pipeline on every tilt sequence of DATA (`cardlive simulate --frames 8`), with "
        "the card finder and with the true quads: accept / reject / retry shares and correct decisions per class and "
        "species, genuine acceptance by glare (free / away from the fields / on the fields); "
        "writes REPORT/report.json.",
    )
    ev.add_argument("--data", type=Path, required=True, help="folder with index.jsonl of tilt sequences; several: A,B")
    ev.add_argument("--report", type=Path, default=Path("build/eval_pipeline"))
    ev.add_argument("--strictness", choices=["strict", "normal", "relaxed"], default="normal", help=STRICTNESS_HELP)
    ev.add_argument("--limit", type=int, default=None, help="only the first N sequences")
    ev.add_argument("--model", type=Path, default=DEFAULT_RECAPTURE, help="recapture weights (default: committed)")
    ev.add_argument("--ovd-model", type=Path, default=DEFAULT_OVD, help="ovd weights (default: the committed ones)")
    ev.add_argument(
        "--frozen-ovd",
        action="store_true",
        help="also run every genuine sequence with its OVD frozen at one frame (species frozen_ovd: the attack the "
        "hologram check exists for; it must never be accepted)",
    )
    ev.add_argument("--quiet", action="store_true")
    ev.set_defaults(handler=_evaluate_pipeline)

    gp = sub.add_parser(
        "glare-pairs",
        help="paired test: does laminate glare cost genuine acceptances (same sequences with and without it)",
        description="Compare two evaluate-pipeline reports of the same genuine sequences, one rendered normally and "
        "one with `cardlive simulate --no-laminate-glare` (same seed, species and count): acceptance with and "
        "without the highlight per glare group, the sequences lost and gained, and an exact McNemar p-value.",
    )
    gp.add_argument("--with-glare", type=Path, required=True, help="evaluate-pipeline report (folder or JSON)")
    gp.add_argument("--without-glare", type=Path, required=True, help="the same sequences rendered without glare")
    gp.add_argument("--out", type=Path, default=None, help="also write the comparison as JSON")
    gp.add_argument("--plot", type=Path, default=None, help="also draw acceptance with / without glare as a PNG")
    gp.set_defaults(handler=_glare_pairs)

    cal = sub.add_parser(
        "calibrate-gates",
        help="re-derive the quality-gate thresholds from simulated frames",
        description="Measure the gates at the true quads of simulated folders and derive strict / normal / relaxed "
        "thresholds by the rules in edge_models/pipeline/calibrate.py; writes the spec "
        "(default: the shipped gates.json).",
    )
    cal.add_argument("--data", type=Path, action="append", required=True, help="simulated folder (repeatable)")
    cal.add_argument("--limit", type=int, default=320, help="frames measured per folder (default 320)")
    cal.add_argument("--out", type=Path, default=None, help="spec file to write (default: the shipped gates.json)")
    cal.add_argument("--quiet", action="store_true")
    cal.set_defaults(handler=_calibrate)

    ch = sub.add_parser(
        "calibrate-hologram",
        help="re-derive the hologram response thresholds from simulated tilt sequences",
        description="Measure the hologram check's response statistic (edge_models/pipeline/hologram.py) on the "
        "genuine sequences of DATA, on the same sequences with their OVD frozen at one frame, and on the static "
        "attacks, at the true quads; derive strict / normal / relaxed thresholds by the rules in "
        "edge_models/pipeline/hologram_calibrate.py and write the spec (default: the shipped hologram.json).",
    )
    ch.add_argument("--data", type=Path, action="append", required=True, help="tilt-sequence folder (repeatable)")
    ch.add_argument("--limit", type=int, default=None, help="only the first N sequences over all folders")
    ch.add_argument("--out", type=Path, default=None, help="spec file to write (default: the shipped hologram.json)")
    ch.add_argument("--quiet", action="store_true")
    ch.set_defaults(handler=_calibrate_hologram)

    tm = sub.add_parser(
        "train-cardmask",
        help="train the card finder's tiny learned card mask on simulated frames",
        description="Train the card mask model (edge_models/pipeline/cardmask.py) that adds candidates to the "
        "classical card finder, on every capture of each DATA folder (`cardlive simulate` output; a sequence gives its "
        "first and last frame; never the bench's seed 900); writes OUT and OUT.json (default: the committed weights).",
    )
    tm.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="simulated folder with index.jsonl and true quads (repeatable; sequences give their first and last frame)",
    )
    tm.add_argument("--out", type=Path, default=None, help="weights file (default: edge_models/weights/cardmask.pt)")
    tm.add_argument("--epochs", type=int, default=16, help="epochs (default 16)")
    tm.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    tm.add_argument("--seed", type=int, default=1, help="seed of initialisation, order and augmentation (default 1)")
    tm.add_argument("--limit", type=int, default=None, help="only the first N captures")
    tm.set_defaults(handler=_train_cardmask)
