"""Learning from what people play: Track2Vec sentences and training, the trained head and
Speccy (trained ears), and the one-off Speccy conversion."""
