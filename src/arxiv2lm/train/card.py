"""The model card of an export: architecture, tokens seen, data lineage, evaluation, loading.

>>> print(model_card({"n_params": 1_300_000, "steps": 300}))           # doctest: +SKIP
---
library_name: transformers
...
>>> lineage(Path("."))["git_rev"]                                       # doctest: +SKIP
'3f2c...'
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

# dvc.lock outs whose hashes identify the training data (keys of `lineage`'s answer).
LINEAGE_OUTS = {"shard_md5": "data/shard", "tokenizer_md5": "data/tokenizer"}
NOT_RECORDED = "not recorded"


def lineage(repo_root: Path, outs: dict[str, str] = LINEAGE_OUTS) -> dict[str, Any]:
    """The git revision (and whether the tree is dirty) and dvc.lock's md5 of the data outs.

    Whatever cannot be read is None: outside git, without git, no dvc.lock, an out not run.
    >>> lineage(Path("."))                                                  # doctest: +SKIP
    {'git_rev': '3f2c...', 'git_dirty': False, 'shard_md5': '8d1e...dir', 'tokenizer_md5': ...}
    """
    rev = _git(repo_root, "rev-parse", "HEAD")
    status = _git(repo_root, "status", "--porcelain") if rev is not None else None
    found = _dvc_lock_md5(repo_root / "dvc.lock", set(outs.values()))
    return {
        "git_rev": rev,
        "git_dirty": None if status is None else status != "",
        **{key: found.get(path) for key, path in outs.items()},
    }


def _git(repo_root: Path, *args: str) -> str | None:
    """`git <args>`'s stripped stdout in `repo_root`; None if git fails or is missing."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=repo_root, capture_output=True, text=True, check=False
        )
    except OSError:  # no git binary, or repo_root is not a folder
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _dvc_lock_md5(lock: Path, paths: set[str]) -> dict[str, str]:
    """{out path: md5} for those of `paths` that some stage of `lock` records with an md5."""
    if not lock.is_file():
        return {}
    try:
        doc = yaml.safe_load(lock.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{lock} is not valid YAML: {err}") from err
    stages = doc.get("stages") if isinstance(doc, dict) else None
    found: dict[str, str] = {}
    for stage in (stages or {}).values():
        for out in (stage or {}).get("outs") or []:
            if isinstance(out, dict) and out.get("path") in paths and "md5" in out:
                found[out["path"]] = str(out["md5"])
    return found


def model_card(info: dict[str, Any]) -> str:
    """A Hugging Face README.md: YAML front matter, then architecture, training, lineage,
    evaluation and how to load. A missing section reads "not recorded".

    `info` keys, all optional: `name`, `license`, `repo_id`, `model` (ModelConfig fields),
    `n_params`, `steps`, `train_tokens`, `lineage` (see `lineage`), `pretrain_params`,
    `yield` (reports/yield.json), `evaluation` (reports/evaluate.json, nested as it likes).
    >>> "| layers | 4 |" in model_card({"model": {"n_layer": 4}})
    True
    """
    name = str(info.get("name") or "arxiv2lm")
    front = {
        "library_name": "transformers",
        "license": str(info.get("license") or "other"),
        "pipeline_tag": "text-generation",
        "tags": ["arxiv2lm", "llama", "causal-lm", "arxiv", "latex", "scientific-text"],
    }
    model = _dict(info.get("model"))
    n_params = info.get("n_params")
    arch = {
        "layers": model.get("n_layer"),
        "d_model": model.get("d_model"),
        "attention heads": model.get("n_head"),
        "d_ff (SwiGLU)": model.get("d_ff"),
        "context (tokens)": model.get("seq_len"),
        "vocabulary": model.get("vocab_size"),
        "parameters (embedding tied)": n_params,
    }
    training = {"tokens seen": info.get("train_tokens"), "optimizer steps": info.get("steps")}
    lin = _dict(info.get("lineage"))
    dirty = lin.get("git_dirty")
    source = {
        "git revision": lin.get("git_rev"),
        "uncommitted changes": None if dirty is None else ("yes" if dirty else "no"),
        "`data/shard` md5 (dvc.lock)": lin.get("shard_md5"),
        "`data/tokenizer` md5 (dvc.lock)": lin.get("tokenizer_md5"),
    }
    parts = [
        f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n",
        f"# {name}\n",
        "A Llama-architecture decoder trained from scratch on arXiv LaTeX sources by the "
        "arxiv2lm DVC pipeline (RMSNorm, rotary positions, SwiGLU, no biases, tied "
        "embeddings), with a SentencePiece BPE tokenizer that keeps LaTeX commands whole.\n",
        "## Architecture\n",
        _section(arch),
        "## Training\n",
        _section(training),
        "### Pretrain parameters\n",
        _yaml_block(info.get("pretrain_params")),
        "## Data lineage\n",
        _section(source),
        "### Yield funnel\n",
        _funnel(info.get("yield")),
        "## Evaluation\n",
        _tables(info.get("evaluation")),
        "## How to load\n",
        _HOW_TO_LOAD.format(repo=info.get("repo_id") or "path/to/this/folder"),
    ]
    return "\n".join(parts)


_HOW_TO_LOAD = """```python
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{repo}")
model = AutoModelForCausalLM.from_pretrained("{repo}")
ids = tokenizer("We prove that", return_tensors="pt").input_ids
out = model.generate(ids, max_new_tokens=40, do_sample=False)
print(tokenizer.decode(out[0], skip_special_tokens=True))
```

The tokenizer adds no BOS or EOS and no leading space, so its ids are those the model was
trained on (documents are separated by EOS). `tokenizer.model` is the same SentencePiece
model for `sentencepiece` users.
"""


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _cell(value: object) -> str:
    """A table cell: ints with thousands separators, floats to 4 significant digits."""
    if value is None:
        text = NOT_RECORDED
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    elif isinstance(value, list | tuple | dict):
        text = json.dumps(value, sort_keys=True)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _section(rows: dict[str, Any]) -> str:
    """A two-column table, or "not recorded" when no row has a value."""
    if all(v is None for v in rows.values()):
        return f"{NOT_RECORDED}\n"
    lines = ["| | |", "| --- | --- |"] + [f"| {k} | {_cell(v)} |" for k, v in rows.items()]
    return "\n".join(lines) + "\n"


_FUNNEL_LABELS = {
    "papers_in": "papers in",
    "papers_out": "papers out",
    "tokens_in": "tokens in (before filter; partly estimated)",
    "tokens_out": "tokens out",
    "overall_yield": "overall yield (papers out / in)",
    "yield_tokens": "overall yield (tokens out / in)",
}


def _funnel(value: object) -> str:
    """reports/yield.json: the totals, then each stage's yield in the order given."""
    funnel = _dict(value)
    if not funnel:
        return f"{NOT_RECORDED}\n"
    totals = {  # the token totals only when the report counted them
        label: funnel.get(k)
        for k, label in _FUNNEL_LABELS.items()
        if k in funnel or k not in ("tokens_in", "yield_tokens")
    }
    totals |= {  # scalars only: per-reason and per-stage breakdowns live in reports/
        k: v
        for k, v in funnel.items()
        if k not in _FUNNEL_LABELS and k != "yield" and not isinstance(v, dict | list)
    }
    stages = _dict(funnel.get("yield"))
    out = _section(totals)
    if stages:
        lines = ["| stage | yield |", "| --- | --- |"]
        out += "\n" + "\n".join(lines + [f"| {k} | {_cell(v)} |" for k, v in stages.items()])
        out += "\n"
    return out


def _yaml_block(value: object) -> str:
    if not value:
        return f"{NOT_RECORDED}\n"
    return f"```yaml\n{yaml.safe_dump(value, sort_keys=False, allow_unicode=True)}```\n"


def _scalar_rows(value: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, its non-dict values) for `value` and every dict nested in it, depth first."""
    flat = {k: v for k, v in value.items() if not isinstance(v, dict)}
    rows = [(path, flat)] if flat else []
    for key, sub in value.items():
        if isinstance(sub, dict):
            rows += _scalar_rows(sub, f"{path} / {key}" if path else str(key))
    return rows


def _tables(value: object) -> str:
    """Any nested dict of metrics as tables: rows with the same keys share one table.

    {"loss": 1.1, "domains": {"cs": {"loss": 0.9}}} -> one table, rows "overall" and
    "domains / cs"; a group of one row is a two-column table.
    """
    if not isinstance(value, dict) or not value:
        return f"{NOT_RECORDED}\n" if value in (None, {}, "") else f"`{_cell(value)}`\n"
    groups: dict[frozenset[str], list[tuple[str, dict[str, Any]]]] = {}
    for path, flat in _scalar_rows(value, ""):
        groups.setdefault(frozenset(flat), []).append((path or "overall", flat))
    out = []
    for rows in groups.values():
        keys = list(rows[0][1])  # columns in the first row's order
        if len(rows) == 1:
            label, flat = rows[0]
            out.append(f"**{label}**\n\n" + _section(flat))
            continue
        lines = [f"| | {' | '.join(keys)} |", "| --- |" + " --- |" * len(keys)]
        lines += [f"| {p} | {' | '.join(_cell(f[k]) for k in keys)} |" for p, f in rows]
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)
