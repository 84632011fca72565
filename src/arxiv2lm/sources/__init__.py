"""Where papers come from: arXiv mirror layout, metadata and source chunks.

`manifest` reads and writes `arXiv_src_manifest.xml` and maps ids to chunk member names;
`sample` (with `sample_tex` and `sample_text`) writes a deterministic synthetic mirror;
`metadata`, `archives` and `chunks` read the Kaggle snapshot and the chunks.
"""
