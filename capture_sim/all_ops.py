"""Imports every simulator module that registers image ops (see capture_sim.ops)."""

import capture_sim.camera
import capture_sim.cards
import capture_sim.lighting
import capture_sim.planes
import capture_sim.presentation.inks
import capture_sim.presentation.printing
import capture_sim.presentation.screen
import capture_sim.scene.background
import capture_sim.scene.hand
import capture_sim.sensor  # noqa: F401
