"""Business services over the database: plain functions taking a Session.

No Flask or Rasa here. Entry points (web routes, Rasa actions, CLI) call these; each service
flushes what it writes and leaves the commit to the caller's unit of work
(:func:`bot.db.session_scope`), so one request or one action is one transaction.
"""
