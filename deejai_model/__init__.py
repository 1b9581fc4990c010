"""deejai_model: a beets-free library that listens to music and turns it into vectors.

Importing this package is cheap: TensorFlow, librosa and PyAV are imported only by the
functions that need them.
"""

__version__ = "0.1.0"
