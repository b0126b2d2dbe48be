"""Outbound calling campaigns: contact lists, calling windows, attempts, compliance, results.

``policy`` says when a contact may be called and how often; ``schedule`` turns that into
instants (pure functions, property-tested); ``store`` keeps campaigns and contacts;
``claims`` hands contacts to dialers without ever giving one attempt to two of them;
``dialer`` runs the calls through a ``Carrier``.
"""
