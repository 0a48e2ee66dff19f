"""How a card is presented to the camera: the genuine card, a screen replay, a print."""
