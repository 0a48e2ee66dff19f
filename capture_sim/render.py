"""Rendering one frame: the scene in linear light on a supersampled grid, then the camera.

The presentation (card, display or printed sheet) is evaluated at every supersample from the plane point that the
sample sees; the camera (capture_sim.camera.photograph) applies the optics PSF, integrates pixels, samples the
Bayer CFA and runs the ISP. Moire and halftone aliasing therefore arise from the camera sampling the display's
subpixels or the print's dots; nothing is painted on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import cv2
import numpy as np
from numpy.typing import NDArray

from capture_sim import appearance
from capture_sim.allocator import recycle_frame_buffers
from capture_sim.camera import decode_jpeg, photograph_jpeg
from capture_sim.color import luminance
from capture_sim.geometry import (
    CARD_CORNER_RADIUS_MM,
    CARD_HEIGHT_MM,
    CARD_THICKNESS_MM,
    CARD_WIDTH_MM,
    Camera,
    Pose,
    card_quad,
    plane_homography,
)
from capture_sim.planes import (
    BLOCK_ROWS,
    polygon_coverage,
    rect_coverage,
    roi_around,
    rounded_rect_coverage,
    sample_bent_plane,
    sample_grid,
    sample_grids,
    sample_plane,
)
from capture_sim.presentation.printing import finish_planes, print_reflectance_planes, sheet_size_mm
from capture_sim.presentation.screen import framebuffer, pwm_row_gain, screen_emission
from capture_sim.sampler import Presentation, SceneParams
from capture_sim.scene.background import shared_background
from capture_sim.scene.hand import card_drop_shadow, render_hand
from capture_sim.surfaces import (
    Drawn,
    Surface,
    align,
    back_outline,
    composite,
    outline_points,
    planes3,
    shading,
    slab_edge,
    visible,
)

FloatArray = NDArray[np.float32]
DEVICE_THICKNESS_MM = 8.0
GLARE_THRESHOLD = 0.5  # specular radiance above half of the exposed diffuse white counts as glare
HOLDABLE_WIDTH_MM = 320.0  # phones and tablets are held up to the camera; laptops and monitors stand on the desk


@dataclass(frozen=True)
class FrameRender:
    jpeg: bytes  # what the phone's camera produced
    quad: NDArray[np.float64]  # card corners in frame pixels, clockwise from top-left
    ovd_mask: NDArray[np.uint8]  # where the card's OVD region is in the frame (0 / 255)
    glare_mask: NDArray[np.uint8]  # where specular glare exceeds the threshold (0 / 255)

    @functools.cached_property
    def rgb(self) -> NDArray[np.uint8]:
        """The decoded frame, (H, W, 3) RGB: decoded on first use (a dataset writes the JPEG and never needs it)."""
        return decode_jpeg(self.jpeg)


def render_frame(
    scene: SceneParams,
    presentation: Presentation,
    pose: Pose,
    camera_rng: np.random.Generator,
    supersample: int = 2,
    content_pose: Pose | None = None,
    laminate_glare: bool = True,
) -> FrameRender:
    """Render one frame of a presentation at a pose (the pose of the card content in camera space).

    laminate_glare=False removes the genuine card's specular reflection (and so its glare mask) and nothing else:
    the same scene with and without glare isolates what the highlight does to the pipeline."""
    recycle_frame_buffers()
    s = supersample
    cam = scene.camera_model
    cam_s = Camera(cam.width * s, cam.height * s, cam.focal_px * s)
    light_rgb = scene.light.rgb
    quad = card_quad(pose, cam_s) / s

    # Background, lit as a desk under the card or as a far room behind a held card.
    desk_normal = pose.normal if scene.on_desk else np.array([0.0, -0.3, -1.0]) / np.hypot(0.3, 1.0)
    desk_light = scene.light.irradiance(desk_normal, pose.distance_mm if scene.on_desk else None)
    desk_rgb = (*(float(c) for c in desk_light * light_rgb), 0.0)  # float32 products, as numpy's
    background: FloatArray = np.asarray(
        cv2.multiply(shared_background(scene.background, cam.width, cam.height), desk_rgb), dtype=np.float32
    )
    if scene.on_desk and scene.shadow_strength > 0:
        shadow = card_drop_shadow(
            quad, cam.width, cam.height, scene.shadow_offset_px, scene.shadow_blur_px, scene.shadow_strength
        )
        background *= planes3(shadow)
    if not scene.on_desk:
        background *= np.float32(0.7)
    radiance: FloatArray = np.asarray(
        cv2.resize(background, (cam_s.width, cam_s.height), interpolation=cv2.INTER_LINEAR), dtype=np.float32
    )

    if presentation.label == "genuine":
        drawn = _draw_genuine(radiance, scene, pose, cam_s, laminate_glare)
    elif presentation.label == "screen":
        drawn = _draw_screen(radiance, scene, presentation, pose, cam_s, content_pose or scene.photo_pose)
    else:
        drawn = _draw_print(radiance, scene, presentation, pose, cam_s)
    spec_roi, roi = drawn.specular, drawn.roi

    if scene.hand.present and drawn.hold_quad is not None and drawn.hold_width_mm <= HOLDABLE_WIDTH_MM:
        _draw_hand(radiance, scene, drawn.hold_quad / s, drawn.hold_width_mm, s, cam)

    card_lum = _card_luminance(radiance, quad * s)
    gain = float(np.clip(scene.ae_target / max(card_lum, 1e-4), 0.2, 5.0))
    jpeg = photograph_jpeg(radiance, s, scene.camera, camera_rng, exposure_gain=gain)

    glare = np.zeros((cam.height, cam.width), dtype=np.uint8)
    if not roi.empty:
        h, w = roi.shape
        spec = cv2.resize(spec_roi, (w // s, h // s), interpolation=cv2.INTER_AREA) * gain  # s x s block means
        np.multiply(
            spec > GLARE_THRESHOLD, np.uint8(255), out=glare[roi.y0 // s : roi.y1 // s, roi.x0 // s : roi.x1 // s]
        )
    return FrameRender(jpeg, quad, _ovd_mask(scene, pose, cam), glare)


def _card_luminance(radiance: FloatArray, quad_s: NDArray[np.float64]) -> float:
    h, w = radiance.shape[:2]
    roi = roi_around(quad_s, w, h, 1, margin=0)
    if roi.empty:
        return float(luminance(radiance[::8, ::8]).mean())
    region = radiance[roi.slices()][::4, ::4]
    cover = polygon_coverage(quad_s, roi)[::4, ::4]
    if cover.sum() < 1:
        return float(luminance(radiance[::8, ::8]).mean())
    return float((luminance(region) * cover).sum() / cover.sum())


def _ovd_mask(scene: SceneParams, pose: Pose, cam: Camera) -> NDArray[np.uint8]:
    art = appearance.card_artwork(scene.template_id, scene.identity_seed)
    h_card = plane_homography(pose, cam, CARD_WIDTH_MM, CARD_HEIGHT_MM)
    texel = np.diag([CARD_WIDTH_MM / art.rgb.shape[1], CARD_HEIGHT_MM / art.rgb.shape[0], 1.0])
    shift = np.array([[1.0, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1.0]])
    to_frame = h_card @ texel @ shift
    to_frame = np.array([[1.0, 0, -0.5], [0, 1.0, -0.5], [0, 0, 1.0]]) @ to_frame
    warped = cv2.warpPerspective(art.ovd_mask, to_frame, (cam.width, cam.height), flags=cv2.INTER_LINEAR)
    return np.where(warped > 0.5, 255, 0).astype(np.uint8)


def _shown_content(scene: SceneParams, source: str, pose: Pose) -> NDArray[np.uint8]:
    """What the attacker displays or prints: a flat scan of the card, or a photo of it taken at `pose`."""
    if source == "scan":
        return appearance.scan_content(scene.template_id, scene.identity_seed)
    photo_light = replace(scene.light, torch=0.0)  # the attacker's photo was taken without our torch
    return appearance.photo_content(
        scene.template_id, scene.identity_seed, pose, photo_light, scene.laminate_shininess, scene.laminate_f0
    )


def _draw_genuine(
    radiance: FloatArray, scene: SceneParams, pose: Pose, cam_s: Camera, laminate_glare: bool = True
) -> Drawn:
    surf = Surface(0.0, 0.0, CARD_WIDTH_MM, CARD_HEIGHT_MM, CARD_CORNER_RADIUS_MM)
    h_plane = plane_homography(pose, cam_s, CARD_WIDTH_MM, CARD_HEIGHT_MM)
    outline = outline_points(h_plane, surf)
    back = back_outline(pose, cam_s, surf, CARD_WIDTH_MM, CARD_HEIGHT_MM, CARD_THICKNESS_MM)
    back = back if len(back) else outline
    roi = align(roi_around(np.concatenate([outline, back]), cam_s.width, cam_s.height, 1), cam_s, scene)
    level = scene.light.irradiance(pose.normal, pose.distance_mm)
    slab_edge(
        radiance,
        pose,
        cam_s,
        surf,
        CARD_THICKNESS_MM,
        0.75,
        level,
        roi,
        scene.light.rgb,
        CARD_WIDTH_MM,
        CARD_HEIGHT_MM,
    )
    samples = sample_plane(np.linalg.inv(h_plane), roi)
    art = appearance.card_artwork(scene.template_id, scene.identity_seed)
    albedo = appearance.albedo_linear(scene.template_id, scene.identity_seed)
    rad = appearance.card_radiance(
        art, albedo, pose, scene.light, scene.laminate_shininess, scene.laminate_f0, laminate_glare
    )
    both = sample_grid(rad.rgbs, samples, 0.0, 0.0, CARD_WIDTH_MM, CARD_HEIGHT_MM)
    layer, spec = np.empty((*both.shape[:2], 3), np.float32), np.empty(both.shape[:2], np.float32)
    cv2.mixChannels([both], [layer, spec], [0, 0, 1, 1, 2, 2, 3, 3])  # radiance and specular, in one pass
    cover = rounded_rect_coverage(h_plane, roi, surf.x0, surf.y0, surf.x1, surf.y1, surf.corner_mm)
    composite(radiance[roi.slices()], layer, cover)
    return Drawn(roi, spec * cover, outline)


def _draw_screen(
    radiance: FloatArray,
    scene: SceneParams,
    pres: Presentation,
    pose: Pose,
    cam_s: Camera,
    content_pose: Pose,
) -> Drawn:
    panel = pres.panel
    assert panel is not None
    k = min(
        panel.content_scale,
        0.97 * panel.screen_width_mm / CARD_WIDTH_MM,
        0.97 * panel.screen_height_mm / CARD_HEIGHT_MM,
    )
    # The display plane is the card plane scaled by k about the camera centre: the card's quad is unchanged.
    dev_pose = Pose(
        pose.roll_deg,
        pose.tilt_x_deg,
        pose.tilt_y_deg,
        pose.center_x_mm * k,
        pose.center_y_mm * k,
        pose.distance_mm * k,
    )
    w_mm, h_mm = CARD_WIDTH_MM * k, CARD_HEIGHT_MM * k
    ax = pres.screen_position[0] * (panel.screen_width_mm - w_mm)
    ay = pres.screen_position[1] * (panel.screen_height_mm - h_mm)
    active = Surface(-ax, -ay, panel.screen_width_mm - ax, panel.screen_height_mm - ay, 0.0)
    b = panel.bezel_mm
    device = Surface(active.x0 - b, active.y0 - b, active.x1 + b, active.y1 + b, min(8.0, b + 4.0))
    h_plane = plane_homography(dev_pose, cam_s, w_mm, h_mm)
    pts = visible(h_plane, device, cam_s)
    back = back_outline(dev_pose, cam_s, device, w_mm, h_mm, DEVICE_THICKNESS_MM)
    roi = align(
        roi_around(
            np.concatenate([pts, back, card_quad(pose, cam_s)]),
            cam_s.width,
            cam_s.height,
            1,
        ),
        cam_s,
        scene,
    )
    level = scene.light.irradiance(pose.normal, dev_pose.distance_mm)
    slab_edge(radiance, dev_pose, cam_s, device, DEVICE_THICKNESS_MM, 0.08, level, roi, scene.light.rgb, w_mm, h_mm)
    ppmm = panel.ppi / 25.4
    to_display_px = np.array([[ppmm, 0.0, ax * ppmm], [0.0, ppmm, ay * ppmm], [0.0, 0.0, 1.0]])
    pixels = sample_plane(to_display_px @ np.linalg.inv(h_plane), roi)  # in display pixels, not mm
    content = _shown_content(scene, pres.content_source, content_pose)
    card_px = (max(2, round(w_mm * ppmm)), max(2, round(h_mm * ppmm)))
    fb = framebuffer(content, panel, card_px)
    emission = screen_emission(fb, pixels.x_mm, pixels.y_mm, pixels.footprint_mm, panel, (ax * ppmm, ay * ppmm))
    rows = np.arange(roi.y0, roi.y1) // (cam_s.width // scene.width)
    gain = pwm_row_gain(rows, panel, scene.exposure_s, scene.line_time_s, scene.shutter_phase)
    row_gain = gain.astype(np.float32)[:, None, None] if np.any(gain != 1.0) else None
    in_active = rounded_rect_coverage(h_plane, roi, active.x0, active.y0, active.x1, active.y1, 0.0)
    shininess = float(np.exp(np.log(2000.0) * (1.0 - panel.matte_haze) + np.log(40.0) * panel.matte_haze))
    diffuse, spec = shading(dev_pose, scene, device, w_mm, h_mm, shininess, panel.glass_reflectance)
    rect_px = [(v + o) * ppmm for v, o in ((device.x0, ax), (device.y0, ay), (device.x1, ax), (device.y1, ay))]
    # one-channel remaps: OpenCV interpolates them more finely
    spec_s, diff_s = sample_grids([spec, diffuse], pixels, *rect_px)
    glass_albedo = np.float32(0.01 + 0.03 * panel.matte_haze)  # diffuse reflectance over the active area
    cover = rounded_rect_coverage(h_plane, roi, device.x0, device.y0, device.x1, device.y1, device.corner_mm)
    reflection = (glass_albedo, diff_s, spec_s, scene.light.rgb)
    _light_and_composite(radiance[roi.slices()], emission, row_gain, in_active, reflection, cover)
    return Drawn(roi, spec_s * cover, outline_points(h_plane, device), device.x1 - device.x0)


def _light_and_composite(
    dst: FloatArray,
    emission: FloatArray,
    row_gain: FloatArray | None,
    in_active: FloatArray,
    reflection: tuple[np.float32, FloatArray, FloatArray, FloatArray],
    cover: FloatArray,
) -> None:
    """emission <- emission x PWM row gain + (albedo x diffuse + specular) x light colour, then composited into
    dst by cover; the albedo is the glass's over the active area and 0.04 on the bezel (where the panel emits 0).
    In blocks of rows, each block finished while it is in cache."""
    glass_albedo, diffuse, specular, light_rgb = reflection
    scale = (*(float(c) for c in light_rgb), 0.0)
    bezel = np.float32(0.04)
    for r0 in range(0, emission.shape[0], BLOCK_ROWS):
        rows = slice(r0, r0 + BLOCK_ROWS)
        if row_gain is not None:
            emission[rows] *= row_gain[rows]
        reflected = (bezel + (glass_albedo - bezel) * in_active[rows]) * diffuse[rows] + specular[rows]
        cv2.add(emission[rows], cv2.multiply(planes3(reflected), scale), dst=emission[rows])
        composite(dst[rows], emission[rows], cover[rows])


def _draw_print(radiance: FloatArray, scene: SceneParams, pres: Presentation, pose: Pose, cam_s: Camera) -> Drawn:
    params = pres.printing
    assert params is not None
    sheet_w, sheet_h = sheet_size_mm(params)
    ox, oy = pres.sheet_offset_mm
    sheet = Surface(-ox, -oy, sheet_w - ox, sheet_h - oy, 0.0)
    h_plane = plane_homography(pose, cam_s, CARD_WIDTH_MM, CARD_HEIGHT_MM)
    outline = visible(h_plane, sheet, cam_s)
    bulge_px = int(abs(pres.sag_mm) / pose.distance_mm * max(cam_s.width, cam_s.height))
    points = np.concatenate([outline, card_quad(pose, cam_s)])
    roi = align(roi_around(points, cam_s.width, cam_s.height, 1, margin=8 + bulge_px), cam_s, scene)
    if pres.sag_mm:
        samples = sample_bent_plane(pose, cam_s, CARD_WIDTH_MM, CARD_HEIGHT_MM, pres.sag_mm, roi)
        cover = rect_coverage(samples, sheet.x0, sheet.y0, sheet.x1, sheet.y1)
    else:
        samples = sample_plane(np.linalg.inv(h_plane), roi)
        cover = rounded_rect_coverage(h_plane, roi, sheet.x0, sheet.y0, sheet.x1, sheet.y1, 0.0)
    content = _shown_content(scene, pres.content_source, scene.photo_pose)
    planes, paper = print_reflectance_planes(
        content, samples.x_mm, samples.y_mm, samples.footprint_mm, params, seed=scene.identity_seed
    )
    shininess = 1000.0 if params.laminated else 8.0 + 600.0 * params.gloss**2
    f0 = 0.04 if params.laminated else 0.02 + 0.03 * params.gloss
    diffuse, spec = shading(pose, scene, sheet, CARD_WIDTH_MM, CARD_HEIGHT_MM, shininess, f0)
    diff_s, spec_s = sample_grids([diffuse, spec], samples, sheet.x0, sheet.y0, sheet.x1, sheet.y1)
    light, region = (*(float(c) for c in scene.light.rgb), 0.0), radiance[roi.slices()]
    for r0 in range(0, region.shape[0], BLOCK_ROWS):  # (reflectance x diffuse + specular) x light, composited
        rows = slice(r0, r0 + BLOCK_ROWS)
        channels = finish_planes(planes, paper, rows)  # print_reflectance's rows, one plane per channel
        for c in channels:
            c *= diff_s[rows]
            c += spec_s[rows]
        block = np.asarray(cv2.merge(channels), dtype=np.float32)
        cv2.multiply(block, light, dst=block)
        composite(region[rows], block, cover[rows])
    hold = outline_points(h_plane, sheet) if params.sheet == "cut" else None
    return Drawn(roi, spec_s * cover, hold)


def _draw_hand(
    radiance: FloatArray, scene: SceneParams, quad: NDArray[np.float64], width_mm: float, s: int, cam: Camera
) -> None:
    """A hand holding the presentation by one edge of `quad` (frame pixels), with its shadow."""
    px_per_mm = float(np.linalg.norm(quad[1] - quad[0]) / width_mm)
    if not 0.5 <= px_per_mm <= 100.0 or np.abs(quad).max() > 10 * max(cam.width, cam.height):
        return  # the held edge is far outside the frame: the hand is not in the picture
    rgb, alpha, shadow = render_hand(scene.hand, quad, px_per_mm, cam.width, cam.height)
    ys, xs = np.nonzero((alpha > 0) | (shadow < 1))
    if ys.size == 0:
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    size = ((x1 - x0) * s, (y1 - y0) * s)
    level = scene.light.typical_irradiance(0.8 * scene.pose.distance_mm)  # the hand is nearer than the card

    def up(a: NDArray[np.float32]) -> FloatArray:
        return np.asarray(cv2.resize(np.ascontiguousarray(a), size, interpolation=cv2.INTER_LINEAR), np.float32)

    region = radiance[y0 * s : y1 * s, x0 * s : x1 * s]
    region *= planes3(up(shadow[y0:y1, x0:x1]))
    composite(region, up(rgb[y0:y1, x0:x1]) * np.float32(level) * scene.light.rgb, up(alpha[y0:y1, x0:x1]))
