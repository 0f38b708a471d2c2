"""Seeing what a network does: digits and probabilities as text (``ascii``) and pictures as PNG files
(``plots``, which loads matplotlib only when imported)."""
