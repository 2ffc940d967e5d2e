"""chainrule: the command line and training, which are not code generation.

* :mod:`chainrule.cli` — ``chainrule derive|generate|regenerate|train`` (also ``python -m derive``,
  ``python -m codegen``), exit codes and the one-line errors;
* :mod:`chainrule.train` — ``chainrule train``: check, train, then document, and write the run;
  :mod:`chainrule.rundir` its run folder (built beside RUN_DIR, renamed into place),
  :mod:`chainrule.interrupts` Ctrl-C and SIGTERM phase by phase, :mod:`chainrule.outputs` the
  history, the plot and run.json, :mod:`chainrule.checks` the data against the spec;
* :mod:`chainrule.data` — the one data reader (``.npz``, ``.csv``) for training and for the
  derivation's worked example; :mod:`chainrule.csvfile` reads a CSV line by line, within bounds;
  :mod:`chainrule.errors` its one-line error.
"""
