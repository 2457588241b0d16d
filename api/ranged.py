"""A stored object seen through ranged GETs: the upload checks read the parts they look at, never all of it.

A direct upload may be 512 MiB; reading it whole into a uWSGI process to
check it would let a few clients exhaust the API's memory. ``RangedObject``
looks enough like ``bytes`` for the inspectors (``len``, indexing, slicing,
``find``): slices come from cached blocks fetched with ranged GETs, and
``find`` streams through the object in large chunks it does not keep. Every
read names the version that was checked (``If-Match`` on its ETag), so the
object cannot change under the checks.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import overload

from jobs.bucket import Bucket

BLOCK = 256 * 1024
MAX_BLOCKS = 32  # 8 MiB of blocks kept at most
STREAM_CHUNK = 4 * 1024 * 1024  # find()'s reads: few requests, bounded memory


class RangedObject:
    def __init__(self, bucket: Bucket, key: str, size: int, etag: str) -> None:
        self.bucket = bucket
        self.key = key
        self.size = size
        self.etag = etag
        self.fetched = 0  # bytes read from S3 so far
        self._blocks: OrderedDict[int, bytes] = OrderedDict()

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> bytes: ...
    def __getitem__(self, index: int | slice) -> int | bytes:
        if isinstance(index, int):
            position = index + self.size if index < 0 else index
            if not 0 <= position < self.size:
                raise IndexError("index out of range")
            return self._slice(position, position + 1)[0]
        start, stop, step = index.indices(self.size)
        if step != 1:
            raise ValueError("only contiguous slices")
        return self._slice(start, max(start, stop))

    def _slice(self, start: int, stop: int) -> bytes:
        parts = []
        for number in range(start // BLOCK, (stop - 1) // BLOCK + 1 if stop > start else start // BLOCK):
            block = self._block(number)
            parts.append(block[max(0, start - number * BLOCK) : stop - number * BLOCK])
        return b"".join(parts)

    def _block(self, number: int) -> bytes:
        block = self._blocks.get(number)
        if block is None:
            block = self._read(number * BLOCK, BLOCK)
            self._blocks[number] = block
            if len(self._blocks) > MAX_BLOCKS:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(number)
        return block

    def _read(self, start: int, length: int) -> bytes:
        data = self.bucket.read_range(self.key, start, length, if_match=self.etag)
        self.fetched += len(data)
        return data

    def find(self, needle: bytes, start: int = 0) -> int:
        """The first offset of ``needle`` at or after ``start``, or -1; reads on from ``start`` in chunks."""
        position = max(0, start)
        carry = b""
        while position < self.size:
            chunk = carry + self._read(position, STREAM_CHUNK)
            found = chunk.find(needle)
            if found >= 0:
                return position - len(carry) + found
            carry = chunk[-(len(needle) - 1) :] if len(needle) > 1 else b""
            position += STREAM_CHUNK
        return -1


class RangedFile(io.RawIOBase):
    """A seekable file over a ``RangedObject``, for decoders that want one (Pillow)."""

    def __init__(self, source: RangedObject) -> None:
        self.source = source
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: len(self.source)}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.source[self.position : self.position + len(buffer)]
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)
