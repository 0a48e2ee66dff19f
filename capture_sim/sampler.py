"""Drawing the parameters of a capture: the nuisance shared by a pair, and each variant's presentation.

Paired rendering: `sample_scene(seed, pair_id, ...)` draws everything that is not the presentation (card, pose,
light, background, hand, camera, JPEG) from the pair's own stream, so the genuine, screen and print variants of a
pair share it and differ only in the physics of the presentation, drawn by `sample_presentation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from capture_sim.camera import CameraParams, sample_camera_params
from capture_sim.cards import list_templates
from capture_sim.geometry import CARD_WIDTH_MM, Camera, Pose
from capture_sim.lighting import LightParams, sample_area_lights, sample_light_params
from capture_sim.presentation.printing import PrintParams, card_offset_on_sheet_mm, sample_print_params
from capture_sim.presentation.screen import PanelParams, sample_panel_params
from capture_sim.rng import make_rng
from capture_sim.scene.background import BackgroundParams, sample_background_params
from capture_sim.scene.hand import HandParams, sample_hand_params
from capture_sim.species import PRINT_FAMILIES, SCREEN_FAMILIES, label_of
from capture_sim.validation import check_range

FRAME_SIZES = ((1280, 720), (1920, 1080))


@dataclass(frozen=True)
class TiltParams:
    """A deliberate tilt sweep about an in-plane axis plus hand tremor, for sequences."""

    amplitude_deg: float  # the sweep goes from -amplitude to +amplitude around the base pose
    axis_deg: float  # in-plane direction of the tilt axis (0 = about the card's x axis)
    tremor_deg: float  # standard deviation of the per-frame rotational tremor
    tremor_mm: float  # standard deviation of the per-frame translational tremor

    def __post_init__(self) -> None:
        check_range("tilt.amplitude_deg", self.amplitude_deg, 0.0, 35.0)
        check_range("tilt.axis_deg", self.axis_deg, -180.0, 180.0)
        check_range("tilt.tremor_deg", self.tremor_deg, 0.0, 3.0)
        check_range("tilt.tremor_mm", self.tremor_mm, 0.0, 5.0)


def sample_tilt(rng: np.random.Generator) -> TiltParams:
    """The user's tilt sweep: 8-25 degrees either way about the card's x or y axis (give or take 10), tremor."""
    return TiltParams(
        amplitude_deg=float(rng.uniform(8.0, 25.0)),
        axis_deg=float(rng.choice([0.0, 90.0]) + rng.normal(0.0, 10.0)),
        tremor_deg=float(rng.uniform(0.1, 0.8)),
        tremor_mm=float(rng.uniform(0.1, 1.0)),
    )


@dataclass(frozen=True)
class SceneParams:
    """Everything a pair shares."""

    template_id: str
    identity_seed: int
    width: int
    height: int
    focal_px: float
    pose: Pose
    light: LightParams
    background: BackgroundParams
    on_desk: bool  # the card lies on the desk (shadow, desk lit like the card) or is held in the air
    hand: HandParams
    camera: CameraParams
    laminate_shininess: float
    laminate_f0: float
    shadow_offset_px: tuple[float, float]
    shadow_blur_px: float
    shadow_strength: float
    tilt: TiltParams
    exposure_s: float
    line_time_s: float
    shutter_phase: float
    ae_target: float
    photo_pose: Pose  # the pose of the genuine card in the photo an attacker shows or prints ("photo" sources)

    @property
    def camera_model(self) -> Camera:
        return Camera(self.width, self.height, self.focal_px)


@dataclass(frozen=True)
class Presentation:
    """How the card is presented: species and, for attacks, the instrument's parameters."""

    label: str
    species: str
    panel: PanelParams | None = None
    printing: PrintParams | None = None
    sheet_offset_mm: tuple[float, float] = (0.0, 0.0)  # card's top-left on the sheet (prints)
    screen_position: tuple[float, float] = (
        0.5,
        0.5,
    )  # where the card sits in the free space of the display (fractions)
    content_source: str = "scan"  # "scan", "photo" or "video"
    sag_mm: float = 0.0  # prints: how far the held sheet bulges along its normal between its left and right edges


def _sample_pose(rng: np.random.Generator, camera: Camera) -> Pose:
    """Card across the frame: its long side spans `fill` of the frame width (wider share in portrait frames)."""
    fill = rng.uniform(0.45, 0.85) if camera.width > camera.height else rng.uniform(0.6, 0.92)
    across = camera.width
    distance = camera.focal_px * CARD_WIDTH_MM / (fill * across)
    tilt_total = rng.uniform(0.0, 30.0) * math.sqrt(rng.uniform(0.0, 1.0))
    tilt_dir = rng.uniform(0.0, 2.0 * math.pi)
    half_w = camera.width / camera.focal_px * distance / 2.0
    half_h = camera.height / camera.focal_px * distance / 2.0
    slack_x = max(half_w - fill * across / camera.focal_px * distance / 2.0, 0.0)
    slack_y = max(half_h - fill * across / camera.focal_px * distance / 2.0 * 0.63, 0.0)
    out_of_frame = rng.random() < 0.03
    spread = 1.6 if out_of_frame else 0.7
    return Pose(
        roll_deg=float(rng.normal(0.0, 5.0) if rng.random() < 0.85 else rng.uniform(-25.0, 25.0)),
        tilt_x_deg=float(tilt_total * math.cos(tilt_dir)),
        tilt_y_deg=float(tilt_total * math.sin(tilt_dir)),
        center_x_mm=float(rng.uniform(-1.0, 1.0) * slack_x * spread),
        center_y_mm=float(rng.uniform(-1.0, 1.0) * slack_y * spread),
        distance_mm=float(distance),
    )


def sample_scene(seed: int, pair_id: int, size: tuple[int, int] = (1280, 720)) -> SceneParams:
    """The nuisance of one pair. size is the landscape frame size; portrait frames swap it."""
    if tuple(size) not in FRAME_SIZES:
        raise ValueError(f"frame size {size} is not supported; expected one of {list(FRAME_SIZES)}")
    rng = make_rng(seed, pair_id, "scene")
    portrait = rng.random() < 0.6
    width, height = (size[1], size[0]) if portrait else size
    hfov = math.radians(rng.uniform(60.0, 75.0))
    focal = max(width, height) / 2.0 / math.tan(hfov / 2.0)
    camera = Camera(width, height, focal)
    pose = _sample_pose(rng, camera)
    video = bool(rng.random() < 0.35)
    on_desk = bool(rng.random() < 0.5)
    templates = list_templates()
    return SceneParams(
        template_id=templates[int(rng.integers(len(templates)))],
        identity_seed=int(rng.integers(0, 2**31 - 1)),
        width=width,
        height=height,
        focal_px=focal,
        pose=pose,
        light=replace(sample_light_params(rng), area=sample_area_lights(make_rng(seed, pair_id, "environment"))),
        background=sample_background_params(rng),
        on_desk=on_desk,
        hand=sample_hand_params(rng, holding=not on_desk or rng.random() < 0.2),
        camera=sample_camera_params(rng, video=video),
        laminate_shininess=float(np.exp(rng.uniform(np.log(300.0), np.log(3000.0)))),
        laminate_f0=float(rng.uniform(0.035, 0.06)),
        shadow_offset_px=(float(rng.uniform(-12, 12)), float(rng.uniform(2, 16))),
        shadow_blur_px=float(rng.uniform(3.0, 14.0)),
        shadow_strength=float(rng.uniform(0.15, 0.5) if on_desk else 0.0),
        tilt=sample_tilt(rng),
        exposure_s=float(1.0 / rng.uniform(30.0, 500.0)),
        line_time_s=float(rng.uniform(8e-6, 30e-6) * 1080.0 / max(width, height)),
        shutter_phase=float(rng.uniform(0.0, 1.0)),
        ae_target=float(rng.uniform(0.28, 0.5)),
        photo_pose=Pose(
            roll_deg=0.0,
            tilt_x_deg=float(rng.uniform(-15, 15)),
            tilt_y_deg=float(rng.uniform(-15, 15)),
            center_x_mm=0.0,
            center_y_mm=0.0,
            distance_mm=float(rng.uniform(90.0, 160.0)),
        ),
    )


def sample_presentation(seed: int, pair_id: int, label: str, species_pool: tuple[str, ...]) -> Presentation:
    """The presentation of one variant of a pair; the family is drawn from the pool's families of that label."""
    rng = make_rng(seed, pair_id, f"presentation:{label}")
    families = [s for s in species_pool if label_of(s) == label]
    if not families:
        raise ValueError(f"no species of label {label!r} in {species_pool}")
    species = families[int(rng.integers(len(families)))]
    if label == "genuine":
        return Presentation(label=label, species=species)
    if species in SCREEN_FAMILIES:
        panel = sample_panel_params(rng, species)
        return Presentation(
            label=label,
            species=species,
            panel=panel,
            screen_position=(float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 1.0))),
            content_source=panel.content_source,
        )
    assert species in PRINT_FAMILIES
    params = sample_print_params(rng, species)
    offset = card_offset_on_sheet_mm(params, rng)
    source = "scan" if rng.random() < 0.6 else "photo"
    flat = rng.random() < 0.5 or params.laminated
    limit = 1.5 if params.sheet == "cut" else 5.0
    return Presentation(
        label=label,
        species=species,
        printing=params,
        sheet_offset_mm=offset,
        content_source=source,
        sag_mm=0.0 if flat else float(rng.uniform(-limit, limit)),
    )
