"""kgrec's hybrid ranker: R-GCN, neighbour, text-bridge and text-profile scores, blended.

`parts` has the scorers, `blend` the validation-chosen weights, `ranker` puts them together.
"""
