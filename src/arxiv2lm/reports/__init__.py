"""Reports: the yield funnel (papers, bytes, tokens), loss curves, the study table."""
