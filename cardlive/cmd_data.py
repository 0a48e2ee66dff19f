"""CLI of the diagnostics: `cardlive ovd-response` (does the hologram move in these sequences?) and
`cardlive quad-sensitivity` (does the recapture decision survive a quad error the card finder may make?)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cardlive.cmd_pipeline import DEFAULT_RECAPTURE
from cardlive.output import write_json_report


def _ovd_response(args: argparse.Namespace) -> int:
    from edge_models.ovd_response import ovd_response

    result = ovd_response(args.data, progress=not args.quiet)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"OVD response on {result['data']} (OVD / rest temporal std on the rectified crops, glare cells excluded)")
    print(f"{'species':<22}{'sequences':>10}{'median ratio':>14}{'> ' + str(result['responds_above']):>10}")
    for row in result["species"]:
        print(f"{row['species']:<22}{row['sequences']:>10}{row['median_ratio']:>14.2f}{row['share_responding']:>10.0%}")
    return 0


def _quad_sensitivity(args: argparse.Namespace) -> int:
    from cardlive.errors import ParameterError
    from edge_models.quad_sensitivity import quad_sensitivity
    from edge_models.weights import load_weights

    try:
        shifts = tuple(float(v) for v in args.shifts.split(",") if v)
    except ValueError:
        raise ParameterError(f"--shifts {args.shifts!r}: expected comma-separated numbers, e.g. -0.01,0.01") from None
    if not shifts or any(abs(s) > 0.2 for s in shifts):
        raise ParameterError("--shifts: one or more shares of the card diagonal, each within +-0.2")
    kwargs = {"limit": args.limit, "shifts": shifts, "seed": args.seed, "progress": not args.quiet}
    result = quad_sensitivity(load_weights(args.model), args.data, **kwargs)
    if args.out is not None:
        write_json_report(args.out, result)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"recapture decisions flipped by moving one side of the quad (threshold {result['threshold']:.4f})")
    print(f"{'class':<10}{'n':>6}{'rejected':>10}   shift (share of the diagonal)")
    print(f"{'':<10}{'':>6}{'at truth':>10}" + "".join(f"{s:>+9.3f}" for s in result["shifts"]))
    for name, row in result["classes"].items():
        flips = "".join(f"{v:>9.1%}" for v in row["flipped"])
        print(f"{name:<10}{row['captures']:>6}{row['rejected_at_true_quad']:>10.1%}{flips}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ovd = sub.add_parser(
        "ovd-response",
        help="how often the hologram visibly responds to the tilt in a folder of sequences, per species",
        description="For every tilt sequence with an OVD mask (`cardlive simulate --frames T`, or your own), the "
        "temporal standard deviation inside the OVD region over that of the rest of the card, on the crops the ovd "
        "model sees, glare cells excluded. Genuine sequences should sit well above 1 (the hologram changes), prints "
        "and static replays near 1. A model cannot learn to read a hologram that does not respond in its data.",
    )
    ovd.add_argument("--data", type=Path, required=True, help="folder with index.jsonl of tilt sequences; several: A,B")
    ovd.add_argument("--json", action="store_true", help="print the result as one JSON line")
    ovd.add_argument("--quiet", action="store_true", help="no progress bar")
    ovd.set_defaults(handler=_ovd_response)

    qs = sub.add_parser(
        "quad-sensitivity",
        help="how often a small card-quad error flips the recapture decision, per class and shift",
        description="For every capture with a quad in DATA, move one side (drawn from --seed) by each signed shift "
        "(a share of the card diagonal; > 0 outwards) and count the decisions at the model's default threshold "
        "that differ from the ones at the true quad. The card finder's target allows 1.5 %; a robust model "
        "flips few decisions at that size.",
    )
    qs.add_argument("--data", type=Path, required=True, help="folder with index.jsonl of single-frame captures")
    qs.add_argument("--model", type=Path, default=DEFAULT_RECAPTURE, help="recapture weights (default: the committed)")
    qs.add_argument("--shifts", default="-0.015,-0.01,-0.005,0.005,0.01,0.015", help="signed shares of the diagonal")
    qs.add_argument("--limit", type=int, default=None, help="only the first N captures")
    qs.add_argument("--seed", type=int, default=0, help="seed of the side drawn per capture (default 0)")
    qs.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    qs.add_argument("--json", action="store_true", help="print the result as one JSON line")
    qs.add_argument("--quiet", action="store_true", help="no progress bar")
    qs.set_defaults(handler=_quad_sensitivity)
