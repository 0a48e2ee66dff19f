import os
from pathlib import Path

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
