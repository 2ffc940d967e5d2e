"""A layer kind made in the tests, to show that a new kind is one module per stage and one registry line:
``gain`` multiplies its input by a fixed number c (A = c·A⁽ˡ⁻¹⁾), with ``gain.py`` (spec, derivation, proof,
numbers), ``gain_story.py`` (its part of the document) and ``gain_code.py`` (its generated lines)."""
