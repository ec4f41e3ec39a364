"""Business rules the action server (and later the scheduler and console) call.

Each function is one unit of work on the profile store: it takes a session, reads
and changes rows, and returns a plain view. Committing is the caller's job
(``with session_factory.begin() as session:``), so a failure leaves nothing half-done.
"""
