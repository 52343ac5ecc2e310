"""Facts about the machine that change how fast (not what) avvp computes."""

from __future__ import annotations

import platform
from pathlib import Path

# /proc/cpuinfo flags of CPUs that multiply bf16 matrices natively (x86: AVX512-BF16 or AMX;
# Arm: the BF16 extension). Without them torch emulates bf16 and mixed precision is slower.
_BF16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU reports native bf16 matrix instructions.

    Reads the Linux ``/proc/cpuinfo`` flags; elsewhere (or when it cannot be read) the answer is
    False, which only costs speed: callers fall back to float32.
    """
    if platform.system() != "Linux":
        return False
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return bool(_BF16_FLAGS & set(value.split()))
    return False
