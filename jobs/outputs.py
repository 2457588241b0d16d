"""The result's format, chosen on submit: JPEG (with a quality), 16-bit PNG or 16-bit TIFF."""

from __future__ import annotations

from dataclasses import dataclass

# format -> (result file extension, content type)
FORMATS = {"jpeg": ("jpg", "image/jpeg"), "png16": ("png", "image/png"), "tiff16": ("tif", "image/tiff")}
DEFAULT_QUALITY = 92


class InvalidOutput(ValueError):
    """A format or JPEG quality this service does not write."""


@dataclass(frozen=True)
class OutputFormat:
    name: str = "jpeg"
    quality: int = DEFAULT_QUALITY  # JPEG only

    @property
    def ext(self) -> str:
        return FORMATS[self.name][0]

    @property
    def content_type(self) -> str:
        return FORMATS[self.name][1]


JPEG = OutputFormat()


def parse_output(name: object, quality: object) -> OutputFormat:
    """``format`` (jpeg, png16 or tiff16; unset: jpeg) and ``quality`` (1..100, JPEG only; unset: 92)."""
    name = name or "jpeg"
    if name not in FORMATS:
        raise InvalidOutput(f"format must be one of {', '.join(FORMATS)}, not {str(name)[:32]!r}")
    if quality in (None, ""):
        return OutputFormat(str(name))
    if name != "jpeg":
        raise InvalidOutput("quality applies to JPEG only")
    text = str(quality)
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise InvalidOutput(f"quality must be a whole number from 1 to 100, not {text[:32]!r}")
    return OutputFormat("jpeg", int(text))
