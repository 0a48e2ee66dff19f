import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nine simulated captures (three pairs: genuine, screen, print), rendered once per test session."""
    from capture_sim.capture import SimConfig
    from capture_sim.dataset import simulate

    folder = tmp_path_factory.mktemp("tiny") / "set"
    simulate(folder, 9, SimConfig(seed=5), workers=1, progress=False)
    return folder


@pytest.fixture(scope="session")
def export_calibrations() -> dict[str, Any]:
    """Small simulator calibration sets (recapture: 9 mosaics, one per species; ovd: 2 sequences), seed 11."""
    from quantize.calibration import simulate_calibration

    return {
        "recapture": simulate_calibration("recapture", seed=11, count=9),
        "ovd": simulate_calibration("ovd", seed=11, count=2),
    }


@pytest.fixture(scope="session")
def exported_bundle(tmp_path_factory: pytest.TempPathFactory, export_calibrations: dict[str, Any]) -> Path:
    """One release bundle (both models, every target, development key) exported once per test session.

    Tests that modify it must copy it first (shutil.copytree). The development key sits next to it
    (quantize.manifest.dev_key_path(bundle)). Export takes about a minute on 2 busy cores (litert-torch conversions).
    """
    from quantize.bundle import export_bundle

    out = tmp_path_factory.mktemp("export") / "bundle"
    saved = os.environ.pop("CARDLIVE_SIGNING_KEY", None)
    try:
        export_bundle(out, calibrations=export_calibrations)
    finally:
        if saved is not None:
            os.environ["CARDLIVE_SIGNING_KEY"] = saved
    return out
