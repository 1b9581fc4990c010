"""Hearing: audio -> excerpts -> mel slices -> slice vectors.

Decoding (:mod:`.audio`), where to listen (:mod:`.excerpts`), the mel front end
(:mod:`.frontend`, :mod:`.melspec`), the networks (:mod:`.networks`), model bundles and what
runs them (:mod:`.manifest`, :mod:`.shipped`, :mod:`.weights`, :mod:`.bundle` with its runners
:mod:`.runtime` (LiteRT) and :mod:`.keras_runner`, :mod:`.head_bundle`), and the embedder that
drives them (:mod:`.embed`). Nothing here imports the stages above it (vectors, lists, learn,
mix).
"""
