"""Turn an uploaded file into a square JPEG thumbnail, or refuse it."""

from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError


class InvalidImageError(ValueError):
    """The upload is not an image Pillow can read."""


def make_thumbnail(data: bytes, size: int) -> bytes:
    """Crop to the centre square, resize to `size` pixels and encode as JPEG (blocking)."""
    try:
        with Image.open(BytesIO(data)) as probe:
            probe.verify()  # cheap integrity check; the image must be reopened afterwards
        with Image.open(BytesIO(data)) as image:
            upright = ImageOps.exif_transpose(image)
            thumbnail = ImageOps.fit(upright.convert("RGB"), (size, size), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise InvalidImageError(str(exc)) from exc
    output = BytesIO()
    thumbnail.save(output, format="JPEG", quality=85, optimize=True)
    return output.getvalue()
