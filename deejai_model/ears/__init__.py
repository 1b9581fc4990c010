"""Hearing: audio -> excerpts -> mel slices -> slice vectors.

Decoding (:mod:`.audio`), the mel front end and excerpt planning (:mod:`.frontend`,
:mod:`.melspec`), the networks (:mod:`.networks`), model bundles and their runtimes
(:mod:`.bundle`, :mod:`.runtime`, :mod:`.shipped`), and the embedder that drives them
(:mod:`.embed`). Nothing here imports the stages above it (vectors, lists, learn, mix).
"""
