"""Edge models (recapture, ovd), training, evaluation and the reference scorer. Built in issue 3."""
