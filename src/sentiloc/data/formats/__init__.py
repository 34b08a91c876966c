"""One parser per on-disk schema, shared by the loaders, ``check-data`` and the evaluators.

A parser never raises for bad content: it returns what it could read and a list of
:class:`~sentiloc.data.formats.activitynet.FormatProblem`, so the loader can stop at the first
problem, ``check-data`` can report all of them, and both say the same thing.
"""
