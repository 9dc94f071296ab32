"""Render the app store images (icon.png 128x128, logo.png 250x100).

Usage: python scripts/make_app_brand.py addon/sunstream

Drawn from the integration's brand geometry in scripts/make_brand.py, so
the app and the integration share one mark.
"""

from __future__ import annotations

from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).parent))
import make_brand as mb

out = Path(sys.argv[1])
mark = mb.mark_layers()
mark_box = mb.content_box(mark)
side = max(mark_box[2] - mark_box[0], mark_box[3] - mark_box[1])
size = 128
(out / "icon.png").write_bytes(
    mb.png(size, size, mb.render(mark, size, size, mb.pad(mark_box, side / size)))
)

W, H = 250, 100
height = mark_box[3] - mark_box[1]

# Stacked: mark on top, wordmark centred below.
_, end = mb.word("sun", 0.0)
_, end2 = mb.word("stream", end + mb.TRACKING)
xh = 0.30 * height
word_w = end2 * xh
cx = (mark_box[0] + mark_box[2]) / 2
x0 = cx - word_w / 2
baseline = mark_box[3] + 0.12 * height + xh
text2 = mb.wordmark_layers(xh, x0, baseline)
logo2 = mark + text2
box2 = mb.content_box(logo2)
(out / "logo.png").write_bytes(
    mb.png(W, H, mb.render(logo2, W, H, mb.pad(box2, (box2[3] - box2[1]) / H * 3)))
)
