"""Track vectors -> lists: nearest tracks, journeys, continuation, the DJ session, and the
audio / Track2Vec blend (creativity)."""
