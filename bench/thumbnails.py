"""Thumbnail speed: `make_renditions` (small + large WebP) against a naive full decode + LANCZOS, in one run.

The issue's case: a 12-megapixel JPEG (4000x3000, quality 90, photo-like detail), EXIF orientation 6 and
GPS tags. Each mode runs in its own fresh subprocess: CPU time per image is `time.process_time` around
one call (median of --runs, after one warm-up call); peak RSS is the kernel's high-water mark (VmHWM in
/proc/self/status, what a worker's memory limit sees) minus the RSS after the imports and after the JPEG's
bytes were read (the worker holds those bytes anyway); the mark is reset there (clear_refs 5).
`getrusage().ru_maxrss` is not used: Linux carries it over from the parent across exec, so a child of a
process that made the 12-megapixel test image starts with the parent's peak. tracemalloc would miss
Pillow's pixel buffers (malloc'ed in C, not by Python's allocator).
Targets: <= 300 ms CPU per image, <= 120 MB peak RSS, >= 2.5x faster than naive.

Usage: .venv/bin/python bench/thumbnails.py [--runs 10]
Prints a table; writes bench/results/thumbnails.json (git-ignored).
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from PIL import Image, ImageChops, ImageFilter, ImageOps  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "thumbnails.json"
TARGET_MS, TARGET_RSS_MB, TARGET_SPEEDUP = 300, 120, 2.5
GPS = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0), 5: 0, 6: 35.0}


def photo_exif(orientation: int = 6) -> bytes:
    """EXIF as a phone writes it: camera, date taken, orientation, GPS position."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS R6"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 12:34:56"
    exif.get_ifd(0x8825).update(GPS)
    return exif.tobytes()


def photo(size: tuple[int, int] = (4000, 3000)) -> Image.Image:
    """Photo-like content: a fractal edge, smooth gradients and sensor-like noise on every channel (a flat
    colour would decode and encode unrealistically fast)."""
    w, h = size
    fractal = Image.effect_mandelbrot((max(1, w // 4), max(1, h // 4)), (-2.2, -1.2, 1.0, 1.2), 200).resize(size)
    noise = Image.effect_noise(size, 40)
    red = ImageChops.add(fractal, noise, 2.0, -32)
    green = ImageChops.add(Image.linear_gradient("L").resize(size), noise, 2.0, 0)
    blue = ImageChops.blend(Image.radial_gradient("L").resize(size), noise, 0.5)
    return Image.merge("RGB", (red, green, blue)).filter(ImageFilter.GaussianBlur(0.8))


def photo_jpeg(size: tuple[int, int] = (4000, 3000), orientation: int = 6, quality: int = 90) -> bytes:
    out = io.BytesIO()
    photo(size).save(out, "JPEG", quality=quality, exif=photo_exif(orientation))
    return out.getvalue()


def naive_renditions(data: bytes) -> dict[str, bytes]:
    """What one writes first: full decode, exif_transpose, LANCZOS from the full image for each size."""
    from pipelines.media.renditions import ENCODINGS, RENDITIONS

    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    out = {}
    for r in RENDITIONS:
        scale = min(1.0, r.max_side / max(im.size))
        thumb = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        thumb.save(buf, "WEBP", **dict(ENCODINGS["webp"].params))
        out[r.name] = buf.getvalue()
    return out


def fast_renditions(data: bytes) -> dict[str, bytes]:
    from pipelines.media.images import make_renditions

    return {name: v.data for name, v in make_renditions(data, fmt="webp").variants.items()}


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(mode: str, path: str, runs: int) -> dict:
    """One mode in this (fresh) process: CPU per call and the RSS it added."""
    import pipelines.media.images  # noqa: F401  (imports count in the baseline, not in the peak)

    fn = {"make_renditions": fast_renditions, "naive": naive_renditions}[mode]
    data = Path(path).read_bytes()
    baseline_kb = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")   # VmHWM := VmRSS
    sizes = {name: len(b) for name, b in fn(data).items()}  # warm-up (first-call costs: codec tables)
    cpu_ms = []
    for _ in range(runs):
        start = time.process_time()
        fn(data)
        cpu_ms.append((time.process_time() - start) * 1000)
    peak_kb = _status_kb("VmHWM")
    return {"mode": mode, "runs": runs, "cpu_ms_median": round(statistics.median(cpu_ms), 1),
            "cpu_ms_min": round(min(cpu_ms), 1), "cpu_ms_max": round(max(cpu_ms), 1),
            "peak_rss_mb": round((peak_kb - baseline_kb) / 1024, 1),
            "baseline_rss_mb": round(baseline_kb / 1024, 1), "output_bytes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--child", choices=["make_renditions", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.file, args.runs)))
        return

    from bench.load.report import code_version, machine_info

    data = photo_jpeg()
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(data)
        f.flush()
        rows = [json.loads(subprocess.run(
            [sys.executable, __file__, "--child", mode, "--file", f.name, "--runs", str(args.runs)],
            check=True, capture_output=True, text=True).stdout) for mode in ("make_renditions", "naive")]
    fast, naive = rows
    speedup = round(naive["cpu_ms_median"] / fast["cpu_ms_median"], 2)
    checks = {"cpu_ms": fast["cpu_ms_median"] <= TARGET_MS, "rss_mb": fast["peak_rss_mb"] <= TARGET_RSS_MB,
              "speedup": speedup >= TARGET_SPEEDUP}
    print(f"input: 4000x3000 JPEG q90, EXIF orientation 6 + GPS, {len(data) / 1e6:.2f} MB; "
          f"small + large WebP {dict(__import__('pipelines.media.renditions', fromlist=['x']).ENCODINGS['webp'].params)}")
    print(f"{'mode':<16}{'CPU ms (median)':>16}{'min':>8}{'max':>8}{'peak RSS MB':>13}  output bytes")
    for r in rows:
        print(f"{r['mode']:<16}{r['cpu_ms_median']:>16}{r['cpu_ms_min']:>8}{r['cpu_ms_max']:>8}"
              f"{r['peak_rss_mb']:>13}  {r['output_bytes']}")
    print(f"speed-up {speedup}x (target >= {TARGET_SPEEDUP}); CPU target <= {TARGET_MS} ms; "
          f"RSS target <= {TARGET_RSS_MB} MB; " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in checks.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"input_bytes": len(data), "rows": rows, "speedup": speedup, "checks": checks,
                                   "machine": machine_info(), "code": code_version()}, indent=2))


if __name__ == "__main__":
    main()
