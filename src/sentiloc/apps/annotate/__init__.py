"""``sentiloc annotate``: collect point labels (one click per sentiment segment) in the browser.

:mod:`.store` keeps the label file (every change on disk before it is acknowledged),
:mod:`.session` checks requests against the videos and classes, :mod:`.suggest` turns a
checkpoint's CAS into suggested clicks and an uncertainty order, :mod:`.server` is the web app
(Starlette + uvicorn, the ``annotate`` extra) and ``static/`` its page, :mod:`.agreement`
compares annotators. The user guide is docs/annotate.md.
"""
