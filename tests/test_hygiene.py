"""Project hygiene: nothing a user receives cites the developers' private notes.

Every text file under qtraj/, runs/, tests/, docs/, benchmarks/ and README.md is scanned for
references to internal documents (the physics, design and style notes, the shared folder) and
for numbered-paper labels; papers must be cited by authors and year instead.  The patterns are
assembled from pieces so that this file does not match them itself (it is scanned too).
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCAN_DIRS = ("qtraj", "runs", "tests", "docs", "benchmarks")
SCAN_FILES = ("README.md",)
SKIP_DIRS = {"__pycache__", "build", "results"}  # plus hidden and *.egg-info directories

_MD = "." + "md"
FORBIDDEN = [
    ("physics notes", re.compile(re.escape("PHYSICS" + _MD))),
    ("design notes", re.compile(re.escape("DESIGN" + _MD))),
    ("style notes", re.compile(re.escape("STYLE" + _MD))),
    ("shared folder", re.compile(re.escape("../" + "shared") + "|" + re.escape("shared" + "/"))),
    ("numbered paper", re.compile("paper" + r"\s+00\d", re.IGNORECASE)),
    ("issue number", re.compile("issue" + r"\s+#\d", re.IGNORECASE)),
]

# Files allowed to carry such citations (none; test_allowlist_is_not_stale keeps it honest).
ALLOWLIST: set[str] = set()


def _text_files():
    """Relative POSIX path -> text of every scanned text file (binary files are skipped)."""
    paths = [ROOT / f for f in SCAN_FILES if (ROOT / f).is_file()]
    for d in SCAN_DIRS:
        base = ROOT / d
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*")):
            rel_parts = p.relative_to(ROOT).parts[:-1]
            if any(part in SKIP_DIRS or part.startswith(".") or part.endswith(".egg-info")
                   for part in rel_parts):
                continue
            if p.is_file():
                paths.append(p)
    out = {}
    for p in paths:
        raw = p.read_bytes()
        if b"\0" in raw:
            continue
        try:
            out[p.relative_to(ROOT).as_posix()] = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return out


def _offences(text):
    """(line number, label, line) for every forbidden reference in text."""
    hits = []
    for n, line in enumerate(text.splitlines(), 1):
        for label, pat in FORBIDDEN:
            if pat.search(line):
                hits.append((n, label, line.strip()))
    return hits


def test_scan_finds_the_project_files():
    files = _text_files()
    assert "README.md" in files
    assert "tests/test_hygiene.py" in files
    assert any(f.startswith("qtraj/") and f.endswith(".py") for f in files)
    assert any(f.startswith("runs/") for f in files)


def test_patterns_catch_citations():
    bad = ["see " + "PHYSICS" + _MD + " section 2", "(" + "paper" + " 003, Eq. 5)",
           "Paper" + " 001 Fig. 2", "../" + "shared" + "/" + "DESIGN" + _MD, "issue" + " #7"]
    for line in bad:
        assert _offences(line), line
    good = ["Çakmak, Manatuly & Müstecaplıoğlu (2017), Eq. (5)", "shared memory", "paper reading",
            "Manzano et al. (2019) Eq. 4"]
    for line in good:
        assert not _offences(line), line


def test_no_private_citations():
    report = []
    for path, text in _text_files().items():
        if path in ALLOWLIST:
            continue
        report += [f"{path}:{n}: [{label}] {line}" for n, label, line in _offences(text)]
    assert not report, ("cite papers by authors and year and state the physics in the text; "
                        "found:\n" + "\n".join(report))


def test_allowlist_is_not_stale():
    files = _text_files()
    stale = sorted(p for p in ALLOWLIST if p not in files or not _offences(files[p]))
    assert not stale, f"clean or missing files still allowlisted, remove them: {stale}"
