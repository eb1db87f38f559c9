"""realnets: real training of neural networks with every batch-size algorithm of the papers (PyTorch).

Command line: ``realnets --help``. Never imports ``theory`` or ``sim``.
"""

__version__ = "0.1.0"
