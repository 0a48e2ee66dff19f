"""CLI of the data diagnostics: `cardlive ovd-response` (does the hologram move in these sequences?)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


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
