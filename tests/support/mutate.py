"""`make mutate`: mutation testing of the pure cores, each module against its own tests (mutmut).

For each module, mutmut changes its code one small way at a time (an
operator, a constant, a condition) and runs that module's tests; a change
the tests still pass ("survived") is a bug they would let through. Prints
each module's score and its survivors (``mutmut show NAME`` after a run
shows the change). Minutes on 2 cores, so not part of ``make test``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
PURE_CORES = {
    "pool/rule.py": ["tests/pool/test_rule.py"],
    "pool/note.py": ["tests/pool/test_note.py", "tests/pool/test_view.py"],
    "api/eta.py": ["tests/api/test_settings_eta.py"],
    "jobs/status.py": ["tests/jobs"],
    "jobs/ids.py": ["tests/jobs"],
    "jobs/message.py": ["tests/jobs"],
    "worker/exposure.py": ["tests/worker/test_exposure.py", "tests/training/test_exposure.py"],
}
CONFIG = ROOT / "setup.cfg"  # mutmut reads [mutmut] there when pyproject.toml has no [tool.mutmut]


def mutate(module: str, tests: list[str]) -> Counter[str]:
    """Run mutmut on ``module`` against ``tests``; how many mutants ended each way, and the survivors printed."""
    selection = "".join(f"\n    {test}" for test in tests)
    package = module.split("/")[0]
    CONFIG.write_text(
        f"[mutmut]\nsource_paths = {package}\nonly_mutate = {module}\npytest_add_cli_args_test_selection ={selection}\n"
    )
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    subprocess.run([MUTMUT, "run"], cwd=ROOT, capture_output=True, check=True)
    listed = subprocess.run([MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True)
    outcomes: Counter[str] = Counter()
    for line in listed.stdout.splitlines():
        name, _, outcome = line.strip().rpartition(": ")
        if name:
            outcomes[outcome] += 1
            if outcome != "killed":
                print(f"    {outcome}: {name}")
    return outcomes


def main() -> int:
    try:
        for module, tests in PURE_CORES.items():
            outcomes = mutate(module, tests)
            total = sum(outcomes.values())
            score = outcomes["killed"] / total if total else 1.0
            print(f"{module}: {score:.0%} of {total} mutants killed", flush=True)
    finally:
        CONFIG.unlink(missing_ok=True)
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
