"""The `cardlive` command line: parses arguments and dispatches to the packages; holds no logic of its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cardlive import __version__, cmd_data, cmd_service
from cardlive.cmd_conform import register as register_conform
from cardlive.cmd_export import register as register_export
from cardlive.cmd_pipeline import register as register_pipeline
from cardlive.cmd_simulate import frame_size
from cardlive.cmd_simulate import register as register_simulate
from cardlive.errors import CardliveError, ParameterError

Handler = Callable[[argparse.Namespace], int]
DEFAULT_BENCH_OUT = Path("build/bench/simulate.json")


def _bench(args: argparse.Namespace) -> int:
    if args.target == "export":
        from cardlive.cmd_export import bench_export

        out = args.out if args.out != DEFAULT_BENCH_OUT else Path("build/bench/export.json")
        return bench_export(args.bundle, out, args.repeats)
    if args.target in ("pipeline", "cardfinder"):
        from cardlive.cmd_pipeline import bench_target

        return bench_target(args)
    if args.target == "models":
        from edge_models.bench import format_model_table, run_model_bench, write_model_report

        model_rows = run_model_bench()
        print(format_model_table(model_rows))
        out = args.out if args.out != DEFAULT_BENCH_OUT else Path("build/bench/models.json")
        print(f"report: {write_model_report(model_rows, out)}")
        return 0
    if args.target == "conform":
        from cardlive.cmd_conform import bench_conform

        out = args.out if args.out != DEFAULT_BENCH_OUT else Path("build/bench/conform.json")
        return bench_conform(args.bundle, out)
    if args.target != "simulate":
        raise ParameterError(f"unknown benchmark {args.target!r}")
    from capture_sim.bench import format_table, run_bench, write_report

    sizes = tuple(args.sizes) if args.sizes else ((1280, 720), (1920, 1080))
    rows = run_bench(
        pairs=args.pairs, seed=args.seed, sizes=sizes, progress=not args.quiet, supersample=args.supersample
    )
    print(format_table(rows))
    print(f"report: {write_report(rows, args.out)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from edge_models.train import TrainConfig, train

    config = TrainConfig(
        model=args.model,
        data=str(args.data) if args.data else "",
        out=str(args.out),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        val_fraction=args.val_fraction,
        workers=args.workers,
        excluded_species=tuple(s for s in args.exclude_species.split(",") if s),
        simulate=args.simulate,
        sim_seed=args.sim_seed,
        variants=args.variants,
        frozen_ovd=args.frozen_ovd,
        side_shift=args.side_shift,
        init=str(args.init) if args.init else "",
    )
    weights = train(config, resume=args.resume, progress=not args.quiet, device=args.device)
    print(f"weights: {weights}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from edge_models.evaluate import evaluate

    result = evaluate(args.model, args.data, args.protocol, args.report, progress=not args.quiet)
    pad = result["pad"]
    accuracy = f", accuracy {result['accuracy']:.3f}" if "accuracy" in result else ""
    print(f"{result['model']} {result['protocol']}: {result['n']} captures{accuracy}")
    print(
        f"EER {pad['eer']:.4f}  BPCER10 {pad['bpcer10']:.4f}  BPCER20 {pad['bpcer20']:.4f}  "
        f"BPCER100 {pad['bpcer100']:.4f}  AVRank {pad['av_rank']:.4f}"
    )
    print(
        f"worst APCER {pad['worst_apcer']:.4f} ({pad['worst_species']}) and BPCER {pad['bpcer']:.4f} "
        f"at threshold {pad['threshold']:.4f}"
    )
    if "baseline_pad" in result:
        base = result["baseline_pad"]
        print(f"classical baseline: EER {base['eer']:.4f}  BPCER20 {base['bpcer20']:.4f}  AVRank {base['av_rank']:.4f}")
    print(f"report: {args.report / 'report.json'}, DET curves: {args.report / 'det.png'}")
    return 0


def _score(args: argparse.Namespace) -> int:
    import json

    from edge_models.scorer import read_quads, score_images
    from edge_models.weights import load_weights

    if bool(args.images) == bool(args.sequence):
        raise ParameterError("give either IMAGE... (recapture) or --sequence DIR (ovd), not both and not neither")
    quads = read_quads(args.quads) if args.quads else {}
    if args.sequence:
        from edge_models.sequence_scorer import DEFAULT_OVD_WEIGHTS, score_sequence_folder

        ovd = load_weights(args.model or DEFAULT_OVD_WEIGHTS)
        for folder in args.sequence:
            seq = score_sequence_folder(ovd, folder, quads)
            if args.json:
                print(json.dumps(seq))
            else:
                print(
                    f"{seq['path']}: {seq['decision']} (P real OVD {seq['p_real_ovd']:.3f}; classical baseline "
                    f"{seq['baseline']['p_real_ovd']:.3f}; {len(seq['frames'])} frames)"
                )
        return 0
    loaded = load_weights(args.model) if args.model else load_weights()
    for result in score_images(loaded, args.images, quads):
        if args.json:
            print(json.dumps(result))
        else:
            p = result["probabilities"]
            print(
                f"{result['path']}: {result['decision']} (P attack {result['attack_score']:.3f}; genuine "
                f"{p['genuine']:.3f}, screen {p['screen']:.3f}, print {p['print']:.3f})"
            )
    return 0


def _release(args: argparse.Namespace) -> int:
    from cardlive.release import run_release

    return run_release(args.out, quick=args.quick, key=args.key)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cardlive",
        description="Capture-time liveness of physical ID cards: simulate captures, train and evaluate the edge "
        "models, export and check them.",
    )
    parser.add_argument("--version", action="version", version=f"cardlive {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    register_simulate(sub)

    bench = sub.add_parser(
        "bench",
        help="measure speed; writes JSON and prints a table",
        description="Benchmarks. 'simulate': captures per second per core for each class at "
        "1280x720 and 1920x1080, against a plain OpenCV warp+JPEG baseline in the same run. 'models': single-thread "
        "PyTorch latency per frame / per sequence and the preprocessing time. 'export': size and latency of every "
        "artifact in a bundle (LiteRT and ONNX Runtime at 1 and 2 threads) against fp32 PyTorch in the same run. "
        "'conform': the full conformance suite on --bundle's golden vectors (target <= 60 s for >= 512), against "
        "the PyTorch reference alone. 'pipeline': the capture pipeline's "
        "own time per 1280x720 frame (card finder, gates) against the models' time, --pairs frames. 'cardfinder': "
        "corner error on --n fresh simulated frames (--seed) and false finds on --no-card frames without a card.",
    )
    bench.add_argument(
        "target", choices=["simulate", "models", "export", "conform", "pipeline", "cardfinder"], help="what to measure"
    )
    bench.add_argument(
        "--bundle", type=Path, default=Path("build/bundle"), help="export / conform: the bundle to measure"
    )
    bench.add_argument("--repeats", type=int, default=50, help="export: timed runs per artifact and thread count")
    bench.add_argument("--pairs", type=int, default=4, help="pairs rendered per frame size (default 4)")
    bench.add_argument("--seed", type=int, default=1234)
    bench.add_argument("--supersample", type=int, default=2, help="scene samples per pixel per axis (default 2)")
    bench.add_argument("--sizes", type=frame_size, nargs="*", default=None, help="frame sizes (default both)")
    bench.add_argument("--n", type=int, default=200, help="cardfinder: simulated frames with a card (default 200)")
    bench.add_argument("--no-card", type=int, default=50, help="cardfinder: frames without a card (default 50)")
    bench.add_argument(
        "--frames",
        type=Path,
        default=None,
        help="cardfinder: folder of rendered frames, read where it holds them and written where not (one seed)",
    )
    bench.add_argument("--out", type=Path, default=DEFAULT_BENCH_OUT, help="JSON report path")
    bench.add_argument("--quiet", action="store_true")
    bench.set_defaults(handler=_bench)

    tr = sub.add_parser(
        "train",
        help="train an edge model on simulated or real captures",
        description="Train an edge model. Deterministic for a seed, checkpointed every epoch into --out, resumable "
        "with --resume, data-parallel under `torchrun --nproc_per_node=N -m cardlive.cli train ...` (gloo on CPU, "
        "NCCL on GPUs). Writes OUT/MODEL.pt and OUT/MODEL.json (config, history, preprocessing spec, operating "
        "thresholds at APCER 1 % and 5 % on the validation split).",
    )
    tr.add_argument("--model", choices=["recapture", "ovd"], default="recapture")
    tr.add_argument(
        "--data",
        type=Path,
        help="folder with index.jsonl (`cardlive simulate` output or your own); several recapture folders: A,B",
    )
    tr.add_argument("--out", type=Path, default=Path("build/train"), help="checkpoints and results")
    tr.add_argument("--epochs", type=int, default=10)
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one-cycle schedule)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--val-fraction", type=float, default=0.15, help="share of pairs/groups held out for validation")
    tr.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    tr.add_argument("--exclude-species", default="", help="comma-separated attack families to leave out of training")
    tr.add_argument(
        "--simulate",
        type=int,
        default=0,
        metavar="N",
        help="instead of --data: render N fresh captures per epoch on the fly (use --workers)",
    )
    tr.add_argument("--sim-seed", type=int, default=1, help="epoch e renders simulator seed SIM_SEED + e")
    tr.add_argument(
        "--side-shift",
        type=float,
        default=0.0,
        metavar="S",
        help="recapture with --variants: each jittered quad also has one side moved by up to S of the diagonal "
        "(e.g. 0.015: the card finder's target error; default 0)",
    )
    tr.add_argument("--init", type=Path, default=None, help="start from these weights (fine-tuning)")
    tr.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where to train: auto takes this process's GPU when CUDA is present (NCCL under torchrun), else the "
        "CPU (gloo); weights are saved on the CPU either way",
    )
    tr.add_argument(
        "--variants",
        type=int,
        default=1,
        metavar="V",
        help="with --data: keep V inputs per capture (recapture mosaics, ovd rectified sequences), V-1 cut around "
        "quads jittered like the card finder's error (sigma 0.5 %%, at most 1.5 %% of the diagonal, per frame for "
        "ovd); each epoch trains on one of them",
    )
    tr.add_argument(
        "--frozen-ovd",
        action="store_true",
        help="ovd: add, per genuine sequence whose OVD visibly moves, a copy whose OVD region is frozen at one "
        "frame (lit like the card, fresh noise), as an attack (species frozen_ovd; training only, thresholds stay "
        "on the real attacks), so the model must read the hologram's response (edge_models/weights/ovd.md)",
    )
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(handler=_train)

    ev = sub.add_parser(
        "evaluate",
        help="ISO/IEC 30107-3 metrics of a trained model on a labelled folder",
        description="Evaluate a trained model (recapture, or ovd with the classical hue/saturation baseline "
        "beside it): APCER per species and the worst, BPCER, BPCER10/20/100, EER, AVRank, confusion matrix; writes "
        "REPORT/report.json and REPORT/det.png.",
    )
    ev.add_argument("--model", type=Path, required=True, help="weights file (its .json card must sit beside it)")
    ev.add_argument("--data", type=Path, required=True, help="folder with index.jsonl")
    ev.add_argument("--protocol", choices=["in-dist", "leave-family-out"], default="in-dist")
    ev.add_argument("--report", type=Path, default=Path("build/eval"))
    ev.add_argument("--quiet", action="store_true")
    ev.set_defaults(handler=_evaluate)

    sc = sub.add_parser(
        "score",
        help="the reference scorer: probabilities and decision per image",
        description="Score images with the fp32 reference model: one line (or JSON line with --json) per image "
        "with P(genuine/screen/print), P(attack) = 1 - P(genuine), the decision at the stored operating threshold "
        'and the quad used. Quads come from --quads rows {"path": ..., "quad": [[x, y] x 4]}. With --sequence DIR, '
        "score a tilt sequence (the frame images in DIR, in name order) with the ovd model and the classical "
        "hue/saturation baseline beside it.",
    )
    sc.add_argument("images", type=Path, nargs="*", help="frames to score with the recapture model")
    sc.add_argument(
        "--sequence",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder with one tilt sequence's frames (repeatable); scored with the ovd model",
    )
    sc.add_argument("--quads", type=Path, help="JSONL with a quad per image path")
    sc.add_argument(
        "--model", type=Path, default=None, help="weights file (default: the committed recapture / ovd weights)"
    )
    sc.add_argument("--json", action="store_true")
    sc.set_defaults(handler=_score)

    register_export(sub)
    register_pipeline(sub)

    rel = sub.add_parser(
        "release",
        help="the release job: demo set, benchmarks, export, verify, conformance",
        description="Run the release job into --out: simulate a demo set with a contact sheet, benchmark the "
        "simulator and the models, export the committed weights into a signed bundle with golden vectors "
        "(OUT/bundle), verify it, run the conformance suite on every runtime here (OUT/conformance: report.json, "
        "junit.xml, report.html) and write the parity profile into the bundle. Exit code 0 only when conformance "
        "passes.",
    )
    rel.add_argument("--out", type=Path, default=Path("build/release"))
    rel.add_argument("--quick", action="store_true", help="smaller demo set, benchmark and golden set")
    rel.add_argument(
        "--key", type=Path, default=None, help="Ed25519 signing key (PEM); default $CARDLIVE_SIGNING_KEY or a dev key"
    )
    rel.set_defaults(handler=_release)
    register_conform(sub)
    cmd_service.register(sub)
    cmd_data.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CardliveError as exc:
        print(f"cardlive {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"cardlive {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
