"""cpu_has_native_bf16 reads the CPU flags (x86 'flags', Arm 'Features')."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from avvp.hardware import cpu_has_native_bf16

linux_only = pytest.mark.skipif(platform.system() != "Linux", reason="reads /proc/cpuinfo flags")


@linux_only
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile", True),
        ("flags\t\t: fpu sse2 avx2 avx512f amx_bf16", True),
        ("Features\t: fp asimd bf16 i8mm", True),
        ("flags\t\t: fpu sse2 avx2 avx512f avx512bw", False),
        ("flags\t\t: fpu sse2 avx2 avx512_bf16x", False),
    ],
)
def test_flags(tmp_path: Path, line: str, expected: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test cpu\n{line}\n\nprocessor\t: 1\n")
    assert cpu_has_native_bf16(cpuinfo) is expected


def test_unreadable_file_means_no(tmp_path: Path) -> None:
    assert cpu_has_native_bf16(tmp_path / "missing") is False
