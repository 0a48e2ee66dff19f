"""CLI of the edge-vs-cloud service: `cardlive serve`, `cardlive drift`, `cardlive simulate-traffic`, and the
`serve` / `clusters` targets of `cardlive bench`.

Decision: the bench targets are added to the existing `cardlive bench` parser from here (its `target` choices are
extended and the handler chains to the previous one), so cli.py needs a single `cmd_service.register(sub)` line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cardlive.errors import ParameterError
from cardlive.output import write_json_report


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app
    from service.server import ServeSettings, build_state, check_loopback

    check_loopback(args.host)
    settings = ServeSettings(
        db_url=args.db,
        bundle=args.bundle,
        parity=args.parity,
        app_keys=args.app_keys,
        model_version=args.model_version,
        max_upload_mb=args.max_upload_mb,
        store_frames=not args.no_store_frames,
    )
    state, notes = build_state(settings)
    for note in notes:
        print(note, flush=True)
    print(f"serving on http://{args.host}:{args.port} (OpenAPI: /openapi.json)", flush=True)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level=args.log_level)  # type: ignore[arg-type]
    return 0


def _drift(args: argparse.Namespace) -> int:
    from service.db import open_engine
    from service.drift import drift_table, format_drift, plot_drift

    rows = drift_table(open_engine(args.db), args.reference_size)
    print(format_drift(rows, args.reference_size))
    if args.plot and rows:
        print(f"plot: {plot_drift(rows, args.plot)}")
    return 0


def _simulate_traffic(args: argparse.Namespace) -> int:
    from service.traffic import TrafficConfig, format_traffic, run_traffic

    config = TrafficConfig(
        url=args.url,
        sessions=args.sessions,
        tamper_rate=args.tamper_rate,
        replay_rate=args.replay_rate,
        farms=args.farms,
        seed=args.seed,
        pool=args.pool,
        app_keys=args.app_keys,
        app_id=args.app_id,
        runtime=args.runtime,
        precision=args.precision,
        model_version=args.model_version,
        parity=args.parity,
    )
    result = run_traffic(config, progress=not args.quiet)
    print(format_traffic(result))
    if args.out:
        write_json_report(args.out, result)
        print(f"report: {args.out}")
    return 0


def _bench_service(args: argparse.Namespace, previous: Any) -> int:
    if args.target == "serve":
        from service.bench import format_serve, run_serve_bench, write_json

        result = run_serve_bench(clients=args.clients, sessions=args.sessions_per_client, seed=args.seed)
        print(format_serve(result))
        out = args.out if args.out.name != "simulate.json" else Path("build/bench/serve.json")
        print(f"report: {write_json(result, out)}")
        return 0
    if args.target == "clusters":
        from service.bench import format_clusters, run_cluster_bench, write_json

        result = run_cluster_bench(
            farms=args.farms, per_farm=args.per_farm, genuine=args.genuine, seed=args.seed, progress=not args.quiet
        )
        print(format_clusters(result))
        out = args.out if args.out.name != "simulate.json" else Path("build/bench/clusters.json")
        print(f"report: {write_json(result, out)}")
        return 0
    return int(previous(args))


def _extend_bench(sub: argparse._SubParsersAction) -> None:
    bench: argparse.ArgumentParser | None = sub.choices.get("bench")
    if bench is None:
        raise ParameterError("cardlive bench must be registered before the service commands")
    for action in bench._actions:
        if action.dest == "target" and action.choices is not None:
            action.choices = [*action.choices, "serve", "clusters"]
    previous = bench.get_default("handler")
    bench.set_defaults(handler=lambda a: _bench_service(a, previous))
    bench.description = (bench.description or "") + (
        " 'serve': N concurrent clients x M sessions against a real service on loopback (throughput, p50/p99, "
        "records counted after the run). 'clusters': simulated fraud farms among genuine users, cluster purity "
        "and farm recall."
    )
    bench.add_argument("--clients", type=int, default=4, help="serve: concurrent clients (default 4)")
    bench.add_argument("--sessions-per-client", type=int, default=25, help="serve: sessions per client")
    bench.add_argument("--farms", type=int, default=3, help="clusters: fraud farms (default 3)")
    bench.add_argument("--per-farm", type=int, default=20, help="clusters: sessions per farm (default 20)")
    bench.add_argument("--genuine", type=int, default=200, help="clusters: genuine users (default 200)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add serve, drift, simulate-traffic, and the bench targets serve / clusters."""
    from service import DEFAULT_DB

    sv = sub.add_parser(
        "serve",
        help="run the edge-vs-cloud service (re-score uploads, verdicts, drift, batch-fraud clusters)",
        description="Serve the HTTP API on loopback: sessions with single-use nonces, signed edge reports "
        "re-scored with the reference model and compared with the parity profile's tolerance bands, drift and "
        "batch-fraud clusters. OpenAPI at /openapi.json. The parity profile comes from BUNDLE/parity_profile.json "
        "or --parity FILE (required: there is no built-in one).",
    )
    sv.add_argument("--db", default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB}; SQLite uses WAL)")
    sv.add_argument("--bundle", type=Path, default=None, help="release bundle (parity_profile.json, manifest.json)")
    sv.add_argument("--parity", type=Path, default=None, help="parity profile JSON (overrides the bundle's)")
    sv.add_argument("--app-keys", type=Path, default=None, help="app keys JSON (default: a generated dev key)")
    sv.add_argument("--model-version", default=None, help="version name of the reference weights")
    sv.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8080)
    sv.add_argument("--max-upload-mb", type=float, default=16.0, help="request body limit in MiB (default 16)")
    sv.add_argument("--no-store-frames", action="store_true", help="store frame hashes only, not the JPEGs")
    sv.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    sv.set_defaults(handler=_serve)

    dr = sub.add_parser(
        "drift",
        help="edge-score drift per (app version, device model, runtime): PSI, mismatch and flip rates",
        description="Read the service database and print, per (app version, device model, runtime), the PSI "
        "of edge scores against the reference window (first --reference-size reports; bands 0.1 / 0.25), the "
        "mismatch rate and the decision-flip rate; --plot writes a PNG.",
    )
    dr.add_argument("--db", required=True, help="SQLAlchemy URL of the service database")
    dr.add_argument("--reference-size", type=int, default=200, help="reports in the reference window")
    dr.add_argument("--plot", type=Path, default=None, help="PNG path for the chart")
    dr.set_defaults(handler=_drift)

    tr = sub.add_parser(
        "simulate-traffic",
        help="drive a running service with simulated app traffic and print what it caught",
        description="Honest clients (scores within the profile's band), hooked clients (report genuine scores "
        "for attack captures), replayed nonces and fraud farms, from a small pool of pre-rendered simulated "
        "captures; prints caught vs ground truth and the honest flag rate vs the band's prediction.",
    )
    tr.add_argument("--url", required=True, help="service base URL, e.g. http://127.0.0.1:8080")
    tr.add_argument("--sessions", type=int, required=True, help="sessions to run")
    tr.add_argument("--tamper-rate", type=float, default=0.1, help="share of hooked clients")
    tr.add_argument("--replay-rate", type=float, default=0.05, help="share of sessions followed by a replay")
    tr.add_argument("--farms", type=int, default=0, help="fraud farms among the sessions")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--pool", type=int, default=12, help="pre-rendered genuine/attack captures to reuse")
    tr.add_argument("--app-keys", type=Path, required=True, help="the service's app keys JSON")
    tr.add_argument("--app-id", default=None, help="app id in the keys file (default: the first)")
    tr.add_argument("--parity", type=Path, required=True, help="the service's parity profile (honest noise)")
    tr.add_argument("--runtime", default="litert")
    tr.add_argument("--precision", default="int8")
    tr.add_argument("--model-version", default=None, help="default: the profile's only recapture version")
    tr.add_argument("--out", type=Path, default=None, help="JSON report path")
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(handler=_simulate_traffic)

    _extend_bench(sub)
