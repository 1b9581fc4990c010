"""Learning from what people play: Track2Vec sentences and training, then training the head and
Speccy (trained ears) and the one-off Speccy conversion. Running a trained bundle is
:mod:`deejai_model.ears`' job."""
