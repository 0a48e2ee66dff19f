"""Benchmarks of the service: `cardlive bench serve` (load on loopback) and `cardlive bench clusters` (farms).

serve: a real uvicorn server in this process on 127.0.0.1 with a fresh SQLite file; N client threads each run M
sessions (create session, post a signed honest report of a pre-rendered capture). Reported: throughput, p50/p99
latency of the report POST, errors, and the records counted in the database after the run (reports must equal the
acknowledged reports, with no session twice). Same-run baseline: the server-side work alone (decode, re-score,
fingerprint) called in-process on one thread, so the ratio shows what HTTP + storage + concurrency cost or gain.

clusters: F farms x S sessions among G genuine users (service.farms), fingerprinted and re-scored exactly as the
service does, clustered with the service's ClusterSettings; purity = share of clustered sessions that belong to
their cluster's majority farm (genuine members count as impure), recall = share of farm sessions inside a cluster
whose majority is their farm. Reported for the default links (portrait) and for instrument links at cosine 0.95.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edge_models.images import decode_rgb
from edge_models.scorer import score_frame
from edge_models.weights import load_weights
from service.client import AppIdentity, EdgeFrame, ServiceClient, build_report
from service.clusters import ClusterSettings, Member, cluster_members
from service.farms import SimCapture, farm_capture, genuine_capture
from service.fingerprint import fingerprint
from service.server import ServeSettings
from service.testing import TEST_VERSION, running_service, write_keys, write_profile
from service.traffic import render_pool


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run_serve_bench(clients: int = 4, sessions: int = 25, seed: int = 0, pool: int = 3) -> dict[str, Any]:
    """N concurrent clients x M sessions against a fresh service; numbers and record counts."""
    if clients < 1 or sessions < 1:
        raise ValueError("clients and sessions must be >= 1")
    captures = render_pool(seed, pool)
    loaded = load_weights()
    probs = [score_frame(loaded, c.rgb, c.quad)["probabilities"] for c in captures]
    for c in captures * 4:  # warm-up (the first inferences of a process are several times slower), not timed
        score_frame(loaded, c.rgb, c.quad)
    start = time.perf_counter()
    for c in captures * 5:
        decode_rgb(c.jpeg)
        score_frame(loaded, c.rgb, c.quad)
        fingerprint([c.rgb], [c.quad], loaded.spec)
    baseline_s = (time.perf_counter() - start) / (5 * len(captures))
    model = {"name": "recapture", "version": TEST_VERSION, "runtime": "pytorch", "precision": "fp32"}
    with tempfile.TemporaryDirectory(prefix="cardlive-bench-") as tmp:
        folder = Path(tmp)
        keys_path, key = write_keys(folder / "keys.json")
        settings = ServeSettings(
            db_url=f"sqlite:///{folder / 'bench.db'}", parity=write_profile(folder / "p.json"), app_keys=keys_path
        )
        app = AppIdentity("test-app", "k1", key)
        latencies: list[float] = []
        acknowledged: list[str] = []
        errors: Counter[str] = Counter()
        lock = threading.Lock()
        with running_service(settings) as (url, state):

            def worker(w: int) -> None:
                client = ServiceClient(url)
                for m in range(sessions):
                    k = (w * sessions + m) % len(captures)
                    cap = captures[k]
                    try:
                        s = client.new_session("test-app", f"bench-{w}-{m}")
                        doc = build_report(
                            s["session_id"],
                            s["nonce"],
                            app,
                            model,
                            [EdgeFrame(cap.jpeg, cap.quad, probs[k])],
                            loaded.threshold,
                        )
                        t0 = time.perf_counter()
                        r = client.post_report(s["session_id"], doc)
                        dt = time.perf_counter() - t0
                    except Exception as exc:  # the bench counts transport failures instead of dying
                        with lock:
                            errors[type(exc).__name__] += 1
                        continue
                    with lock:
                        latencies.append(dt)
                        if r.status_code == 200:
                            acknowledged.append(s["session_id"])
                        else:
                            errors[str(r.status_code)] += 1
                client.close()

            threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
            t_start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t_start
            counts = state.store.counts()
            stored = state.store.report_sessions()
            alive = ServiceClient(url).get("/v1/health")["status"] == "ok"
    total = clients * sessions
    return {
        "clients": clients,
        "sessions_per_client": sessions,
        "requested": total,
        "acknowledged": len(acknowledged),
        "errors": dict(errors),
        "wall_s": wall,
        "throughput_per_s": len(acknowledged) / wall,
        "p50_ms": 1000 * _percentile(latencies, 50),
        "p99_ms": 1000 * _percentile(latencies, 99),
        "baseline_inprocess_per_s": 1.0 / baseline_s,
        "ratio_vs_baseline": (len(acknowledged) / wall) * baseline_s,
        "db_counts": counts,
        "lost": len(set(acknowledged) - set(stored)),
        "duplicated": len(stored) - len(set(stored)),
        "unacknowledged_stored": len(set(stored) - set(acknowledged)),
        "service_alive_after": alive,
    }


def format_serve(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{'clients':>8} {'sessions':>9} {'ok':>6} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'in-proc/s':>10} {'ratio':>6}",
            f"{r['clients']:>8} {r['requested']:>9} {r['acknowledged']:>6} {sum(r['errors'].values()):>7} "
            f"{r['throughput_per_s']:>8.2f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['baseline_inprocess_per_s']:>10.2f} "
            f"{r['ratio_vs_baseline']:>6.2f}",
            f"records after the run: {r['db_counts']['reports']} reports for {r['acknowledged']} acknowledged; "
            f"lost {r['lost']}, duplicated {r['duplicated']}, service alive: {r['service_alive_after']}",
        ]
    )


def _member(i: int, cap: SimCapture, loaded: Any) -> Member:
    fp = fingerprint([cap.rgb], [cap.quad], loaded.spec)
    attack = score_frame(loaded, cap.rgb, cap.quad)["attack_score"] >= loaded.threshold
    return Member(i, f"s{i}", f"acct{i}", fp.instrument, fp.strength, fp.portrait, bool(attack))


def score_clusters(clusters: list[dict[str, Any]], truth: dict[str, int | None]) -> dict[str, float]:
    """Purity and farm recall of clusters against farm labels (None = genuine)."""
    clustered = correct = 0
    recalled = 0
    for c in clusters:
        labels = [truth[s] for s in c["sessions"]]
        farms = Counter(lab for lab in labels if lab is not None)
        majority, hits = farms.most_common(1)[0] if farms else (None, 0)
        clustered += len(labels)
        correct += hits
        recalled += hits if majority is not None else 0
    farm_total = sum(1 for v in truth.values() if v is not None)
    return {
        "clusters": len(clusters),
        "clustered_sessions": clustered,
        "purity": correct / clustered if clustered else float("nan"),
        "recall": recalled / farm_total if farm_total else float("nan"),
        "genuine_clustered": sum(1 for c in clusters for s in c["sessions"] if truth[s] is None),
    }


def run_cluster_bench(
    farms: int = 3, per_farm: int = 20, genuine: int = 200, seed: int = 1, progress: bool = True
) -> dict[str, Any]:
    """Render farms and genuine users, fingerprint them, cluster, score."""
    loaded = load_weights()
    jobs = [(f, s) for f in range(farms) for s in range(per_farm)] + [(None, u) for u in range(genuine)]
    members, truth = [], {}
    start = time.perf_counter()
    for i, (farm, s) in enumerate(tqdm(jobs, disable=not progress, desc="captures", unit="capture")):
        cap = genuine_capture(seed, s) if farm is None else farm_capture(seed, farm, s)
        members.append(_member(i, cap, loaded))
        truth[f"s{i}"] = farm
    render_s = time.perf_counter() - start
    variants = {
        "portrait (default)": ClusterSettings(),
        "instrument cos>=0.95": ClusterSettings(portrait_min_cosine=None, instrument_cosine=0.95),
        "portrait + instrument": ClusterSettings(instrument_cosine=0.95),
    }
    results = {name: score_clusters(cluster_members(members, st), truth) for name, st in variants.items()}
    return {
        "farms": farms,
        "per_farm": per_farm,
        "genuine": genuine,
        "seed": seed,
        "render_and_fingerprint_s": render_s,
        "attack_flagged_farm_sessions": sum(
            1 for m, j in zip(members, jobs, strict=True) if j[0] is not None and m.attack
        ),
        "results": results,
    }


def format_clusters(r: dict[str, Any]) -> str:
    lines = [
        f"{r['farms']} farms x {r['per_farm']} sessions among {r['genuine']} genuine (seed {r['seed']}); "
        f"farm sessions the reference model flags: {r['attack_flagged_farm_sessions']}",
        f"{'links':<24} {'clusters':>8} {'purity':>7} {'recall':>7} {'genuine in clusters':>20}",
    ]
    for name, m in r["results"].items():
        lines.append(
            f"{name:<24} {m['clusters']:>8} {m['purity']:>7.3f} {m['recall']:>7.3f} {m['genuine_clustered']:>20}"
        )
    return "\n".join(lines)


def write_json(result: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return out
