"""CLI of the simulator: `cardlive simulate` (captures and tilt sequences with index.jsonl, optional contact sheet)."""

from __future__ import annotations

import argparse
from pathlib import Path


def frame_size(text: str) -> tuple[int, int]:
    """argparse type of a frame size: WIDTHxHEIGHT, one of the two the simulator renders."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if (w, h) not in ((1280, 720), (1920, 1080)):
        raise argparse.ArgumentTypeError(f"{text} is not supported; expected 1280x720 or 1920x1080")
    return w, h


def _simulate(args: argparse.Namespace) -> int:
    from capture_sim.capture import SimConfig
    from capture_sim.contact_sheet import contact_sheet
    from capture_sim.dataset import read_index, simulate
    from capture_sim.species import parse_species

    config = SimConfig(
        seed=args.seed,
        species=parse_species(args.species),
        frames=args.frames,
        size=args.size,
        supersample=args.supersample,
        torch=args.torch,
        laminate_glare=not args.no_laminate_glare,
        attempt=args.attempt,
    )
    index = simulate(
        args.out,
        args.n,
        config,
        workers=args.workers,
        overwrite=args.overwrite,
        progress=not args.quiet,
        resume=args.resume,
    )
    print(f"wrote {args.n} captures to {args.out} ({index.name})")
    if args.contact_sheet:
        sheet = contact_sheet(args.out, read_index(args.out), args.contact_sheet)
        print(f"contact sheet: {sheet}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser(
        "simulate",
        help="render synthetic captures (genuine, screen replay, print) with index.jsonl",
        description="Render physically simulated captures of ID cards into DIR: JPEG frames, OVD and glare masks, "
        "and DIR/index.jsonl with one row per capture (label, species, quads, every drawn parameter). Captures "
        "come in pairs that share card, pose, light, camera and background; (seed, index) re-renders a capture "
        "byte-identically.",
    )
    sim.add_argument("--out", type=Path, required=True, help="output folder (must be empty unless --overwrite)")
    sim.add_argument("--n", type=int, required=True, help="number of captures")
    sim.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    sim.add_argument(
        "--species",
        default=None,
        help="comma-separated species: genuine, phone_oled_pentile, laptop_lcd_rgb, monitor_lcd_bgr, "
        "tablet_lcd, laser_am, inkjet_fm, dyesub_photo, grey_copy, or the groups screen / print / all "
        "(default all)",
    )
    sim.add_argument("--frames", type=int, default=1, help="frames per capture; >1 renders tilt sequences")
    sim.add_argument(
        "--size",
        type=frame_size,
        default=(1280, 720),
        help="landscape frame size, 1280x720 or 1920x1080; portrait captures swap it (default 1280x720)",
    )
    sim.add_argument(
        "--torch",
        action="store_true",
        help="the phone's torch is on (a candidate capture mode for the tilt check, edge_models/weights/ovd.md): "
        "a point light at the lens lights the card, its laminate hotspot and hologram, screen glass and paper",
    )
    sim.add_argument(
        "--no-laminate-glare",
        action="store_true",
        help="genuine cards' laminate reflects no highlight, all else identical: render a seed with and without "
        "it and compare with `cardlive glare-pairs`",
    )
    sim.add_argument(
        "--attempt",
        type=int,
        default=0,
        help="sweep the same scenes again: attempt K > 0 keeps every card, light, camera and base pose of the seed and "
        "draws a new tilt sweep, tremor and sensor noise (what a user asked to tilt again does; default 0)",
    )
    sim.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    sim.add_argument("--supersample", type=int, default=2, help="scene samples per pixel along each axis (1-4)")
    sim.add_argument("--contact-sheet", type=Path, default=None, help="also write a labelled PNG grid with 1:1 crops")
    sim.add_argument("--overwrite", action="store_true", help="replace an earlier simulation in --out")
    sim.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted simulation in --out (same arguments): only the missing captures are rendered",
    )
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(handler=_simulate)
