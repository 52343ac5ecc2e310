"""One module per ``avvp`` sub-command; see :mod:`avvp.cli`."""
