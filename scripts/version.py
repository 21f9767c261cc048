"""One version source: pyproject.toml's `version`; the chart's `version`/`appVersion` follow it.

    python3 scripts/version.py                  print the package version
    python3 scripts/version.py check-tag v1.2.3 exit 1 unless the tag is "v" + that version
    python3 scripts/version.py sync-chart       write it into Chart.yaml's version fields
    python3 scripts/version.py image OWNER      print ghcr.io/<owner>/downward-webhook
    python3 scripts/version.py check-image OWNER
                                                exit 1 unless that is the chart's default
                                                image.repository (values.yaml)

The chart defaults its image tag to `.Chart.AppVersion`, so the image tag follows as well.
Used by .github/workflows/release.yml; tests/unit/test_packaging.py checks that they agree.
Standard library only (it runs before any install).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

__all__ = [
    "ROOT",
    "chart_image_repository",
    "check_image",
    "check_tag",
    "image_name",
    "main",
    "package_version",
    "sync_chart",
]

ROOT = Path(__file__).resolve().parents[1]
CHART_YAML = Path("charts", "downward-webhook", "Chart.yaml")
VALUES_YAML = CHART_YAML.with_name("values.yaml")
# `repository:` under the top-level `image:` mapping (indented lines and comments between).
REPOSITORY = re.compile(
    r"^image:[ \t]*\n(?:[ \t]+.*\n|[ \t]*\n)*?[ \t]+repository:[ \t]*(\S+)", re.M
)
FIELDS = re.compile(r'^(version|appVersion):[ \t]*"?[^"\n#]*"?[ \t]*$', re.MULTILINE)


def package_version(root: Path = ROOT) -> str:
    """The `[project] version` of pyproject.toml."""
    with (root / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def check_tag(tag: str, root: Path = ROOT) -> str | None:
    """None when `tag` names the package version, else a one-line reason."""
    expected = "v" + package_version(root)
    if tag == expected:
        return None
    return f"tag {tag!r} does not match pyproject.toml version (expected {expected!r})"


def sync_chart(root: Path = ROOT) -> bool:
    """Set Chart.yaml's version and appVersion to the package version; True if it changed."""
    path = root / CHART_YAML
    text = path.read_text()
    version = package_version(root)

    def field(match: re.Match[str]) -> str:
        value = f'"{version}"' if match.group(1) == "appVersion" else version
        return f"{match.group(1)}: {value}"

    updated, count = FIELDS.subn(field, text)
    if count != 2:
        raise SystemExit(f"version: {path} has {count} top-level version fields, expected 2")
    path.write_text(updated)
    return updated != text


def image_name(owner: str) -> str:
    """The image the release workflow pushes for a repository owner (ghcr.io wants lowercase)."""
    return f"ghcr.io/{owner.lower()}/downward-webhook"


def chart_image_repository(root: Path = ROOT) -> str:
    """The chart's default `image.repository` (values.yaml)."""
    match = REPOSITORY.search((root / VALUES_YAML).read_text())
    if match is None:
        raise SystemExit(f"version: no image.repository in {VALUES_YAML}")
    return match.group(1).strip("'\"")


def check_image(owner: str, root: Path = ROOT) -> str | None:
    """None when the chart's default image is the one pushed for `owner`, else the reason."""
    pushed, default = image_name(owner), chart_image_repository(root)
    if pushed == default:
        return None
    return f"{VALUES_YAML} image.repository is {default!r}, the release pushes {pushed!r}"


def main(argv: list[str]) -> int:
    if not argv:
        print(package_version())
        return 0
    if argv[0] == "check-tag" and len(argv) == 2:
        problem = check_tag(argv[1])
        print(problem or f"tag {argv[1]} matches the package version", file=sys.stderr)
        return 1 if problem else 0
    if argv[0] == "image" and len(argv) == 2:
        print(image_name(argv[1]))
        return 0
    if argv[0] == "check-image" and len(argv) == 2:
        problem = check_image(argv[1])
        print(problem or f"the chart's default image is {image_name(argv[1])}", file=sys.stderr)
        return 1 if problem else 0
    if argv == ["sync-chart"]:
        changed = sync_chart()
        print(f"{CHART_YAML}: {'updated' if changed else 'already'} {package_version()}")
        return 0
    print(
        "usage: version.py [check-tag TAG | sync-chart | image OWNER | check-image OWNER]",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
