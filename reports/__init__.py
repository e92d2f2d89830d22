"""What the dashboard sends without being opened: the stand-up digest by e-mail or chat (``reports.digest``).

It reads through the same data context and the same stand-up functions as the app (``ui.data``,
``ui.standup``), so every number a digest states is the number the stand-up page shows that recipient.
"""
