"""The HTML page of `dvc plots show/diff`, with Vega inlined so it renders offline.

DVC's default page loads vega, vega-lite and vega-embed from a CDN, so on a cluster without
internet it shows nothing. `bin/setup` runs this module once: it takes the three pinned npm
packages with `npm pack` (checked against the integrity hashes below), and writes a page
template with their minified builds inlined into `.dvc/plots/page.html`, which `.dvc/config`
(`plots.html_template`) makes the default. The page has no `{scripts}` placeholder, so DVC
adds no CDN tags.

    python -m arxiv2lm.reports.page .dvc/plots/page.html

>>> "{plot_divs}" in page_html({"vega": "var x = 1;"})
True
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from arxiv2lm.io import atomic_path

# name -> (version, file in the package, npm's sha512 integrity of the tarball). vega-lite 5
# (not 6) because DVC's templates declare the vega-lite v5 schema; vega-embed 6 expects
# vega 5 and vega-lite as globals.
PACKAGES = {
    "vega": (
        "5.33.1",
        "package/build/vega.min.js",
        "1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
    ),
    "vega-lite": (
        "5.23.0",
        "package/build/vega-lite.min.js",
        "l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
    ),
    "vega-embed": (
        "6.29.0",
        "package/build/vega-embed.min.js",
        "PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
    ),
}
# DVC fills these by plain text replacement, and an HTML parser ends a script at `</script`:
# a build containing any of them would break the page, so it is refused, not patched.
FORBIDDEN = ["</script", "<!--", "{scripts}", "{plot_divs}", "{refresh_tag}"]

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{refresh_tag}
<title>arxiv2lm: runs compared</title>
<style>
body {{ font-family: sans-serif; margin: 1em 2em; }}
body > div {{ display: inline-block; vertical-align: top; margin: 0 2em 2em 0; }}
</style>
{inline}
</head>
<body>
<h1>arxiv2lm: runs compared</h1>
<p>Colours are revisions or experiments (<code>dvc plots diff</code>); the page loads nothing
from the network.</p>
{{plot_divs}}
</body>
</html>
"""


class PageError(ValueError):
    """A Vega build that cannot be inlined, or a package that does not match its hash."""


def page_html(scripts: dict[str, str]) -> str:
    """The page template with each script inlined, in order (vega before vega-lite before embed)."""
    parts = []
    for name, js in scripts.items():
        bad = [s for s in FORBIDDEN if s in js]
        if bad:
            raise PageError(f"{name}: the build contains {bad}, which would break the page")
        parts.append(f"<script>/* {name} */\n{js}\n</script>")
    # {refresh_tag} and {plot_divs} stay for DVC to fill; doubled braces are format() escapes
    return PAGE.replace("{refresh_tag}", "{{refresh_tag}}").format(inline="\n".join(parts))


def page_html_cdn() -> str:
    """The same page loading the pinned builds from jsDelivr: the fallback where npm is not
    available (it renders only with internet access, as DVC's own page does)."""
    tags = [
        f'<script src="https://cdn.jsdelivr.net/npm/{name}@{version}"></script>'
        for name, (version, _, _) in PACKAGES.items()
    ]
    html = PAGE.replace("{refresh_tag}", "{{refresh_tag}}").format(inline="\n".join(tags))
    return html.replace(
        "the page loads nothing\nfrom the network", "this page loads Vega\nfrom a CDN"
    )


def npm_integrity(data: bytes) -> str:
    """npm's `sha512-<base64>` integrity, without the prefix."""
    return base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch_scripts(work: Path) -> dict[str, str]:
    """The pinned builds, via `npm pack` into `work`, each tarball checked against its hash."""
    scripts = {}
    for name, (version, member, integrity) in PACKAGES.items():
        spec = f"{name}@{version}"
        done = subprocess.run(
            ["npm", "pack", spec, "--silent"], cwd=work, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise PageError(f"npm pack {spec} failed: {done.stderr.strip()[-500:]}")
        tgz = work / done.stdout.strip().splitlines()[-1]
        got = npm_integrity(tgz.read_bytes())
        if got != integrity:
            raise PageError(f"{spec}: integrity sha512-{got}, expected sha512-{integrity}")
        with tarfile.open(tgz) as tar:
            fh = tar.extractfile(member)
            if fh is None:
                raise PageError(f"{spec}: {member} is not a file in the package")
            scripts[name] = fh.read().decode("utf-8")
    return scripts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="the page template to write (.dvc/plots/page.html)")
    ap.add_argument(
        "--fallback-cdn",
        action="store_true",
        help="where npm fails, write a page that loads Vega from a CDN instead of stopping",
    )
    args = ap.parse_args(argv)
    inlined = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            html = page_html(fetch_scripts(Path(tmp)))
    except (PageError, OSError) as err:
        if not args.fallback_cdn:
            sys.exit(f"page: {err}")
        print(f"page: {err}; writing a page that loads Vega from a CDN (needs internet)")
        html, inlined = page_html_cdn(), False
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp_out:
        tmp_out.write_text(html, encoding="utf-8")
    how = "vega inlined" if inlined else "vega from a CDN"
    print(f"page: {args.out} ({len(html) / 1e6:.1f} MB, {how})")


if __name__ == "__main__":
    main()
