"""chainrule: the command line and training, which are not code generation.

* :mod:`chainrule.cli` — ``chainrule derive|generate|regenerate|train`` (also ``python -m derive``,
  ``python -m codegen``), exit codes and the one-line errors;
* :mod:`chainrule.train` — ``chainrule train``: generate the module, train it on data, write the run;
* :mod:`chainrule.data` — the one data reader (``.npz``, ``.csv``) for training and for the
  derivation's worked example.
"""
