"""`cardlive simulate-traffic`: simulated app traffic against a running service, and what the server caught.

Client kinds (drawn per session from the seed):
- honest: a genuine or attack capture from the pool; the app's scores are the reference scores perturbed the way
  the band's runtime does (Gaussian, sd = measured p99 / 2.576, clipped to the measured max; tolerance / 4 when the
  profile has no measurements);
- hooked: a hooked SDK that holds the app key, presents an ATTACK capture and reports genuine scores (0.98, 0.01,
  0.01); two thirds of the tampered sessions;
- forger: tampers without the key (re-writes the scores after signing): the other third -> bad_signature;
- replay: after a stored report, the same document is posted again -> replayed_nonce;
- farm: k farms x F sessions (F = max(3, 5 % of the sessions)), each farm one instrument and one stolen card,
  one account per session; afterwards GET /v1/clusters is compared with the farm labels.
Captures come from a small pre-rendered pool (simulator, supersample 1) that is reused, to keep this cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from capture_sim.capture import SimConfig, render_capture
from edge_models.scorer import score_frame
from edge_models.weights import load_weights
from service.client import AppIdentity, EdgeFrame, ServiceClient, build_report
from service.farms import SimCapture, farm_capture
from service.keys import load_keys
from service.profile import Band, load_profile

HOOKED_SCORES = {"genuine": 0.98, "screen": 0.01, "print": 0.01}


@dataclass(frozen=True)
class TrafficConfig:
    url: str
    sessions: int
    tamper_rate: float
    replay_rate: float
    farms: int
    seed: int
    pool: int
    app_keys: Path
    parity: Path
    app_id: str | None = None
    runtime: str = "litert"
    precision: str = "int8"
    model_version: str | None = None


def render_pool(seed: int, n: int) -> list[SimCapture]:
    """n single-frame captures cycling genuine / screen / print (capture_sim pairs)."""
    config = SimConfig(seed=seed, supersample=1)
    out = []
    for i in range(n):
        cap = render_capture(config, i)
        frame = cap.frames[0]
        quad = [[float(x), float(y)] for x, y in frame.quad]
        out.append(SimCapture(frame.jpeg, frame.rgb, quad, cap.label, cap.species, None))
    return out


def honest_scores(reference: dict[str, float], band: Band, rng: np.random.Generator) -> dict[str, float]:
    """Reference probabilities with P(genuine) moved by runtime-like noise; screen/print share the rest."""
    p99, top = band.measured.get("p99_abs"), band.measured.get("max_abs")
    sd = (p99 / 2.576) if p99 else band.tolerance / 4
    delta = float(rng.normal(0.0, sd)) if sd > 0 else 0.0
    if top is not None:
        delta = float(np.clip(delta, -top, top))
    genuine = float(np.clip(reference["genuine"] + delta, 0.0, 1.0))
    rest = reference["screen"] + reference["print"]
    share = reference["screen"] / rest if rest > 0 else 0.5
    return {"genuine": genuine, "screen": (1 - genuine) * share, "print": (1 - genuine) * (1 - share)}


def _plan(config: TrafficConfig, rng: np.random.Generator) -> list[tuple[str, int]]:
    farm_size = max(3, int(0.05 * config.sessions)) if config.farms else 0
    kinds: list[tuple[str, int]] = [("farm", f) for f in range(config.farms) for _ in range(farm_size)]
    for _ in range(max(0, config.sessions - len(kinds))):
        u = rng.random()
        if u < config.tamper_rate * 2 / 3:
            kinds.append(("hooked", -1))
        elif u < config.tamper_rate:
            kinds.append(("forger", -1))
        else:
            kinds.append(("honest", -1))
    order = rng.permutation(len(kinds))
    return [kinds[i] for i in order]


def run_traffic(config: TrafficConfig, progress: bool = True) -> dict[str, Any]:
    """Drive the service; returns caught-vs-truth counts per kind, the honest flag rate and its prediction."""
    rng = np.random.default_rng(config.seed)
    keys = load_keys(config.app_keys)
    app_id = config.app_id or next(iter(keys.apps))
    key_id, key = next(iter(keys.apps[app_id].items()))
    app = AppIdentity(app_id, key_id, key)
    profile = load_profile(config.parity)
    version = config.model_version or sorted(profile.versions("recapture"))[0]
    band = profile.band("recapture", version, config.runtime, config.precision)
    if band is None:
        raise ValueError(f"the profile has no band for recapture {version} {config.runtime} {config.precision}")
    model = {"name": "recapture", "version": version, "runtime": config.runtime, "precision": config.precision}
    loaded = load_weights()
    plan = _plan(config, rng)
    pool = render_pool(config.seed, config.pool)
    attacks = [c for c in pool if c.label != "genuine"]
    farm_pool = {f: [farm_capture(config.seed, f, s) for s in range(3)] for f in range(config.farms)}
    ref_cache: dict[int, dict[str, float]] = {}
    client = ServiceClient(config.url)
    tally: dict[str, dict[str, int]] = {}
    farm_sessions: dict[str, int] = {}
    replays = {"sent": 0, "caught": 0}
    for n, (kind, farm) in enumerate(tqdm(plan, disable=not progress, desc="sessions", unit="session")):
        if kind == "farm":
            cap = farm_pool[farm][n % 3]
            account = f"farm{farm}-acct{n}"
        else:
            cap = attacks[int(rng.integers(len(attacks)))] if kind == "hooked" else pool[int(rng.integers(len(pool)))]
            account = f"user{n}"
        if id(cap) not in ref_cache:
            ref_cache[id(cap)] = score_frame(loaded, cap.rgb, cap.quad)["probabilities"]
        scores = HOOKED_SCORES if kind == "hooked" else honest_scores(ref_cache[id(cap)], band, rng)
        session = client.new_session(app_id, account)
        doc = build_report(
            session["session_id"],
            session["nonce"],
            app,
            model,
            [EdgeFrame(cap.jpeg, cap.quad, scores)],
            loaded.threshold,
        )
        if kind == "forger":
            doc["frames"][0]["scores"] = dict(HOOKED_SCORES)
            doc["frames"][0]["attack_score"] = 0.02
        response = client.post_report(session["session_id"], doc)
        body = response.json()
        verdict = body.get("verdict") if response.status_code == 200 else body["error"]["verdict"]
        row = tally.setdefault(kind, {})
        row[str(verdict)] = row.get(str(verdict), 0) + 1
        if kind == "farm" and response.status_code == 200:
            farm_sessions[session["session_id"]] = farm
        if response.status_code == 200 and rng.random() < config.replay_rate:
            replays["sent"] += 1
            again = client.post_report(session["session_id"], doc)
            replays["caught"] += int(again.status_code == 409 and again.json()["error"]["verdict"] == "replayed_nonce")
    clusters = client.get("/v1/clusters")["clusters"] if config.farms else []
    client.close()
    return _summarise(tally, replays, band, clusters, farm_sessions)


def _summarise(
    tally: dict[str, dict[str, int]],
    replays: dict[str, int],
    band: Band,
    clusters: list[dict[str, Any]],
    farm_sessions: dict[str, int],
) -> dict[str, Any]:
    kinds = {}
    for kind, verdicts in sorted(tally.items()):
        n = sum(verdicts.values())
        flagged = n - verdicts.get("consistent", 0)
        kinds[kind] = {"n": n, "flagged": flagged, "flag_rate": flagged / n if n else 0.0, "verdicts": verdicts}
    honest = kinds.get("honest", {"flag_rate": 0.0, "n": 0})
    found = others = with_farm = 0
    for c in clusters:
        labels = [farm_sessions.get(s) for s in c["sessions"]]
        in_farm = sum(1 for lab in labels if lab is not None)
        found += in_farm
        others += len(labels) - in_farm
        with_farm += int(in_farm > 0)
    return {
        "kinds": kinds,
        "replays": replays,
        "honest_flag_rate": honest["flag_rate"],
        "honest_predicted_rate": band.expected_flip_rate,
        "band": {"runtime": band.runtime, "precision": band.precision, "tolerance": band.tolerance},
        "farm_sessions": len(farm_sessions),
        "farm_sessions_clustered": found,
        "clusters": len(clusters),
        "clusters_with_farm_sessions": with_farm,
        "other_sessions_clustered": others,
    }


def format_traffic(result: dict[str, Any]) -> str:
    """Caught vs ground truth, one line per client kind."""
    lines = [f"{'kind':<8} {'n':>5} {'flagged':>8} {'rate':>6}  verdicts"]
    for kind, row in result["kinds"].items():
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(row["verdicts"].items()))
        lines.append(f"{kind:<8} {row['n']:>5} {row['flagged']:>8} {row['flag_rate']:>6.3f}  {verdicts}")
    r = result["replays"]
    lines.append(f"replayed nonces: {r['caught']} of {r['sent']} refused")
    lines.append(
        f"honest flag rate {result['honest_flag_rate']:.3f} vs {result['honest_predicted_rate']:.3f} predicted by the "
        f"{result['band']['runtime']} {result['band']['precision']} band (tolerance {result['band']['tolerance']})"
    )
    if result["farm_sessions"]:
        lines.append(
            f"farm sessions in clusters: {result['farm_sessions_clustered']} of {result['farm_sessions']} "
            f"({result['clusters']} clusters)"
        )
    return "\n".join(lines)
