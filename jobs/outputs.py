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
    """``format`` (jpeg, png16 or tiff16; unset: jpeg) and ``quality`` (1..100, JPEG only; unset: 92).

    Form fields are text and JSON members any type: a quality may be 80 or "80", nothing else.
    """
    if name is None or name == "":
        name = "jpeg"
    if not isinstance(name, str) or name not in FORMATS:
        raise InvalidOutput(f"format must be one of {', '.join(FORMATS)}, not {str(name)[:32]!r}")
    if quality is None or quality == "":
        return OutputFormat(name)
    if name != "jpeg":
        raise InvalidOutput("quality applies to JPEG only")
    text = str(quality)  # JSON's true is "True" here, 80.0 is "80.0": both refused
    if not (text.isascii() and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= 100):
        raise InvalidOutput(f"quality must be a whole number from 1 to 100, not {text[:32]!r}")
    return OutputFormat("jpeg", int(text))
