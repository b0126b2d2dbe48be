"""How the agents' tracker weighs the SLM against the embedding prior."""

from collections.abc import Sequence

from dialog.tracker import CombinedTracker, Prediction, TrackRequest


class Fixed:
    """A tracker that gives every request the same scores."""

    def __init__(self, **scores: float) -> None:
        self.scores = scores

    def predict(self, requests: Sequence[TrackRequest]) -> list[Prediction]:
        best = max(self.scores, key=self.scores.__getitem__)
        return [Prediction(best, self.scores[best], self.scores) for _ in requests]


TRACKER = CombinedTracker(Fixed(yes=0.7, no=0.3), Fixed(yes=0.25, no=0.75))


def _label(context: str | None) -> str:
    request = TrackRequest("Would you like paperless statements?", "I'll keep paper",
                           ("yes", "no"), context)
    return TRACKER.predict([request])[0].label


def test_at_the_opening_the_prior_weighs_as_much_as_the_slm():
    assert _label("identify") == "no"
    assert _label(None) == "no"


def test_at_a_flows_question_the_slm_weighs_more():
    assert _label("welcome_call.paperless") == "yes"
