"""threadlint's rule pack: one rule per module, port profiles under profiles/.

Installed as the ``threadlint_rules`` package.
"""
