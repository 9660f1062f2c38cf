"""pipelines/media/images.py on real bytes: bombs refused from the header, renditions from one decode."""
from __future__ import annotations

import io
import pickle
import time

from PIL import Image

from bench.thumbnails import photo, photo_exif, photo_jpeg
from pipelines.media.filetypes import MediaRefused
from pipelines.media.images import ImageInfo, image_info, make_renditions
from tests.pipelines.media.samples import assert_no_gps, encode_image, png_header, raises_refusal


def test_png_header_bomb_refused_without_decoding():
    header = png_header(20000, 20000)                  # 400 megapixels announced, then nothing
    assert len(header) < 80
    start = time.perf_counter()
    with raises_refusal("too_many_pixels"):
        image_info(header)
    with raises_refusal("too_many_pixels"):
        make_renditions(header)                      # a decode of the truncated data would be corrupt_file
    assert time.perf_counter() - start < 0.5


def test_our_pixel_budget_not_only_pillows():
    """81 MP is under Pillow's own bomb check (89 MP warns, 179 MP raises): our 50 MP rule refuses it."""
    header = png_header(9000, 9000)
    with raises_refusal("too_many_pixels"):
        image_info(header)
    assert image_info(header, max_pixels=100_000_000).width == 9000
    assert image_info(png_header(4000, 3000)) == ImageInfo("PNG", 4000, 3000, 1, False)


def test_frames_count_in_the_budget():
    frames = [Image.new("RGB", (100, 100), (i * 25, 0, 255 - i * 25)) for i in range(10)]
    gif = encode_image(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    info = image_info(io.BytesIO(gif))
    assert (info.format, info.frames, info.animated) == ("GIF", 10, True)
    with raises_refusal("too_many_pixels"):
        image_info(gif, max_pixels=50_000)           # 100 x 100 x 10 = 100,000
    assert image_info(encode_image(frames[0], "GIF"), max_pixels=50_000).frames == 1


def test_only_allowed_formats_are_opened(tmp_path):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    for other in (eps, encode_image(Image.new("RGB", (4, 4)), "BMP"), encode_image(Image.new("RGB", (4, 4)), "TIFF"), b"<svg/>"):
        with raises_refusal("corrupt_file"):
            image_info(other)
    path = tmp_path / "x.png"
    path.write_bytes(encode_image(Image.new("RGB", (7, 5)), "PNG"))
    assert image_info(str(path)).width == 7           # a path works too


def test_truncated_image_is_corrupt():
    data = photo_jpeg((640, 480), orientation=1)
    with raises_refusal("corrupt_file"):
        make_renditions(data[: len(data) // 2])


def test_renditions_oriented_sized_and_clean(phone_jpeg):
    result = make_renditions(phone_jpeg)
    assert result.dimensions == (1500, 2000)              # orientation 6: stored landscape, shown portrait
    assert result.exif == {"camera": "Canon EOS R6", "takenAt": "2024-05-01T12:34:56", "orientation": 6}
    small, large = result.variants["small"], result.variants["large"]
    assert (small.width, small.height) == (240, 320)
    assert (large.width, large.height) == (960, 1280)
    for v in (small, large):
        assert v.mime_type == "image/webp" and v.size == len(v.data)
        with Image.open(io.BytesIO(v.data)) as im:
            assert im.format == "WEBP" and im.size == (v.width, v.height)
            assert im.height > im.width                  # portrait
            assert max(im.size) <= {"small": 320, "large": 1280}[("small" if v is small else "large")]
            assert not im.getexif() and "icc_profile" not in im.info
        assert_no_gps(v.data)


def test_jpeg_is_decoded_once_at_the_scale_the_large_rendition_needs(monkeypatch):
    from PIL import JpegImagePlugin

    calls = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = real(self, mode, size)
        calls.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    data = encode_image(Image.new("RGB", (3000, 2000), (90, 120, 200)), "JPEG", exif=photo_exif(6))
    result = make_renditions(data)
    # shown 2000x3000 -> large 853x1280, i.e. 1280x853 as stored: 1/2 scale (1500x1000) still covers it
    assert calls == [((1280, 853), (1500, 1000))]
    assert (result.variants["large"].width, result.variants["large"].height) == (853, 1280)


def test_orientation_turns_the_right_way():
    """A picture whose top half is red, stored rotated as a camera held upright would store it."""
    upright = Image.new("RGB", (300, 400), "blue")
    upright.paste((255, 0, 0), (0, 0, 300, 200))
    stored = upright.transpose(Image.Transpose.ROTATE_90)          # what orientation 6 undoes
    data = encode_image(stored, "JPEG", quality=95, exif=photo_exif(6))
    small = make_renditions(data, fmt="jpeg").variants["small"]
    with Image.open(io.BytesIO(small.data)) as im:
        assert im.format == "JPEG" and im.size == (240, 320)
        top, bottom = im.getpixel((120, 40)), im.getpixel((120, 280))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200


def test_small_images_are_never_upscaled():
    data = encode_image(photo((200, 100)), "PNG")
    result = make_renditions(data)
    assert {n: (v.width, v.height) for n, v in result.variants.items()} == {"small": (200, 100), "large": (200, 100)}


def test_alpha_kept_in_webp_flattened_in_jpeg():
    im = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    im.paste((0, 128, 0, 255), (100, 100, 300, 300))
    data = encode_image(im, "PNG")
    with Image.open(io.BytesIO(make_renditions(data).variants["small"].data)) as webp:
        assert webp.mode == "RGBA" and webp.getpixel((5, 5))[3] == 0
    with Image.open(io.BytesIO(make_renditions(data, fmt="jpeg").variants["small"].data)) as jpeg:
        assert jpeg.mode == "RGB" and jpeg.getpixel((5, 5)) == (255, 255, 255)


def test_animated_gif_gives_a_still_of_the_first_frame():
    frames = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 0, 255))]
    gif = encode_image(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    small = make_renditions(gif).variants["small"]
    with Image.open(io.BytesIO(small.data)) as im:
        assert getattr(im, "n_frames", 1) == 1
        r, g, b = im.convert("RGB").getpixel((10, 10))
    assert r > 200 and b < 60


def test_embedded_icc_profile_never_reaches_a_rendition():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    data = encode_image(Image.new("RGB", (50, 50), (200, 30, 30)), "JPEG", icc_profile=srgb.tobytes())
    with Image.open(io.BytesIO(make_renditions(data).variants["small"].data)) as im:
        assert "icc_profile" not in im.info


def test_results_cross_a_process_boundary(phone_jpeg):
    result = make_renditions(phone_jpeg)
    assert pickle.loads(pickle.dumps(result)) == result
    err = pickle.loads(pickle.dumps(MediaRefused("corrupt_file", "broken")))
    assert (err.code, err.message) == ("corrupt_file", "broken")
