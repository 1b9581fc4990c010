"""Slice vectors -> one unit track vector: row norms, the library projection, MP3ToVec
(mean, mean+std, TF-IDF) and the one :class:`~.pooling.Pooler` that chains them."""
