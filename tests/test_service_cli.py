"""CLI of the service: drift table and plot from a database, simulate-traffic against a live service, bench
clusters on a tiny farm set; and the 500 path that the fuzz test relies on being visible."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from cardlive.cli import main
from service import db
from service.bench import format_clusters, run_cluster_bench
from service.server import ServeSettings
from service.testing import running_service, write_keys, write_profile
from service.traffic import TrafficConfig, format_traffic, run_traffic


def _fill(url: str, n_ref: int, groups: dict[tuple[str, str], list[float]]) -> None:
    engine = db.open_engine(url)
    db.migrate(engine)
    rows = [("1.0", "Pixel 8", s) for s in [0.1 + 0.002 * i for i in range(n_ref)]]
    rows += [(app, device, s) for (app, device), scores in groups.items() for s in scores]
    with engine.begin() as conn:
        for i, (app, device, score) in enumerate(rows):
            now = db.utc_now()
            conn.execute(
                db.sessions.insert().values(
                    id=f"s{i:020d}",
                    app_id="a",
                    account_id=f"u{i}",
                    nonce_sha256="0" * 64,
                    created_utc=now,
                    expires_utc=now,
                )
            )
            conn.execute(
                db.reports.insert().values(
                    session_id=f"s{i:020d}",
                    account_id=f"u{i}",
                    app_id="a",
                    app_version=app,
                    device_model=device,
                    device_os="x",
                    model_name="recapture",
                    model_version="1",
                    runtime="litert",
                    precision="int8",
                    verdict="consistent" if score < 0.5 else "score_divergence",
                    edge_score=score,
                    server_score=score,
                    edge_decision="genuine",
                    server_decision="genuine",
                    final_decision="accept",
                    threshold=0.5,
                    tolerance=0.05,
                    max_abs_delta=0.0,
                    attestation="unverified",
                    document="{}",
                    created_utc=now,
                )
            )
    engine.dispose()


def test_drift_cli_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    _fill(
        url,
        50,
        {
            ("1.0", "Pixel 8"): [0.1 + 0.004 * i for i in range(25)],
            ("2.0", "Galaxy S24"): [0.7 + 0.004 * i for i in range(25)],
        },
    )
    plot = tmp_path / "drift.png"
    assert main(["drift", "--db", url, "--reference-size", "50", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip() and not line.startswith("plot")}
    assert "stable" in lines["1.0"]
    assert "significant" in lines["2.0"]  # the shifted group is caught; the unshifted one is not
    assert plot.stat().st_size > 1000


def test_simulate_traffic_catches_hooked_clients_and_replays(tmp_path: Path) -> None:
    keys, _ = write_keys(tmp_path / "keys.json")
    profile = write_profile(tmp_path / "p.json")
    settings = ServeSettings(db_url=f"sqlite:///{tmp_path / 't.db'}", parity=profile, app_keys=keys)
    with running_service(settings) as (url, _state):
        config = TrafficConfig(
            url=url,
            sessions=10,
            tamper_rate=0.5,
            replay_rate=0.5,
            farms=0,
            seed=3,
            pool=3,
            app_keys=keys,
            parity=profile,
        )
        result = run_traffic(config, progress=False)
    kinds = result["kinds"]
    assert sum(k["n"] for k in kinds.values()) == 10
    if "forger" in kinds:
        assert kinds["forger"]["verdicts"] == {"bad_signature": kinds["forger"]["n"]}
    assert result["replays"]["caught"] == result["replays"]["sent"]
    assert result["replays"]["sent"] > 0
    assert "honest flag rate" in format_traffic(result)
    for kind in ("hooked",):
        assert kinds[kind]["n"] > 0


def test_internal_errors_surface_as_500(tmp_path: Path) -> None:
    """Negative control for the fuzz test's `< 500` check: a broken database does produce a visible 500."""
    keys, _ = write_keys(tmp_path / "keys.json")
    settings = ServeSettings(
        db_url=f"sqlite:///{tmp_path / 'x.db'}", parity=write_profile(tmp_path / "p.json"), app_keys=keys
    )
    with running_service(settings) as (url, state):
        with state.store.engine.begin() as conn:
            conn.execute(text("DROP TABLE rejections"))
            conn.execute(text("DROP TABLE fingerprints"))
            conn.execute(text("DROP TABLE frames"))
            conn.execute(text("DROP TABLE reports"))
            conn.execute(text("DROP TABLE sessions"))
        r = requests.post(f"{url}/v1/sessions", json={"app_id": "test-app", "account_id": "a"}, timeout=30)
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"


@pytest.mark.slow
def test_bench_clusters_tiny() -> None:
    result = run_cluster_bench(farms=2, per_farm=4, genuine=6, seed=2, progress=False)
    table = format_clusters(result)
    assert "portrait (default)" in table
    default = result["results"]["portrait (default)"]
    assert 0.0 <= default["recall"] <= 1.0
    assert default["clustered_sessions"] >= default["genuine_clustered"]


@pytest.mark.slow
def test_bench_serve_cli_counts_records(tmp_path: Path) -> None:
    # a process of its own: the bench runs a uvicorn server and client threads, and twice an in-process run left
    # this xdist worker's output capture closed (every later test in the worker errored)
    out = tmp_path / "serve.json"
    args = ["bench", "serve", "--clients", "2", "--sessions-per-client", "2", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "cardlive.cli", *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["acknowledged"] == 4
    assert result["lost"] == 0
    assert result["duplicated"] == 0
    assert result["db_counts"]["reports"] == 4
    assert "records after the run" in done.stdout
