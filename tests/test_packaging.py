"""An install ships what the source tree holds. pyproject.toml lists the packages rather than
finding them (the top-level ``schemas/`` installs as ``conformance.schemas``, a name no search
of the tree gives), so a package added to the tree and not to the list would be missing from
``pip install .`` while every self-test, run on an editable install, still passed."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path, PurePath

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
PACKAGES: list[str] = SETUPTOOLS["packages"]


def _directory(package: str) -> Path:
    mapped = SETUPTOOLS.get("package-dir", {})
    return ROOT / mapped[package] if package in mapped else ROOT.joinpath(*package.split("."))


def _matches(path: PurePath, glob: str) -> bool:
    """As setuptools reads a package-data glob: ``*`` stays within one directory."""
    parts = PurePath(glob).parts
    return len(parts) == len(path.parts) and all(fnmatch(p, g) for p, g in zip(path.parts, parts, strict=True))


def test_every_package_of_the_source_tree_is_listed():
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for top in ("conformance", "reference_server") for init in (ROOT / top).rglob("__init__.py")}
    found |= set(SETUPTOOLS.get("package-dir", {}))
    assert sorted(PACKAGES) == sorted(found)
    for package in PACKAGES:
        assert (_directory(package) / "__init__.py").is_file(), package


def test_every_data_file_of_a_package_is_installed_with_it():
    directories = {package: _directory(package) for package in PACKAGES}
    data = SETUPTOOLS["package-data"]
    left_out = []
    for package, directory in directories.items():
        others = [d for d in directories.values() if d != directory and d.is_relative_to(directory)]
        for path in directory.rglob("*"):
            if (not path.is_file() or "__pycache__" in path.parts or any(path.is_relative_to(d) for d in others)
                    or (path.suffix == ".py" and path.parent == directory)):  # a module of the package
                continue
            relative = path.relative_to(directory)
            if not any(_matches(relative, glob) for glob in data.get(package, [])):
                left_out.append(f"{package}: {relative}")
    assert left_out == []


def test_the_schemas_are_package_data():
    schemas = _directory("conformance.schemas")
    assert schemas == ROOT / "schemas"
    assert (schemas / "report.schema.json").is_file() and (schemas / "simple" / "profile.toml").is_file()
