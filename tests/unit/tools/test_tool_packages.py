"""demo/, bench/ and soak/ sit outside the services: `crm demo` and `crm bench` find every
chapter and benchmark through the registry's lists, and no worker imports any of them."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from services import registry

pytestmark = pytest.mark.unit

TOOL_PACKAGES = ("demo", "bench", "soak", "tests")


def test_every_demo_chapter_has_a_run_coroutine() -> None:
    chapters = registry.demo_chapters()
    assert [title for title, _ in chapters] == list(registry.DEMO_CHAPTERS)
    for title, module in chapters:
        assert inspect.iscoroutinefunction(module.run), title


def test_every_bench_module_adds_benchmarks_under_new_names() -> None:
    from bench.harness import BENCHMARKS, all_benchmarks

    names = list(BENCHMARKS)
    for module in registry.bench_modules():
        assert module.BENCHMARKS, module.__name__
        names += list(module.BENCHMARKS)
    assert len(names) == len(set(names)), names
    assert list(all_benchmarks()) == names


def test_no_worker_imports_demo_bench_soak_or_tests() -> None:
    # A fresh interpreter: this test session has imported all of them already.
    workers = [f"services.{name}.worker" for name in registry.SERVICES]
    probe = (
        "import importlib, sys\n"
        f"for name in {workers!r}:\n"
        "    importlib.import_module(name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(done.stdout.split())
    assert "services" in loaded
    assert not loaded & set(TOOL_PACKAGES), sorted(loaded & set(TOOL_PACKAGES))
