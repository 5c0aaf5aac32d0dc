"""The project stands on its own: nothing outside tests/ cites a folder of the machine it was
written on, or the team's shared folder, which a user of the project does not have."""

import re
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".html",
    ".txt",
    ".toml",
    ".yml",
    ".yaml",
    ".cfg",
    ".ini",
    ".sh",
    ".js",
    ".css",
    ".json",
    ".example",
}
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:work|home|root|tmp)/|\.\./shared\b")


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode == 0:
        return [PROJECT_ROOT / name for name in listed.stdout.splitlines()]
    return [p for p in PROJECT_ROOT.rglob("*") if ".venv" not in p.parts and "var" not in p.parts]


def test_no_file_outside_tests_cites_a_machine_path_or_the_shared_folder():
    offenders = []
    for path in tracked_files():
        relative = path.relative_to(PROJECT_ROOT)
        if relative.parts[0] == "tests" or not path.is_file():
            continue
        if path.suffix not in TEXT_SUFFIXES and path.name not in {
            "Makefile",
            "Procfile",
            "Procfile.single",
            "run",
        }:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if MACHINE_PATH.search(line) or str(PROJECT_ROOT.parent) + "/" in line:
                offenders.append(f"{relative}:{number}: {line.strip()}")

    assert offenders == []
