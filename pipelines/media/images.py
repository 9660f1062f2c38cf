"""Images: format, size and frames from the header alone (decompression bombs refused before anything
decodes), and every rendition of ``RENDITIONS`` from one decode, oriented, in sRGB, without metadata."""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import IO

from PIL import Image, ImageCms, UnidentifiedImageError

from pipelines.media.filetypes import MediaRefused, Source, open_binary
from pipelines.media.renditions import ENCODINGS, RENDITIONS, Encoding, Rendition


IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")   # the only Pillow plugins ever asked to open a file
MAX_PIXELS = 50_000_000                          # width x height x frames, from the header
# Pillow's BICUBIC (a true antialiasing convolution, Image.thumbnail's default): after draft() the big step
# is under 2x, where it is 47 dB PSNR from a full-decode LANCZOS and 30 % cheaper than LANCZOS.
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 2.0                               # integer reduce() first while the remaining ratio stays >= 2


@dataclass(frozen=True)
class ImageInfo:
    format: str            # Pillow's name: JPEG, PNG, GIF, WEBP
    width: int             # as stored (before EXIF orientation)
    height: int
    frames: int
    animated: bool


@dataclass(frozen=True)
class Variant:
    data: bytes
    width: int
    height: int
    mime_type: str
    size: int


@dataclass(frozen=True)
class Renditions:
    variants: dict[str, Variant]
    dimensions: tuple[int, int]                     # the original's (width, height) after orientation
    exif: dict = field(default_factory=dict)        # camera?, takenAt?, orientation?


def _open_image(f: IO[bytes]) -> Image.Image:
    try:
        return Image.open(f, formats=list(IMAGE_FORMATS))
    except Image.DecompressionBombError as e:   # Pillow's own ceiling (2 x MAX_IMAGE_PIXELS) is above ours
        raise MediaRefused("too_many_pixels", str(e)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as e:
        raise MediaRefused("corrupt_file", f"not a readable JPEG, PNG, GIF or WebP image ({e})") from None


def _header_info(im: Image.Image, max_pixels: int) -> ImageInfo:
    """Frames are counted without decoding (GIF: block walk; APNG: acTL; WebP: the demuxer)."""
    width, height = im.size
    try:
        frames = int(getattr(im, "n_frames", 1) or 1)
    except (OSError, EOFError, ValueError, struct.error) as e:
        raise MediaRefused("corrupt_file", f"unreadable frames ({e})") from None
    if width * height * frames > max_pixels:
        raise MediaRefused("too_many_pixels",
                           f"{width}x{height} x {frames} frame(s) is over {max_pixels:,} pixels")
    return ImageInfo(im.format, width, height, frames, frames > 1)


def image_info(src: Source, *, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Format, size and frames from the header alone; too_many_pixels when width x height x frames > max_pixels."""
    with open_binary(src) as f:
        with _open_image(f) as im:
            return _header_info(im, max_pixels)


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
TAG_ORIENTATION, _TAG_MAKE, _TAG_MODEL, _TAG_DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_IFD_EXIF, _TAG_DATETIME_ORIGINAL, _TAG_OFFSET_ORIGINAL = 0x8769, 0x9003, 0x9011
_SRGB = ImageCms.createProfile("sRGB")


def _clean(value, limit: int = 64) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = "".join(ch for ch in value if ch.isprintable()).strip()
    return value[:limit] or None


def _exif_facts(exif: Image.Exif) -> dict:
    """camera ("Make Model"), takenAt (ISO 8601, with the offset when the camera wrote one), orientation."""
    facts: dict = {}
    make, model = _clean(exif.get(_TAG_MAKE)), _clean(exif.get(_TAG_MODEL))
    if model and make and not model.lower().startswith(make.lower()):
        model = f"{make} {model}"
    if model or make:
        facts["camera"] = model or make
    try:
        sub = exif.get_ifd(_IFD_EXIF)
    except Exception:   # a broken sub-IFD is not worth refusing the picture
        sub = {}
    taken = _clean(sub.get(_TAG_DATETIME_ORIGINAL) or exif.get(_TAG_DATETIME), 32)
    if taken and len(taken) >= 19 and taken[4] == ":" and taken[7] == ":":
        iso = f"{taken[0:4]}-{taken[5:7]}-{taken[8:10]}T{taken[11:19]}"
        offset = _clean(sub.get(_TAG_OFFSET_ORIGINAL), 8)
        facts["takenAt"] = iso + (offset if offset and len(offset) == 6 else "")
    orientation = exif.get(TAG_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        facts["orientation"] = orientation
    return facts


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    if max(w, h) <= max_side:
        return w, h
    scale = max_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Pixels in sRGB, mode RGB or RGBA: an embedded non-sRGB profile (Display P3, Adobe RGB, CMYK) is applied."""
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if "srgb" not in (ImageCms.getProfileDescription(src) or "").lower() and im.mode in ("RGB", "CMYK", "L"):
                return ImageCms.profileToProfile(im, src, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass   # a broken profile: fall back to the plain conversion below
    if im.mode in ("RGB", "RGBA"):
        return im
    return im.convert("RGBA" if im.has_transparency_data else "RGB")


def _resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    if im.size == size:
        return im
    if im.mode == "RGBA":   # resize premultiplied, or transparent pixels bleed dark fringes
        return im.convert("RGBa").resize(size, RESAMPLE, reducing_gap=REDUCING_GAP).convert("RGBA")
    return im.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)


def _encode(im: Image.Image, enc: Encoding) -> bytes:
    if enc.pil_format == "JPEG" and im.mode == "RGBA":
        flat = Image.new("RGB", im.size, (255, 255, 255))
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    im.info = {}   # nothing of the source's info (exif, icc_profile, xmp, comment) may reach the encoder
    out = io.BytesIO()
    im.save(out, enc.pil_format, **dict(enc.params))
    return out.getvalue()


def make_renditions(src: Source, *, fmt: str = "webp", renditions: tuple[Rendition, ...] = RENDITIONS,
                    max_pixels: int = MAX_PIXELS) -> Renditions:
    """Every rendition from ONE decode: oriented, sRGB, without any metadata, never upscaled.

    JPEG is decoded with draft() at the smallest 1/2, 1/4, 1/8 scale that still covers the largest
    rendition; the largest is resized from that, each smaller one from the one above it. Animated GIF/WebP
    give a still of the first frame.
    """
    enc = ENCODINGS[fmt]
    with open_binary(src) as f:
        with _open_image(f) as im:
            _header_info(im, max_pixels)
            try:
                exif = im.getexif()
            except Exception:
                exif = Image.Exif()
            facts = _exif_facts(exif)
            orientation = facts.get("orientation", 1)
            turned = orientation in (5, 6, 7, 8)
            stored = im.size
            shown = (stored[1], stored[0]) if turned else stored
            wanted = sorted(renditions, key=lambda r: r.max_side, reverse=True)
            targets = {r.name: _fit(shown, r.max_side) for r in wanted}
            biggest = targets[wanted[0].name]
            if im.format == "JPEG":
                im.draft("RGB" if im.mode == "RGB" else None, (biggest[1], biggest[0]) if turned else biggest)
            icc = im.info.get("icc_profile")
            try:
                im.load()
                frame = im if im.mode in ("RGB", "RGBA", "L", "CMYK") else im.convert(
                    "RGBA" if im.has_transparency_data else "RGB")
                return _render(frame, orientation, icc, wanted, targets, enc, renditions, shown, facts)
            except (OSError, SyntaxError, ValueError, struct.error, EOFError) as e:
                raise MediaRefused("corrupt_file", f"the image could not be decoded ({e})") from None


def _render(frame, orientation, icc, wanted, targets, enc, renditions, shown, facts) -> Renditions:
    """The largest from the decoded frame (resized as stored, then turned: fewer pixels to turn), then
    each smaller one from the one above it, already oriented and in sRGB."""
    variants: dict[str, Variant] = {}
    current = None
    for r in wanted:
        w, h = targets[r.name]
        if current is None:
            current = _resize(frame, (h, w) if orientation in (5, 6, 7, 8) else (w, h))
            if orientation in _TRANSPOSE:
                current = current.transpose(_TRANSPOSE[orientation])
            current = _to_srgb(current, icc)
        else:
            current = _resize(current, (w, h))
        data = _encode(current, enc)
        variants[r.name] = Variant(data, w, h, enc.mime_type, len(data))
    return Renditions({r.name: variants[r.name] for r in renditions}, shown, facts)
