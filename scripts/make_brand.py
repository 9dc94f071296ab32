#!/usr/bin/env python3
"""Draw Sunstream's brand images into custom_components/sunstream/brand/.

The mark is a sun rising over two waves of a stream; the logo adds the
wordmark "sunstream" ("sun" in the sun's orange, "stream" in the water's
blue, legible on light and dark backgrounds). Everything is geometry:
shapes are signed distance fields in a unit square, sampled on a 4×4 grid
inside each pixel that an edge crosses (supersampling), composited over a
transparent background and written by a small zlib + struct PNG encoder.
Standard library only, so it runs with any Python 3:

    python3 scripts/make_brand.py

Output: icon.png (256×256), icon@2x.png (512×512), logo.png (height 128)
and logo@2x.png (height 256), RGBA, tagged sRGB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
import math
from pathlib import Path
import struct
import zlib

BRAND_DIR = Path(__file__).resolve().parent.parent / "custom_components" / "sunstream" / "brand"

Point = tuple[float, float]
RGB = tuple[float, float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1

SUPERSAMPLE = 4  # samples per pixel edge where an edge crosses the pixel


def hex_rgb(code: str) -> RGB:
    return (int(code[1:3], 16) / 255, int(code[3:5], 16) / 255, int(code[5:7], 16) / 255)


SUN_TOP = hex_rgb("#FFCA28")
SUN_BOTTOM = hex_rgb("#FB8C00")
RAY = hex_rgb("#FFA726")
WAVE_UPPER = hex_rgb("#29B6F6")
WAVE_LOWER = hex_rgb("#1E88E5")
WORD_SUN = hex_rgb("#F57C00")
WORD_STREAM = hex_rgb("#1E88E5")


# --- shapes: signed distance (negative inside) in the shape's own units ------


class Shape:
    """A region of the plane with a signed distance and a bounding box."""

    box: Box

    def distance(self, x: float, y: float) -> float:
        raise NotImplementedError


@dataclass
class Disc(Shape):
    cx: float
    cy: float
    r: float

    def __post_init__(self) -> None:
        self.box = (self.cx - self.r, self.cy - self.r, self.cx + self.r, self.cy + self.r)

    def distance(self, x: float, y: float) -> float:
        return math.hypot(x - self.cx, y - self.cy) - self.r


class Stroke(Shape):
    """A polyline drawn with a round pen of the given width."""

    def __init__(self, points: Sequence[Point], width: float) -> None:
        self.half = width / 2
        self.segments: list[tuple[float, float, float, float, float, Box]] = []
        for (ax, ay), (bx, by) in pairwise(points):
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            inv = 1 / length2 if length2 else 0.0
            seg_box = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
            self.segments.append((ax, ay, dx, dy, inv, seg_box))
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        h = self.half
        self.box = (min(xs) - h, min(ys) - h, max(xs) + h, max(ys) + h)

    def distance(self, x: float, y: float) -> float:
        # Exact up to a pen width outside the stroke (render() needs exact
        # values only within a pixel of the edge); beyond, just "outside".
        best = 4 * self.half
        for ax, ay, dx, dy, inv, (x0, y0, x1, y1) in self.segments:
            # A segment whose box is farther than the best so far cannot win.
            if x < x0 - best or x > x1 + best or y < y0 - best or y > y1 + best:
                continue
            t = ((x - ax) * dx + (y - ay) * dy) * inv
            t = 0.0 if t < 0 else min(t, 1.0)
            d = math.hypot(x - ax - t * dx, y - ay - t * dy)
            best = min(best, d)
        return best - self.half


class Union(Shape):
    def __init__(self, *parts: Shape) -> None:
        self.parts = parts
        self.box = (
            min(p.box[0] for p in parts),
            min(p.box[1] for p in parts),
            max(p.box[2] for p in parts),
            max(p.box[3] for p in parts),
        )

    def distance(self, x: float, y: float) -> float:
        best = math.inf
        for part in self.parts:
            x0, y0, x1, y1 = part.box
            # The box holds the part, so it is at least this far away.
            if math.hypot(max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1)) < best:
                best = min(best, part.distance(x, y))
        return best


class Above(Shape):
    """Everything above the curve ``y = f(x)`` (y grows downwards)."""

    def __init__(self, f: Callable[[float], float], box: Box) -> None:
        self.f = f
        self.box = box

    def distance(self, x: float, y: float) -> float:
        h = 1e-4
        slope = (self.f(x + h) - self.f(x - h)) / (2 * h)
        return (y - self.f(x)) / math.hypot(1.0, slope)


class Clip(Shape):
    """The part of ``shape`` inside ``region``."""

    def __init__(self, shape: Shape, region: Shape) -> None:
        self.shape, self.region = shape, region
        self.box = shape.box

    def distance(self, x: float, y: float) -> float:
        return max(self.shape.distance(x, y), self.region.distance(x, y))


class Moved(Shape):
    """``shape`` scaled by ``k`` about the origin, then shifted by (dx, dy)."""

    def __init__(self, shape: Shape, k: float, dx: float, dy: float) -> None:
        self.shape, self.k, self.dx, self.dy = shape, k, dx, dy
        x0, y0, x1, y1 = shape.box
        self.box = (x0 * k + dx, y0 * k + dy, x1 * k + dx, y1 * k + dy)

    def distance(self, x: float, y: float) -> float:
        return self.shape.distance((x - self.dx) / self.k, (y - self.dy) / self.k) * self.k


# --- paint -------------------------------------------------------------------

Paint = Callable[[float, float], RGB]


def solid(rgb: RGB) -> Paint:
    return lambda _x, _y: rgb


def vertical_gradient(top: RGB, bottom: RGB, y0: float, y1: float) -> Paint:
    def paint(_x: float, y: float) -> RGB:
        t = min(max((y - y0) / (y1 - y0), 0.0), 1.0)
        return (
            top[0] + (bottom[0] - top[0]) * t,
            top[1] + (bottom[1] - top[1]) * t,
            top[2] + (bottom[2] - top[2]) * t,
        )

    return paint


@dataclass
class Layer:
    shape: Shape
    paint: Paint


# --- the mark ----------------------------------------------------------------

SUN_C: Point = (0.5, 0.47)
SUN_R = 0.2
RAY_IN, RAY_OUT, RAY_W = 0.275, 0.375, 0.06
WAVE_W = 0.085
WAVE_A = 0.03
WAVE_PERIOD = 0.4
GAP = 0.035


def sample(f: Callable[[float], Point], t0: float, t1: float, n: int) -> list[Point]:
    return [f(t0 + (t1 - t0) * i / n) for i in range(n + 1)]


def wave_y(base: float) -> Callable[[float], float]:
    return lambda x: base + WAVE_A * math.sin(2 * math.pi * (x - 0.1) / WAVE_PERIOD)


def wave(base: float, x0: float, x1: float) -> Stroke:
    f = wave_y(base)
    return Stroke(sample(lambda x: (x, f(x)), x0, x1, 96), WAVE_W)


def mark_layers() -> list[Layer]:
    upper = wave(0.705, 0.09, 0.91)
    lower = wave(0.845, 0.21, 0.79)
    # The sun sets behind the upper wave, with a clear gap above the water.
    horizon = wave_y(0.705 - WAVE_W / 2 - GAP)
    sun = Clip(Disc(*SUN_C, SUN_R), Above(horizon, (0.0, 0.0, 1.0, 1.0)))
    rays = Union(
        *(
            Stroke(
                [
                    (SUN_C[0] + RAY_IN * math.cos(a), SUN_C[1] + RAY_IN * math.sin(a)),
                    (SUN_C[0] + RAY_OUT * math.cos(a), SUN_C[1] + RAY_OUT * math.sin(a)),
                ],
                RAY_W,
            )
            for a in (math.radians(-180 + 30 * i) for i in range(7))
        )
    )
    sun_paint = vertical_gradient(SUN_TOP, SUN_BOTTOM, SUN_C[1] - SUN_R, SUN_C[1] + SUN_R * 0.7)
    return [
        Layer(rays, solid(RAY)),
        Layer(sun, sun_paint),
        Layer(upper, solid(WAVE_UPPER)),
        Layer(lower, solid(WAVE_LOWER)),
    ]


# --- the wordmark: monoline lowercase letters ----------------------------------
# Units: x-height 1, baseline at y = 1, x-height line at y = 0 (y grows down).

PEN = 0.21
TOP = PEN / 2  # centre line of strokes touching the x-height line
BOTTOM = 1 - PEN / 2  # ... and the baseline
MID = 0.5
R = (BOTTOM - TOP) / 2  # radius of a round letter's centre line
ASCENDER = -0.32  # top of the t's stem


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float) -> list[Point]:
    """Points on an elliptical arc from ``a0`` to ``a1`` degrees (clockwise on screen)."""
    n = max(8, int(abs(a1 - a0) / 4))
    return sample(
        lambda a: (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a))),
        a0,
        a1,
        n,
    )


def letter_s() -> tuple[list[list[Point]], float]:
    w = 1.45 * R
    a, b = w / 2, (BOTTOM - TOP) / 4
    top = arc(w / 2, TOP + b, a, b, -20, -270)
    bottom = arc(w / 2, BOTTOM - b, a, b, -90, 160)
    return [top + bottom[1:]], w


def letter_u() -> tuple[list[list[Point]], float]:
    left = [(0.0, TOP), (0.0, MID), *arc(R, MID, R, R, 180, 0)[1:]]
    return [left, [(2 * R, TOP), (2 * R, BOTTOM)]], 2 * R


def letter_n() -> tuple[list[list[Point]], float]:
    right = [*arc(R, MID, R, R, 180, 360), (2 * R, BOTTOM)]
    return [[(0.0, TOP), (0.0, BOTTOM)], right], 2 * R


def letter_t() -> tuple[list[list[Point]], float]:
    hook = 0.42 * R
    stem = [(0.0, ASCENDER), (0.0, BOTTOM - hook), *arc(hook, BOTTOM - hook, hook, hook, 180, 90)]
    stem.append((hook * 1.9, BOTTOM))
    bar = [(-0.5 * R, TOP), (1.0 * R, TOP)]
    return [stem, bar], 1.0 * R


def letter_r() -> tuple[list[list[Point]], float]:
    shoulder = arc(R, MID, R, R, 180, 292)
    return [[(0.0, TOP), (0.0, BOTTOM)], shoulder], shoulder[-1][0]


def letter_e() -> tuple[list[list[Point]], float]:
    bowl = [(0.0, MID), (2 * R, MID), *arc(R, MID, R, R, 360, 38)]
    return [bowl], 2 * R


def letter_a() -> tuple[list[list[Point]], float]:
    return [arc(R, MID, R, R, 0, 360), [(2 * R, TOP), (2 * R, BOTTOM)]], 2 * R


def letter_m() -> tuple[list[list[Point]], float]:
    r = 0.78 * R
    cy = TOP + r
    first = [*arc(r, cy, r, r, 180, 360), (2 * r, BOTTOM)]
    second = [*arc(3 * r, cy, r, r, 180, 360), (4 * r, BOTTOM)]
    return [[(0.0, TOP), (0.0, BOTTOM)], first, second], 4 * r


LETTERS = {
    "s": letter_s,
    "u": letter_u,
    "n": letter_n,
    "t": letter_t,
    "r": letter_r,
    "e": letter_e,
    "a": letter_a,
    "m": letter_m,
}
TRACKING = 0.24  # clear space between letters' centre-line extents, in x-heights


def word(text: str, x: float) -> tuple[Shape, float]:
    """``text`` as one shape starting at ``x``; returns it and the end x."""
    strokes: list[Shape] = []
    for ch in text:
        lines, width = LETTERS[ch]()
        x += PEN / 2 + (0.5 * R if ch == "t" else 0.0)
        strokes.extend(Stroke([(px + x, py) for px, py in line], PEN) for line in lines)
        x += width + PEN / 2 + TRACKING - (0.1 if ch == "t" else 0.0)
    return Union(*strokes), x - TRACKING


def wordmark_layers(x_height: float, x: float, baseline: float) -> list[Layer]:
    sun, end = word("sun", 0.0)
    stream, _ = word("stream", end + TRACKING)
    return [
        Layer(Moved(sun, x_height, x, baseline - x_height), solid(WORD_SUN)),
        Layer(Moved(stream, x_height, x, baseline - x_height), solid(WORD_STREAM)),
    ]


# --- rendering -----------------------------------------------------------------


def content_box(layers: Sequence[Layer]) -> Box:
    return (
        min(layer.shape.box[0] for layer in layers),
        min(layer.shape.box[1] for layer in layers),
        max(layer.shape.box[2] for layer in layers),
        max(layer.shape.box[3] for layer in layers),
    )


def shade(layers: Sequence[Layer], x: float, y: float, px: float) -> tuple[float, ...]:
    """Premultiplied RGBA of the pixel whose centre is (x, y), ``px`` units wide."""
    r = g = b = a = 0.0
    for layer in layers:
        x0, y0, x1, y1 = layer.shape.box
        if x < x0 - px or x > x1 + px or y < y0 - px or y > y1 + px:
            continue
        d = layer.shape.distance(x, y)
        if d > px:
            continue
        if d < -px:
            cover = 1.0
        else:
            hits = 0
            n = SUPERSAMPLE
            for i in range(n):
                for j in range(n):
                    sx = x + ((i + 0.5) / n - 0.5) * px
                    sy = y + ((j + 0.5) / n - 0.5) * px
                    hits += layer.shape.distance(sx, sy) <= 0
            cover = hits / (n * n)
            if not cover:
                continue
        cr, cg, cb = layer.paint(x, y)
        keep = 1 - cover
        r, g, b = cr * cover + r * keep, cg * cover + g * keep, cb * cover + b * keep
        a = cover + a * keep
    return r, g, b, a


def render(layers: Sequence[Layer], width: int, height: int, box: Box) -> bytes:
    """RGBA rows (each with PNG filter byte 0) of ``box`` mapped onto the image."""
    x0, y0, x1, y1 = box
    px = max((x1 - x0) / width, (y1 - y0) / height)
    # Centre the box in the image.
    ox = x0 - (width * px - (x1 - x0)) / 2
    oy = y0 - (height * px - (y1 - y0)) / 2
    out = bytearray()
    for row in range(height):
        out.append(0)
        y = oy + (row + 0.5) * px
        for col in range(width):
            r, g, b, a = shade(layers, ox + (col + 0.5) * px, y, px)
            if a <= 0:
                out += b"\0\0\0\0"
                continue
            out += bytes(round(min(c / a, 1.0) * 255) for c in (r, g, b))
            out.append(round(a * 255))
    return bytes(out)


def png(width: int, height: int, rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"sRGB", b"\0"),  # perceptual rendering intent
            chunk(b"IDAT", zlib.compress(rows, 9)),
            chunk(b"IEND", b""),
        )
    )


def write(name: str, layers: Sequence[Layer], width: int, height: int, box: Box) -> None:
    path = BRAND_DIR / name
    path.write_bytes(png(width, height, render(layers, width, height, box)))
    print(f"wrote {path.relative_to(BRAND_DIR.parents[2])} ({width}×{height})")


def pad(box: Box, margin: float) -> Box:
    return (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)


def main() -> None:
    BRAND_DIR.mkdir(parents=True, exist_ok=True)
    mark = mark_layers()
    mark_box = content_box(mark)
    side = max(mark_box[2] - mark_box[0], mark_box[3] - mark_box[1])
    for name, size in (("icon.png", 256), ("icon@2x.png", 512)):
        write(name, mark, size, size, pad(mark_box, side / size))  # a pixel of air

    # Logo: the mark, then the wordmark with its x-height centred on the
    # mark's middle; 128 pixels high, like the brands repository wants.
    height = mark_box[3] - mark_box[1]
    x_height = 0.38 * height
    text = wordmark_layers(x_height, mark_box[2] + 0.16 * height, mark_box[1] + 0.69 * height)
    logo = mark + text
    logo_box = content_box(logo)
    box = pad(logo_box, (logo_box[3] - logo_box[1]) / 128)  # a pixel of air
    width = math.ceil(128 * (box[2] - box[0]) / (box[3] - box[1]))
    for name, scale in (("logo.png", 1), ("logo@2x.png", 2)):
        write(name, logo, width * scale, 128 * scale, box)


if __name__ == "__main__":
    main()
