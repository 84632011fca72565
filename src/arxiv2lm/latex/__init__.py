"""LaTeX project -> plain text with verbatim math (the `extract` stage's core).

Entry point: `arxiv2lm.latex.project.extract_paper(paths, contents, params)`.
"""
