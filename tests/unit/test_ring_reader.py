"""The ring-buffer callback as libbpf calls it through ctypes (compiled with the hot path)."""

from __future__ import annotations

import ctypes

from beholder.sensors.reader import RingReader


class _Program:
    """Stands for a loaded program: the reader only asks it for the ring buffer."""

    def open_ring_buffer(self, on_record: object) -> None:
        return None


def test_the_callback_takes_the_null_context_ctypes_passes_as_none() -> None:
    reader = RingReader(_Program(), limit=2)  # type: ignore[arg-type]
    record = ctypes.create_string_buffer(b"abc", 3)
    address = ctypes.addressof(record)
    assert reader._on_record(None, address, 3) == 0
    assert reader._on_record(None, address, 3) == -1  # the limit stops the consumer here
    assert reader.take() == [b"abc", b"abc"]
